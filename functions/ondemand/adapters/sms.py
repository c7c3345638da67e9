"""The Notifier port: Textbelt over HTTPS, SNS direct-to-phone SMS, or nothing (SMS_PROVIDER=none).

A provider that answers "no" is a SendResult with ok=False; a provider that cannot be reached is a NotifierError.
The lifecycle treats both as "this person was not texted" and carries on with the others.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ondemand.domain import NotifierError, SendResult

logger = logging.getLogger(__name__)

# Textbelt answers quotaRemaining with every send; below this the operator is warned in the log.
LOW_QUOTA = 5
# SNS errors that say nothing about the text itself: its throttle (botocore's SNS.Client.exceptions.ThrottledException,
# code "Throttled"; "ThrottlingException" in the SNS knowledge-center article on throttling) and its own failure
# (InternalError, HTTP 500). botocore's standard retries have already been spent when one reaches us.
RETRYABLE_SNS_CODES = frozenset({"Throttled", "ThrottledException", "ThrottlingException", "InternalError"})

HttpPost = Callable[[str, dict[str, str]], tuple[int, bytes]]


def post_form(url: str, fields: dict[str, str], timeout: float = 10.0) -> tuple[int, bytes]:
    """POST a urlencoded form; returns the status and body, HTTP errors included (Textbelt explains them in JSON)."""
    request = urllib.request.Request(url, data=urllib.parse.urlencode(fields).encode(), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class TextbeltNotifier:
    def __init__(self, key: Callable[[], str], url: str = "https://textbelt.com/text", post: HttpPost = post_form):
        self.key = key
        self.url = url
        self.post = post

    def send(self, phone: str, message: str) -> SendResult:
        try:
            status, body = self.post(self.url, {"phone": phone, "message": message, "key": self.key()})
        except (OSError, urllib.error.URLError) as exc:
            raise NotifierError(f"Textbelt could not be reached: {exc}") from exc
        if status >= 500 or status == 429:
            # Textbelt's own trouble or its throttle, not a verdict on this text: the text queue tries it again.
            raise NotifierError(f"Textbelt answered HTTP {status}")
        try:
            answer: dict[str, Any] = json.loads(body)
        except ValueError as exc:
            raise NotifierError(f"Textbelt answered HTTP {status} with something that is not JSON") from exc
        quota = answer.get("quotaRemaining")
        if isinstance(quota, int) and quota < LOW_QUOTA:
            logger.warning("Textbelt quota is low: %s texts left", quota)
        if answer.get("success") is True:
            return SendResult(ok=True, detail=f"textId={answer.get('textId')} quotaRemaining={quota}")
        reason = answer.get("error", "no reason given")
        return SendResult(ok=False, detail=f"Textbelt refused: {reason} (HTTP {status})")


class SnsNotifier:
    def __init__(self, client: Any) -> None:
        self.client = client

    def send(self, phone: str, message: str) -> SendResult:
        try:
            answer = self.client.publish(
                PhoneNumber=phone,
                Message=message,
                MessageAttributes={"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}},
            )
        except ClientError as exc:
            error = exc.response.get("Error", {})
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
            if status >= 500 or error.get("Code") in RETRYABLE_SNS_CODES:
                raise NotifierError(f"SNS failed: {error.get('Code')}") from exc  # the text queue tries it again
            return SendResult(ok=False, detail=f"SNS refused: {error.get('Code')}: {error.get('Message')}")
        except BotoCoreError as exc:
            raise NotifierError(f"SNS could not be reached: {exc}") from exc
        return SendResult(ok=True, detail=f"MessageId={answer['MessageId']}")


class DisabledNotifier:
    """SMS_PROVIDER=none: nobody is texted; the log says what would have been sent."""

    def send(self, phone: str, message: str) -> SendResult:
        logger.info("SMS disabled; not texting %s***: %s", phone[:5], message)
        return SendResult(ok=False, detail="SMS_PROVIDER is none")
