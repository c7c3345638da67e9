"""Read the state item straight from the state store (the DynamoDB table, or the local runtime's DynamoDB server).

For when the API is down, not deployed yet, or behind auth the developer does not have: the dashboard still shows
the state, its history and the cost. Actions (Start, Extend, Stop, predict) always go through the API. It reads with
the lifecycle's own store adapter and `status_view`, so both sources answer the same JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ondemand.adapters.dynamodb import DynamoStateStore
from ondemand.status import StatusSettings, status_view

from ondemand_dashboard.api_client import ApiError


class StateStoreReader:
    """GET /status without the API: `status()` answers what the API's /status answers."""

    def __init__(
        self,
        table_name: str,
        endpoint_url: str | None,
        region: str,
        settings: StatusSettings,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.table_name = table_name
        self.endpoint_url = endpoint_url
        self.settings = settings
        self.now = now
        self._store = DynamoStateStore(table_name, endpoint_url, region)

    def status(self) -> dict[str, Any]:
        try:
            item = self._store.get()
        except Exception as error:  # pynamodb and botocore raise many kinds; all mean "cannot read"
            where = f" at {self.endpoint_url}" if self.endpoint_url else ""
            raise ApiError(
                f"Cannot read the state table {self.table_name}{where}: {error}", None, "state_store"
            ) from error
        return status_view(item, self.now(), self.settings)
