"""The TextQueue port on SQS: one message per text (SendMessage), which the text sender function consumes.

The body carries the number (the sender must text it), so the queue keeps messages briefly (MessageRetentionPeriod in
template.yaml) and encrypts them (SSE-SQS). An error names the operation and AWS's error code only: the message of
an AccessDenied names the role and the account."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ondemand.ports import OutgoingText, TextQueueError


class SqsTextQueue:
    def __init__(self, client: Any, queue_url: str) -> None:
        self.client = client
        self.queue_url = queue_url

    def enqueue(self, text: OutgoingText) -> None:
        try:
            self.client.send_message(QueueUrl=self.queue_url, MessageBody=text.to_json())
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "unknown")
            raise TextQueueError(f"SQS SendMessage failed ({code})") from None
        except BotoCoreError as exc:
            raise TextQueueError(f"SQS could not be reached ({type(exc).__name__})") from None
