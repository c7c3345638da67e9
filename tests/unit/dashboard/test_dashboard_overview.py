"""Overview page: the state item's values, the Start / Extend / Stop buttons, and API errors as messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from streamlit.testing.v1 import AppTest

from tests.unit.dashboard.dashboard_fake_api import FakePlatformApi
from tests.unit.dashboard.dashboard_harness import open_page


def metric(app: AppTest, label: str) -> str:
    return next(item.value for item in app.metric if item.label == label)


def button(app: AppTest, label: str):  # noqa: ANN201 - streamlit's Button element
    return next(item for item in app.button if item.label == label)


def in_service(api: FakePlatformApi, minutes_left: int = 12) -> None:
    api.endpoint_name = "ondemand-sentiment-20261123-091500"
    api.subscribers = ["+15555550100", "+15555550101"]
    api.move("STARTING", "start requested", at=datetime.now(UTC) - timedelta(minutes=9))
    api.move("IN_SERVICE", "endpoint InService", at=datetime.now(UTC) - timedelta(minutes=3))
    api.expires_at = datetime.now(UTC) + timedelta(minutes=minutes_left, seconds=30)


def test_shows_state_endpoint_time_in_state_countdown_and_subscribers(fake_api: FakePlatformApi) -> None:
    in_service(fake_api)

    app = open_page()

    assert not app.exception
    assert metric(app, "State") == "IN_SERVICE"
    assert any("`ondemand-sentiment-20261123-091500`" in text.value for text in app.markdown)
    assert metric(app, "Time in state").startswith("3 min")
    assert metric(app, "Shuts down in").startswith("12 min")
    assert metric(app, "SMS subscribers") == "2"
    assert list(app.dataframe[0].value["to"]) == ["IN_SERVICE", "STARTING"]  # latest transitions, newest first


def test_a_never_started_platform_shows_no_time_in_state(fake_api: FakePlatformApi) -> None:
    app = open_page()

    assert (metric(app, "State"), metric(app, "Time in state")) == ("STOPPED", "–")
    assert any(text.value == "**Endpoint** `none`" for text in app.markdown)


def test_starting_shows_the_eta(fake_api: FakePlatformApi) -> None:
    fake_api.move("STARTING", "start requested")

    app = open_page()

    assert metric(app, "Ready in about") == "5 min 00 s"
    assert any("refreshes every" in caption.value for caption in app.caption)


def test_start_posts_the_phone_and_shows_the_new_state(fake_api: FakePlatformApi) -> None:
    app = open_page()
    assert metric(app, "State") == "STOPPED"

    app.text_input(key="start_phone").input("+15555550100")
    button(app, "Start model").click().run()

    assert [call.body for call in fake_api.posts("/start")] == [{"phone": "+15555550100"}]
    assert metric(app, "State") == "STARTING"
    assert metric(app, "SMS subscribers") == "1"
    assert "the model is now STARTING" in app.success[0].value


def test_extend_posts_extend(fake_api: FakePlatformApi) -> None:
    in_service(fake_api, minutes_left=2)
    app = open_page()

    button(app, "Extend").click().run()

    assert len(fake_api.posts("/extend")) == 1
    assert metric(app, "Shuts down in").startswith(("29 min", "30 min"))


def test_a_capped_extend_says_so(fake_api: FakePlatformApi) -> None:
    in_service(fake_api, minutes_left=2)
    fake_api.extend_capped = True
    app = open_page()

    button(app, "Extend").click().run()

    assert "capped" in app.success[0].value
    assert metric(app, "Shuts down in").startswith("2 min")


def test_extend_is_disabled_unless_in_service(fake_api: FakePlatformApi) -> None:
    assert button(open_page(), "Extend").disabled


def test_stop_without_an_admin_key_says_so_and_calls_nothing(fake_api: FakePlatformApi) -> None:
    in_service(fake_api)
    app = open_page()

    button(app, "Stop").click().run()

    assert fake_api.posts("/stop") == []
    assert "needs the admin key" in app.error[0].value


def test_stop_sends_the_admin_key_from_the_environment(fake_api: FakePlatformApi,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONDEMAND_ADMIN_KEY", "admin-secret")
    in_service(fake_api)
    app = open_page()

    button(app, "Stop").click().run()

    assert [call.headers.get("x-api-key") for call in fake_api.posts("/stop")] == ["admin-secret"]
    assert metric(app, "State") == "STOPPING"


def test_stop_with_a_wrong_key_shows_the_refusal(fake_api: FakePlatformApi) -> None:
    in_service(fake_api)
    app = open_page()
    app.sidebar.text_input(key="admin_key").input("guess")

    button(app, "Stop").click().run()

    assert "refused the admin key (403)" in app.error[0].value
    assert metric(app, "State") == "IN_SERVICE"


def test_stop_on_an_api_without_stop_says_it_is_not_deployed(fake_api: FakePlatformApi,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONDEMAND_ADMIN_KEY", "admin-secret")
    fake_api.admin_key = None
    in_service(fake_api)
    app = open_page()

    button(app, "Stop").click().run()

    assert "no POST /stop" in app.error[0].value


def test_an_api_error_is_a_message_not_a_traceback(fake_api: FakePlatformApi) -> None:
    fake_api.failures["/status"] = (500, {"error": "internal_error", "message": "DynamoDB is throttling."})

    app = open_page()

    assert not app.exception
    assert "DynamoDB is throttling." in app.error[0].value
    assert "500" in app.error[0].value


def test_a_refused_connection_is_a_message(fake_api: FakePlatformApi) -> None:
    fake_api.failures["/status"] = "refused"

    app = open_page()

    assert not app.exception
    assert "Cannot reach the API at http://fake-api.test" in app.error[0].value
    assert "Connection refused" in app.error[0].value
