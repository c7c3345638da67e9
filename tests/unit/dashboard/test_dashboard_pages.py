"""History, Messages, Predictions and Cost pages against the fake API: values shown, calls made, errors as messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from streamlit.testing.v1 import AppTest

from tests.unit.dashboard.dashboard_fake_api import FakePlatformApi
from tests.unit.dashboard.dashboard_harness import open_page


def metric(app: AppTest, label: str) -> str:
    return next(item.value for item in app.metric if item.label == label)


def one_run(api: FakePlatformApi, started_hours_ago: float, minutes: tuple[int, int, int]) -> None:
    """STOPPED -> STARTING -> IN_SERVICE -> STOPPING -> STOPPED; `minutes` are the three middle states' lengths."""
    at = datetime.now(UTC) - timedelta(hours=started_hours_ago)
    for to, reason, length in (
        ("STARTING", "start requested", minutes[0]),
        ("IN_SERVICE", "endpoint InService", minutes[1]),
        ("STOPPING", "keep-alive expired", minutes[2]),
        ("STOPPED", "endpoint deleted", 0),
    ):
        api.move(to, reason, at=at)
        at += timedelta(minutes=length)


# --- History ---------------------------------------------------------------------------------------------------


def test_history_shows_every_transition_newest_first_and_a_timeline(fake_api: FakePlatformApi) -> None:
    one_run(fake_api, started_hours_ago=2, minutes=(6, 30, 1))

    app = open_page("history")

    assert not app.exception
    table = app.dataframe[0].value
    assert list(table["to"]) == ["STOPPED", "STOPPING", "IN_SERVICE", "STARTING"]
    assert list(table["from"]) == ["STOPPING", "IN_SERVICE", "STARTING", "STOPPED"]
    assert "keep-alive expired" in list(table["reason"])
    assert len(app.get("vega_lite_chart")) == 1
    assert "4 transitions" in app.caption[0].value


def test_history_without_transitions_says_so(fake_api: FakePlatformApi) -> None:
    app = open_page("history")

    assert "No transitions yet" in app.info[0].value


def test_a_malformed_answer_is_a_message_not_a_traceback(fake_api: FakePlatformApi) -> None:
    fake_api.history.append({"from": "STOPPED", "to": "STARTING", "reason": "no time"})  # `at` missing

    app = open_page("history")

    assert not app.exception
    assert "This page failed" in app.error[0].value


def test_history_api_error_is_a_message(fake_api: FakePlatformApi) -> None:
    fake_api.failures["/status"] = (502, {"error": "internal_error", "message": "The API failed unexpectedly."})

    app = open_page("history")

    assert not app.exception
    assert "The API failed unexpectedly." in app.error[0].value


# --- Messages --------------------------------------------------------------------------------------------------


def test_messages_lists_the_outbox_with_delivery_results(fake_api: FakePlatformApi) -> None:
    fake_api.outbox = [
        {
            "at": "2026-11-23T09:20:00+00:00",
            "phone": "+15555550100",
            "message": "Your model is ready.",
            "provider": "outbox",
            "ok": True,
            "detail": "saved to the local outbox",
        },
        {
            "at": "2026-11-23T09:20:01+00:00",
            "phone": "+15555550199",
            "message": "Your model is ready.",
            "provider": "textbelt",
            "ok": False,
            "detail": "Out of quota",
        },
    ]

    app = open_page("messages")

    assert not app.exception
    assert (metric(app, "Messages"), metric(app, "Delivered"), metric(app, "Failed")) == ("2", "1", "1")
    table = app.dataframe[0].value
    assert list(table["result"]) == ["FAILED", "delivered"]
    assert list(table["detail"]) == ["Out of quota", "saved to the local outbox"]
    assert list(table["phone"]) == ["+15••••••199", "+15••••••100"]


def test_messages_on_an_api_without_outbox_explains_and_shows_subscribers(fake_api: FakePlatformApi) -> None:
    fake_api.outbox = None
    fake_api.subscribers = ["+15555550100"]

    app = open_page("messages")

    assert not app.exception
    assert "no SMS outbox" in app.info[0].value
    assert metric(app, "SMS subscribers") == "1"
    assert not app.error


def test_messages_api_error_is_a_message(fake_api: FakePlatformApi) -> None:
    fake_api.failures["/outbox"] = "refused"

    app = open_page("messages")

    assert "Cannot reach the API" in app.error[0].value


# --- Predictions -----------------------------------------------------------------------------------------------


def test_predict_sends_each_line_and_shows_labels_latency_and_the_latency_chart(fake_api: FakePlatformApi) -> None:
    fake_api.move("STARTING", "start requested")
    fake_api.move("IN_SERVICE", "endpoint InService")
    app = open_page("predictions")
    assert "No calls from this dashboard yet" in app.caption[-1].value

    app.text_area[0].input("Loved every minute.\nA bad, boring film.\n\n")
    app.button[0].click().run()

    assert [call.body for call in fake_api.posts("/predict")] == [
        {"texts": ["Loved every minute.", "A bad, boring film."]}
    ]
    results = app.dataframe[0].value
    assert list(results["label"]) == ["POSITIVE", "NEGATIVE"]
    assert list(results["probability"]) == [0.97, 0.91]
    assert list(results["scored by"]) == ["linear", "transformer+linear"]  # the GPU tier skipped one transformer run
    assert metric(app, "Model latency") == "38 ms"
    assert metric(app, "Model") == "minilm-sentiment-test"
    assert metric(app, "Calls") == "1"
    assert metric(app, "Median model latency") == "38 ms"
    assert len(app.get("vega_lite_chart")) == 1


def test_latency_is_split_by_the_tier_that_answered(fake_api: FakePlatformApi) -> None:
    fake_api.instant_tier = "while-starting"
    fake_api.move("STARTING", "start requested")
    app = open_page("predictions")

    app.text_area[0].input("Loved every minute.").run()
    app.button[0].click().run()
    assert metric(app, "Answered by") == "instant CPU model"
    fake_api.move("IN_SERVICE", "endpoint InService")
    app.button[0].click().run()
    assert metric(app, "Answered by") == "GPU model"
    fake_api.gpu_fails = True
    app.button[0].click().run()

    assert metric(app, "Answered by") == "instant CPU model (GPU failed)"
    assert "instant CPU model answered" in app.warning[0].value
    by_tier = app.dataframe[-1].value
    assert list(by_tier["tier"]) == ["GPU model", "instant CPU model", "instant CPU model (GPU failed)"]
    assert list(by_tier["calls"]) == [1, 1, 1]
    assert list(by_tier["median model ms"]) == [38, 3, 3]
    assert metric(app, "Calls") == "3"


def test_predict_while_stopped_shows_the_apis_message(fake_api: FakePlatformApi) -> None:
    app = open_page("predictions")

    app.button[0].click().run()

    assert not app.exception
    assert "503" in app.error[0].value and "The model is STOPPED; start it first." in app.error[0].value
    assert metric(app, "Failed calls") == "1"


# --- Cost ------------------------------------------------------------------------------------------------------


def test_cost_of_the_last_day_against_always_on(fake_api: FakePlatformApi) -> None:
    one_run(fake_api, started_hours_ago=26, minutes=(5, 20, 3))  # outside the last 24 hours
    one_run(fake_api, started_hours_ago=2, minutes=(7, 30, 5))  # 42 billed minutes

    app = open_page("cost")

    assert not app.exception
    assert metric(app, "Endpoint minutes") == "42.0"
    assert metric(app, "On-demand cost") == "$0.52"  # 42/60 h x 0.7364 USD/h
    assert metric(app, "Always-on cost") == "$17.67"  # 24 h x 0.7364 USD/h
    assert metric(app, "Saved") == "$17.16"
    assert list(app.dataframe[0].value["minutes"]) == [42.0]


def test_cost_follows_the_price_setting_and_the_period(fake_api: FakePlatformApi) -> None:
    one_run(fake_api, started_hours_ago=26, minutes=(5, 20, 3))
    one_run(fake_api, started_hours_ago=2, minutes=(7, 30, 5))
    app = open_page("cost")

    app.number_input[0].set_value(1.0).run()
    app.selectbox[0].select("Whole history").run()

    assert metric(app, "Endpoint minutes") == "70.0"
    assert metric(app, "On-demand cost") == "$1.17"
    assert metric(app, "Always-on cost") == "$26.00"  # the history covers 26 hours
    assert len(app.dataframe[0].value) == 2


def test_a_short_history_is_complete_so_the_whole_period_counts(fake_api: FakePlatformApi) -> None:
    one_run(fake_api, started_hours_ago=2, minutes=(7, 30, 5))

    app = open_page("cost")

    assert metric(app, "Always-on cost") == "$17.67"
    assert not any("dropped" in caption.value for caption in app.caption)


def test_a_full_history_prices_only_the_time_it_covers(
    fake_api: FakePlatformApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HISTORY_LIMIT", "4")
    one_run(fake_api, started_hours_ago=2, minutes=(7, 30, 5))

    app = open_page("cost")

    assert metric(app, "Endpoint minutes") == "42.0"
    assert metric(app, "Always-on cost") == "$1.47"  # 2 h x 0.7364 USD/h
    assert any("older transitions were dropped" in caption.value for caption in app.caption)


def test_cost_counts_a_running_endpoint_up_to_now(fake_api: FakePlatformApi) -> None:
    fake_api.move("STARTING", "start requested", at=datetime.now(UTC) - timedelta(minutes=20))
    fake_api.move("IN_SERVICE", "endpoint InService", at=datetime.now(UTC) - timedelta(minutes=12))

    app = open_page("cost")

    assert float(metric(app, "Endpoint minutes")) >= 20.0


def test_cost_of_a_never_started_platform_is_nothing(fake_api: FakePlatformApi) -> None:
    app = open_page("cost")
    app.selectbox[0].select("Whole history").run()

    assert (metric(app, "Endpoint minutes"), metric(app, "On-demand cost"), metric(app, "Always-on cost")) == (
        "0.0",
        "$0.00",
        "$0.00",
    )
    assert "No endpoint ran" in app.info[0].value


def test_cost_api_error_is_a_message(fake_api: FakePlatformApi) -> None:
    fake_api.failures["/status"] = "refused"

    app = open_page("cost")

    assert not app.exception
    assert "Cannot reach the API" in app.error[0].value
