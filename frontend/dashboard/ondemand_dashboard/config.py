"""The dashboard's one settings object, read from the environment once per process."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from ondemand.settings import declared

DEFAULT_API_URL = "http://127.0.0.1:8000"
DEFAULT_RUNTIME_FILE = Path(__file__).resolve().parents[3] / "var" / "local_runtime" / "runtime.json"
DEFAULT_INSTANCE_TYPE: str = declared("instance_type").deployed
DEFAULT_HOURLY_PRICE_USD = 0.7364
"""SageMaker real-time inference, ml.g4dn.xlarge, us-east-1, on demand. A setting, because prices change by region."""


def local_runtime_token(api_url: str, runtime_file: Path) -> str | None:
    """The local runtime's token from the file it writes (mode 0600) while it runs, when that runtime is the API this
    dashboard talks to: `make dashboard` beside `make demo` needs nothing copied. The URL is never taken from the
    file, so the token goes nowhere but the API already configured."""
    try:
        info = json.loads(runtime_file.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or str(info.get("base_url", "")).rstrip("/") != api_url:
        return None
    token = info.get("token")
    return token if isinstance(token, str) and token else None


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


@dataclass(frozen=True)
class DashboardConfig:
    api_url: str
    """ONDEMAND_API_URL: the API's base URL (the local runtime's gateway, or the API Gateway stage URL). Fixed for the
    dashboard's life: a viewer cannot point it elsewhere, so the admin key goes nowhere else."""
    admin_key: str | None
    """ONDEMAND_ADMIN_KEY: sent as `x-api-key` on POST /stop. Read here only, never shown or put in a browser
    widget; without it Stop is off."""
    instance_type: str
    """ONDEMAND_INSTANCE_TYPE: shown next to the price, so the price is read as the price of that instance."""
    hourly_price_usd: float
    """ONDEMAND_HOURLY_PRICE_USD: what one endpoint instance costs per hour."""
    request_timeout_seconds: float
    """ONDEMAND_API_TIMEOUT: seconds before an API call counts as failed (a /predict on a cold model is slow)."""
    local_token: str | None
    """ONDEMAND_LOCAL_TOKEN (the local runtime passes it when it starts the dashboard), else the token in the runtime's
    runtime.json (ONDEMAND_RUNTIME_FILE, default var/local_runtime/runtime.json) when its base URL is api_url. Sent as
    X-Local-Token; the local runtime wants it on everything but GET /status. None on AWS: no header."""
    state_table: str | None
    """ONDEMAND_STATE_TABLE: read the state from this DynamoDB table instead of GET /status (actions still use the
    API). DYNAMODB_ENDPOINT_URL points it at a local DynamoDB server; AWS_REGION picks the region."""
    dynamodb_endpoint_url: str | None
    region: str
    history_limit: int
    """HISTORY_LIMIT (the lifecycle's own setting): a history shorter than this is complete since the item's creation,
    so the time before its first transition is known to have cost nothing."""
    typical_provisioning_seconds: int
    notice_minutes: float
    instant_tier: str
    gpu_minutes_per_day: float
    """TYPICAL_PROVISIONING_SECONDS, NOTICE_MINUTES, INSTANT_TIER, GPU_MINUTES_PER_DAY (the lifecycle's own settings,
    read as the Lambda reads them, with their declared defaults): what `status_view` needs to answer, from the table,
    what the API's GET /status answers."""

    @classmethod
    def from_env(cls) -> DashboardConfig:
        api_url = (os.environ.get("ONDEMAND_API_URL", "").strip() or DEFAULT_API_URL).rstrip("/")
        runtime_file = Path(os.environ.get("ONDEMAND_RUNTIME_FILE", "").strip() or DEFAULT_RUNTIME_FILE)
        return cls(
            api_url=api_url,
            local_token=(
                os.environ.get("ONDEMAND_LOCAL_TOKEN", "").strip() or local_runtime_token(api_url, runtime_file)
            ),
            admin_key=os.environ.get("ONDEMAND_ADMIN_KEY", "").strip() or None,
            instance_type=os.environ.get("ONDEMAND_INSTANCE_TYPE", "").strip() or DEFAULT_INSTANCE_TYPE,
            hourly_price_usd=_float("ONDEMAND_HOURLY_PRICE_USD", DEFAULT_HOURLY_PRICE_USD),
            request_timeout_seconds=_float("ONDEMAND_API_TIMEOUT", 30.0),
            state_table=os.environ.get("ONDEMAND_STATE_TABLE", "").strip() or None,
            dynamodb_endpoint_url=os.environ.get("DYNAMODB_ENDPOINT_URL", "").strip() or None,
            history_limit=declared("history_limit").read(os.environ),
            typical_provisioning_seconds=declared("typical_provisioning_seconds").read(os.environ),
            notice_minutes=declared("notice_minutes").read(os.environ),
            instant_tier=declared("instant_tier").read(os.environ),
            gpu_minutes_per_day=declared("gpu_minutes_per_day").read(os.environ),
            region=(
                os.environ.get("AWS_REGION", "").strip()
                or os.environ.get("AWS_DEFAULT_REGION", "").strip()
                or "us-east-1"
            ),
        )
