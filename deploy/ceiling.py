"""`make reopen`: invoke the stack's CeilingFunction with {"action": "reopen"}, so the throttles it restores are the
ones the template states (CEILING_CONFIG), not a second copy here."""

from __future__ import annotations

import json
from typing import Any


class CeilingError(RuntimeError):
    """CeilingFunction did not reopen the API."""


def reopen_api(lambda_client: Any, function_name: str) -> str:
    """Invoke the function synchronously; its outcome ("open"), or CeilingError with what it said."""
    response = lambda_client.invoke(FunctionName=function_name, Payload=json.dumps({"action": "reopen"}).encode())
    body = response["Payload"].read()
    try:
        answer = json.loads(body or b"null")
    except ValueError:
        answer = None
    if response.get("FunctionError") or not isinstance(answer, dict) or answer.get("outcome") != "open":
        shown = answer.get("errorMessage", answer) if isinstance(answer, dict) else body[:200]
        raise CeilingError(
            f"{function_name} did not reopen the API ({shown!r}); its log group (CeilingFunctionLogGroup) says why"
        )
    return str(answer["outcome"])
