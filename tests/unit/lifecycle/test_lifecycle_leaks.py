"""Errors say what to do, never what is inside: a real AccessDenied from SageMaker names the caller's role ARN and
the account id; none of it may reach a response body, GET /status (last_error, history) or a text message."""

from __future__ import annotations

import dataclasses
import json
import logging

from botocore.exceptions import ClientError
from ondemand.bootstrap import bootstrap
from ondemand.domain import EndpointStatus, State
from ondemand.handlers import api

from tests.lifecycle_driver import confirming
from tests.unit.lifecycle.lifecycle_fakes import PHONE_A, PHONE_B
from tests.unit.lifecycle.test_lifecycle_api import invoke
from tests.unit.lifecycle.test_lifecycle_aws_adapters import approve_model, sagemaker_endpoints

ACCOUNT = "210987654321"
ROLE = f"arn:aws:sts::{ACCOUNT}:assumed-role/ondemand-ApiFunctionRole-Q1W2E3/ondemand-ApiFunction-R4T5"
DENIED = (
    f"User: {ROLE} is not authorized to perform: sagemaker:CreateEndpoint on resource: "
    f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/ondemand-sentiment-x because no identity-based policy allows "
    "the sagemaker:CreateEndpoint action"
)
SECRETS = (ACCOUNT, "arn:aws", "ondemand-ApiFunctionRole", "not authorized", "AccessDenied", "sagemaker:")


def access_denied(**_: object) -> None:
    raise ClientError(
        {
            "Error": {"Code": "AccessDeniedException", "Message": DENIED},
            "ResponseMetadata": {"RequestId": "4d3c-sagemaker", "HTTPStatusCode": 400},
        },
        "CreateEndpoint",
    )


def leaked(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


def test_an_access_denied_start_leaks_nothing_anywhere(aws, adapters, settings, clock, notifier, event, caplog):
    approve_model()
    control = sagemaker_endpoints()
    control.sagemaker.create_endpoint = access_denied  # the real adapter, SageMaker answering AccessDenied
    service = bootstrap(settings, dataclasses.replace(adapters, endpoints=control), now=clock, sleep=lambda _: None)
    handler = confirming(api.make_handler(service), service)
    # Someone else subscribes between the caller's STARTING write and the failure: they get the failure text.
    real_create = control.create

    def create_after_another_subscriber(name: str) -> None:
        service.adapters.store.add_subscriber([State.STARTING], PHONE_B, 20)
        real_create(name)

    control.create = create_after_another_subscriber

    start = event("apigw_start")
    status, body, _ = invoke(handler, start, {"phone": PHONE_A})
    assert (status, body["error"]) == (502, "access_denied")
    assert body["message"] == "The stack is not allowed to run the endpoint; the owner has to check its permissions."
    assert body["request_id"] == start["requestContext"]["requestId"]
    status_text = json.dumps(invoke(handler, event("apigw_status"))[1])
    assert json.loads(status_text)["last_error_code"] == "access_denied"
    texts = " ".join(message for _, message in notifier.sent)
    assert [phone for phone, _ in notifier.sent] == [PHONE_B]  # not the caller: its request got the error
    assert leaked(json.dumps(body)) == leaked(status_text) == leaked(texts) == []
    # The owner still finds the raw message, beside the request id the caller can quote.
    request_id = start["requestContext"]["requestId"]

    def logged(record: logging.LogRecord) -> str:
        """What CloudWatch gets of one record: its message, its request id key and its traceback (causes included)."""
        trace = logging.Formatter().formatException(record.exc_info) if record.exc_info else ""
        return f"{record.getMessage()} {getattr(record, 'request_id', '')} {trace}"

    assert [record for record in caplog.records if ACCOUNT in logged(record) and request_id in logged(record)], [
        logged(record) for record in caplog.records
    ]


def test_a_failure_reason_from_sagemaker_stays_in_the_log(handlers, machine, endpoints, notifier, event) -> None:
    name = machine.start(PHONE_A).state.endpoint_name
    reason = (
        f"ModelError: see https://us-east-1.console.aws.amazon.com/cloudwatch/home#logEventViewer:group="
        f"/aws/sagemaker/Endpoints/{name};account={ACCOUNT}; role {ROLE}"
    )
    endpoints.set_status(name, EndpointStatus.FAILED, reason)
    machine.on_endpoint_status(name, EndpointStatus.FAILED, reason)
    status = invoke(handlers.api, event("apigw_status"))[1]
    assert status["last_error_code"] == "endpoint_failed"
    assert leaked(json.dumps(status)) == [] and "cloudwatch" not in json.dumps(status)
    assert notifier.phones() == [PHONE_A] and leaked(notifier.sent[0][1]) == []
