"""Overview page: the state item's values, the Start / Extend / Stop buttons, and API errors as messages."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from streamlit.testing.v1 import AppTest

from tests.unit.dashboard.dashboard_fake_api import FakePlatformApi
from tests.unit.dashboard.dashboard_harness import open_page


def metric(app: AppTest, label: str) -> str:
    return next(item.value for item in app.metric if item.label == label)


def button(app: AppTest, label: str):
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


def test_start_posts_no_phone_and_shows_the_new_state(fake_api: FakePlatformApi) -> None:
    app = open_page()
    assert metric(app, "State") == "STOPPED"
    assert any("confirm your number on the web page" in caption.value for caption in app.caption)

    button(app, "Start model").click().run()

    assert [call.body for call in fake_api.posts("/start")] == [{}]
    assert metric(app, "State") == "STARTING"
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


def test_stop_sends_the_admin_key_from_the_environment(
    fake_api: FakePlatformApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONDEMAND_ADMIN_KEY", "admin-secret")
    in_service(fake_api)
    app = open_page()

    button(app, "Stop").click().run()

    assert [call.headers.get("x-api-key") for call in fake_api.posts("/stop")] == ["admin-secret"]
    assert metric(app, "State") == "STOPPING"


def test_stop_with_a_wrong_key_shows_the_refusal(fake_api: FakePlatformApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONDEMAND_ADMIN_KEY", "guess")
    in_service(fake_api)
    app = open_page()

    button(app, "Stop").click().run()

    assert "refused the admin key (403)" in app.error[0].value
    assert metric(app, "State") == "IN_SERVICE"


def test_stop_on_an_api_without_stop_says_it_is_not_deployed(
    fake_api: FakePlatformApi, monkeypatch: pytest.MonkeyPatch
) -> None:
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


# --- the admin key and the API URL stay where the dashboard runs ---------------------------------------------------


def element_protos(node: object) -> Iterator[str]:
    """Every element's protobuf as text: what the Streamlit server would send the browser."""
    if getattr(node, "proto", None) is not None:
        yield str(node.proto)
    for child in getattr(node, "children", {}).values():
        yield from element_protos(child)


def test_the_admin_key_never_reaches_a_browser_widget_and_the_api_url_is_not_editable(
    fake_api: FakePlatformApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONDEMAND_ADMIN_KEY", "admin-secret")
    app = open_page()

    assert not app.exception
    assert [field.label for field in app.text_input] == []  # no phone: the page confirms numbers
    assert not any("admin-secret" in proto for proto in element_protos(app._tree))
    sidebar = [caption.value for caption in app.sidebar.caption]
    assert any("Admin key: set" in text for text in sidebar)
    assert any("`http://fake-api.test`" in text and "not editable" in text for text in sidebar)


def test_without_an_admin_key_the_sidebar_says_stop_is_off(fake_api: FakePlatformApi) -> None:
    app = open_page()

    assert any("Admin key: not set, so Stop is off" in caption.value for caption in app.sidebar.caption)


# --- the stop notice, the budget and the training progress ---------------------------------------------------------


def test_in_service_shows_when_the_stop_notice_goes_out_and_the_instant_tier(fake_api: FakePlatformApi) -> None:
    in_service(fake_api, minutes_left=12)
    fake_api.notice_minutes = 5
    fake_api.instant_tier = "always"

    app = open_page()

    notice = (fake_api.expires_at - timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M:%S")
    captions = [caption.value for caption in app.caption]
    assert any(
        f"Stop notice (the SMS and the page's Extend banner) at {notice} UTC (in 7 min" in text for text in captions
    ), captions
    assert any(text.startswith("Instant tier: always") for text in captions)


def test_no_notice_line_when_the_owner_turned_the_notice_off(fake_api: FakePlatformApi) -> None:
    in_service(fake_api)

    app = open_page()

    assert not any("Stop notice" in caption.value for caption in app.caption)


def budget(used: float) -> dict[str, object]:
    resets = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return {
        "gpu_minutes_per_day": 240,
        "gpu_minutes_used_today": used,
        "gpu_minutes_left_today": max(0, 240 - used),
        "resets_at": resets.isoformat(),
    }


def test_the_daily_gpu_budget_is_shown(fake_api: FakePlatformApi) -> None:
    fake_api.budget = budget(used=38)

    app = open_page()

    assert metric(app, "GPU time left today") == "3 h 22 min"
    assert metric(app, "GPU time used today") == "38 min"
    assert metric(app, "Daily GPU budget") == "4 h 00 min"
    assert metric(app, "Budget resets in") != "–"
    assert not app.warning


def test_a_spent_budget_is_warned_about(fake_api: FakePlatformApi) -> None:
    fake_api.budget = budget(used=240)

    app = open_page()

    assert metric(app, "GPU time left today") == "none"
    assert "budget is spent" in app.warning[0].value


def test_a_failure_shows_its_code_beside_the_sentence(fake_api: FakePlatformApi) -> None:
    fake_api.move("STARTING", "start requested")
    fake_api.move("FAILED", "no capacity")
    fake_api.last_error, fake_api.last_error_code = "No GPU capacity right now; try again later.", "no_capacity"

    app = open_page()

    assert app.warning[0].value == "Last error (no_capacity): No GPU capacity right now; try again later."


def progress_bars(app: AppTest) -> list[tuple[int, str]]:
    """(percent, text) of each st.progress; AppTest has no element class for them, so read the protobuf."""
    return [(bar.proto.value, bar.proto.text) for bar in app.get("progress")]


def test_training_progress_is_shown_while_the_transformer_trains(fake_api: FakePlatformApi) -> None:
    fake_api.pipeline = {
        "state": "training",
        "stage": "training the transformer",
        "progress": 0.42,
        "message": "Epoch 1 of 2.",
        "instant_model": True,
        "gpu_model": False,
    }

    app = open_page()

    assert not app.exception
    assert "Model training" in [header.value for header in app.subheader]
    assert progress_bars(app) == [(42, "training: training the transformer (42%)")]
    captions = [caption.value for caption in app.caption]
    assert "Epoch 1 of 2." in captions
    assert "Instant CPU model: ready. GPU model: not approved yet, so Start cannot work." in captions


def test_a_deployed_stack_without_a_pipeline_shows_no_training_panel(fake_api: FakePlatformApi) -> None:
    app = open_page()  # the fake answers /pipeline 404

    assert not app.exception
    assert "Model training" not in [header.value for header in app.subheader]
    assert ("GET", "/pipeline") in [(call.method, call.path) for call in fake_api.calls]
