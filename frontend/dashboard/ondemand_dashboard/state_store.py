"""Read the state item straight from the state store (the DynamoDB table, or the local runtime's DynamoDB server).

For when the API is down, not deployed yet, or behind auth the developer does not have: the dashboard still shows
the state, its history and the cost. Actions (Start, Extend, Stop, predict) always go through the API. It reads with
the lifecycle's own store adapter and status shaping, so both sources answer the same JSON.
"""

from __future__ import annotations

from typing import Any

from ondemand_dashboard.api_client import ApiError


class _ReadOnlyPort:
    """Stands in for the ports a status read never touches; using one is a bug, so say so loudly."""

    def __getattr__(self, name: str) -> Any:
        raise ApiError(f"The dashboard only reads the state store; {name} must go through the API.", None, "read_only")


class StateStoreReader:
    """GET /status without the API: `status()` answers what the API's /status answers."""

    def __init__(self, table_name: str, endpoint_url: str | None, region: str) -> None:
        from ondemand.adapters.dynamodb import DynamoStateStore
        from ondemand.lifecycle import EndpointLifecycle
        from ondemand.settings import Settings
        from ondemand.wiring import Adapters

        self.table_name = table_name
        self.endpoint_url = endpoint_url
        settings = Settings.from_env()
        store = DynamoStateStore(table_name, endpoint_url, region, settings.history_limit)
        unused = _ReadOnlyPort()
        self._lifecycle = EndpointLifecycle(Adapters(store, unused, unused, unused), settings)  # type: ignore[arg-type]

    def status(self) -> dict[str, Any]:
        try:
            return self._lifecycle.status()
        except ApiError:
            raise
        except Exception as error:  # noqa: BLE001 - pynamodb and botocore raise many kinds; all mean "cannot read"
            where = f" at {self.endpoint_url}" if self.endpoint_url else ""
            raise ApiError(f"Cannot read the state table {self.table_name}{where}: {error}", None,
                           "state_store") from error
