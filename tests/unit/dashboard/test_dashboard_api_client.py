"""The dashboard's HTTP client: every failure is an ApiError with a sentence a developer can act on."""

from __future__ import annotations

import pytest
import requests
import requests_mock
from ondemand_dashboard.api_client import ApiError, OndemandApiClient

URL = "http://api.test"


@pytest.fixture
def http() -> requests_mock.Mocker:
    with requests_mock.Mocker() as mocker:
        yield mocker


def test_an_error_body_becomes_its_message_status_and_code(http: requests_mock.Mocker) -> None:
    http.post(f"{URL}/start", status_code=429, json={"error": "cooling_down", "message": "Try again in 60 seconds."})
    with pytest.raises(ApiError) as raised:
        OndemandApiClient(URL).start()
    assert (raised.value.status, raised.value.code) == (429, "cooling_down")
    assert raised.value.message == "POST /start failed with 429 (cooling_down): Try again in 60 seconds."


def test_start_sends_an_empty_body(http: requests_mock.Mocker) -> None:
    http.post(f"{URL}/start", status_code=202, json={"state": "STARTING"})
    assert OndemandApiClient(URL).start() == {"state": "STARTING"}
    assert http.last_request.json() == {}


def test_an_api_gateway_error_without_our_shape_still_reads(http: requests_mock.Mocker) -> None:
    http.get(f"{URL}/status", status_code=403, json={"message": "Missing Authentication Token"})
    with pytest.raises(ApiError, match="403 .*Missing Authentication Token"):
        OndemandApiClient(URL).status()


def test_a_non_json_answer_is_an_error(http: requests_mock.Mocker) -> None:
    http.get(f"{URL}/status", status_code=200, text="<html>proxy</html>")
    with pytest.raises(ApiError, match="without a JSON body"):
        OndemandApiClient(URL).status()


def test_a_timeout_says_how_long_it_waited(http: requests_mock.Mocker) -> None:
    http.get(f"{URL}/status", exc=requests.ReadTimeout)
    with pytest.raises(ApiError, match="within 2.5 s") as raised:
        OndemandApiClient(URL, timeout_seconds=2.5).status()
    assert raised.value.status is None


def test_predict_remembers_model_latency_and_round_trip_even_on_failure(http: requests_mock.Mocker) -> None:
    client = OndemandApiClient(URL, keep_predictions=2)
    http.post(
        f"{URL}/predict",
        [
            {
                "json": {
                    "predictions": [{"label": "POSITIVE", "label_id": 1, "prob": 0.9}],
                    "latency_ms": 41,
                    "model": "m",
                }
            },
            {"status_code": 503, "json": {"error": "model_not_ready", "message": "The model is STOPPED."}},
            {"json": {"predictions": [], "latency_ms": 12.5, "model": "m"}},
        ],
    )
    client.predict(["good"])
    with pytest.raises(ApiError):
        client.predict(["good", "bad"])
    client.predict([])

    calls = client.recent_predictions()
    assert [(call.ok, call.texts, call.model_latency_ms) for call in calls] == [(False, 2, None), (True, 0, 12.5)]
    assert all(call.round_trip_ms >= 0 for call in calls)
    assert http.request_history[0].json() == {"texts": ["good"]}


def test_outbox_must_be_a_list(http: requests_mock.Mocker) -> None:
    http.get(f"{URL}/outbox", json={"messages": []})
    with pytest.raises(ApiError, match="list"):
        OndemandApiClient(URL).outbox()


def test_an_answer_that_is_not_an_object_is_an_error(http: requests_mock.Mocker) -> None:
    http.get(f"{URL}/status", json=["STOPPED"])
    http.post(f"{URL}/predict", json=[{"label": "POSITIVE"}])
    client = OndemandApiClient(URL)
    with pytest.raises(ApiError, match="GET /status did not answer an object") as raised:
        client.status()
    assert raised.value.code == "bad_response"
    with pytest.raises(ApiError, match="POST /predict did not answer an object"):
        client.predict(["good"])
    assert [call.ok for call in client.recent_predictions()] == [False]
