"""The text queue's consumer (SQS, batch items reported one by one): each message is one text, sent at most once
by `TextSender` (ondemand.lifecycle.texting). A text that should be tried again is reported as a batch item
failure, so SQS delivers it again after its visibility timeout; the sender drops it itself on the last attempt."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ondemand.bootstrap import Handler, LambdaEntryPoint, Service
from ondemand.lifecycle.commands import SendText
from ondemand.lifecycle.texting import TextRetry, masked
from ondemand.observability import logger, tracer
from ondemand.ports import OutgoingText


def make_handler(service: Service) -> Handler:
    """The text sender's Lambda handler on `service`."""

    @tracer.capture_lambda_handler
    def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        failures = []
        for record in event.get("Records", []):
            message_id = record.get("messageId", "")
            try:
                text = OutgoingText.from_json(record.get("body", ""))
            except ValueError:
                logger.error("dropped a queue message that is not a text", extra={"message_id": message_id})
                continue  # retrying cannot make it one
            attempt = int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))
            try:
                outcome = service.handle(SendText(text, attempt))
            except Exception as exc:  # the sender asks for another delivery (or the rate table failed)
                logger.warning(
                    "text not sent yet",
                    extra={
                        "key": text.key,
                        "phone": masked(text.phone),
                        "attempt": attempt,
                        "why": str(exc) if isinstance(exc, TextRetry) else type(exc).__name__,
                    },
                )
                failures.append({"itemIdentifier": message_id})
                continue
            logger.info("text", extra={"key": text.key, "phone": masked(text.phone), "outcome": outcome})
        return {"batchItemFailures": failures}

    return handle


# The sender creates no schedules (its settings need no SCHEDULER_ROLE_ARN).
handler = LambdaEntryPoint(make_handler, creates_schedules=False)
