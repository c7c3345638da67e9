"""The page's own behaviour in a real browser, against a fake API: what the user sees for each answer the API
can give (ready, 503, 400, 500, a timeout, an unreachable API) and for a phone number that is not E.164."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.fake_api import FakeModel, serve_fake_api
from tests.e2e.test_page_consent import confirm_on_the_page


def test_start_with_phone_shows_progress_then_ready_and_the_text_message(
    page: Page, fake_api: str, fake_model: FakeModel
) -> None:
    fake_model.start_seconds = 5
    page.goto(fake_api)
    expect(page.locator("#state")).to_have_attribute("data-state", "STOPPED")

    confirm_on_the_page(page, fake_model, "+1 202 555 0100")  # the code first (test_page_consent.py)
    page.click("#start")

    expect(page.locator("#state")).to_have_attribute("data-state", "STARTING")
    expect(page.locator("#progress-block")).to_be_visible()
    expect(page.locator("#progress-text")).to_contain_text("to go")
    expect(page.locator("#start-message")).to_contain_text("+12025550100")
    page.fill("#phone", "")
    page.click("#start")
    expect(page.locator("#phone-error")).to_contain_text("already starting")
    confirm_on_the_page(page, fake_model, "+12025550123")
    page.click("#start")
    expect(page.locator("#state-detail")).to_contain_text("2 phone numbers will get a text")

    expect(page.locator("#state")).to_have_attribute("data-state", "IN_SERVICE", timeout=10_000)
    expect(page.locator("#progress-block")).to_be_hidden()
    expect(page.locator("#countdown")).to_have_text(re.compile(r"^0[12]:\d\d$"))
    expect(page.locator("#outbox-block")).to_be_visible()
    expect(page.locator("#outbox li.sms")).to_have_count(4)  # two codes, two "ready" texts
    expect(page.locator("#outbox")).to_contain_text("+1202***0100")  # masked: the outbox may be on a shared screen
    expect(page.locator("#outbox")).to_contain_text("+1202***0123")
    expect(page.locator("#outbox")).not_to_contain_text("+12025550100")
    expect(page.locator("#start-form")).to_be_hidden()


def test_two_reviews_get_one_labelled_result_each(page: Page, fake_api: str, fake_model: FakeModel) -> None:
    fake_model.start_seconds = 0
    page.goto(fake_api)
    page.click("#start")
    expect(page.locator("#state")).to_have_attribute("data-state", "IN_SERVICE")

    page.fill("#reviews", "A wonderful, superb film.\n\n   \nA dull and boring mess.")
    expect(page.locator("#review-count")).to_have_text("2 reviews")
    page.click("#predict")

    results = page.locator("#results li.result")
    expect(results).to_have_count(2)
    expect(results.nth(0).locator(".label")).to_have_text("POSITIVE")
    expect(results.nth(1).locator(".label")).to_have_text("NEGATIVE")
    expect(results.nth(0).locator(".prob-text")).to_have_text("90.0%")
    expect(page.locator("#results-meta")).to_contain_text("model time 12 ms")
    # "dull", "boring", "mess": clear-cut enough that the GPU tier's linear part decided alone, and the page says so
    expect(results.nth(1).locator(".result-scorer")).to_contain_text("the transformer was not run")
    expect(results.nth(0).locator(".result-scorer")).to_have_count(0)


def test_extend_button_pushes_the_shutdown_back(page: Page, fake_api: str, fake_model: FakeModel) -> None:
    fake_model.start_seconds = 0
    fake_model.keep_alive_seconds = 40
    page.goto(fake_api)
    page.click("#start")
    expect(page.locator("#countdown")).to_have_text(re.compile(r"^00:[0-4]\d$"))

    fake_model.keep_alive_seconds = 600
    page.click("#extend")

    expect(page.locator("#countdown")).to_have_text(re.compile(r"^(10:00|09:5\d)$"))
    expect(page.locator("#start-message")).to_contain_text("Extended")


def test_invalid_phone_is_explained_and_nothing_starts(page: Page, fake_api: str, fake_model: FakeModel) -> None:
    page.goto(fake_api)
    page.fill("#phone", "555-0100")
    page.click("#start")

    expect(page.locator("#phone-error")).to_contain_text("international number")
    expect(page.locator("#phone")).to_have_attribute("aria-invalid", "true")
    assert fake_model.state == "STOPPED"


def test_predict_while_stopped_says_to_start_the_model(page: Page, fake_api: str) -> None:
    page.goto(fake_api)
    page.fill("#reviews", "Fine.")
    page.click("#predict")

    expect(page.locator("#predict-message")).to_have_text(re.compile("not running.*Start model"))


def test_bad_input_shows_the_servers_sentence(page: Page, fake_api: str, fake_model: FakeModel) -> None:
    fake_model.start_seconds = 0
    fake_model.predict_status = 400
    page.goto(fake_api)
    page.click("#start")
    expect(page.locator("#state")).to_have_attribute("data-state", "IN_SERVICE")
    page.fill("#reviews", "Short.\nToo long, says the server.")
    page.click("#predict")

    expect(page.locator("#predict-message")).to_have_text("Review 2 has 2345 characters; the limit is 2000.")


def test_empty_text_is_caught_before_any_request(page: Page, fake_api: str) -> None:
    page.goto(fake_api)
    page.fill("#reviews", "  \n ")
    page.click("#predict")

    expect(page.locator("#predict-message")).to_contain_text("Type a review first")


def test_server_error_and_timeout_are_friendly(page: Page, fake_api: str, fake_model: FakeModel) -> None:
    fake_model.start_seconds = 0
    page.goto(fake_api)
    page.click("#start")
    expect(page.locator("#state")).to_have_attribute("data-state", "IN_SERVICE")
    page.goto(f"{fake_api}/?timeout=1")  # a short deadline only once the model is up: a slow machine cannot trip it
    expect(page.locator("#state")).to_have_attribute("data-state", "IN_SERVICE")

    fake_model.predict_status = 500
    page.fill("#reviews", "Anything.")
    page.click("#predict")
    expect(page.locator("#predict-message")).to_contain_text("The server had a problem (HTTP 500)")

    fake_model.predict_status = 200
    fake_model.predict_delay_seconds = 2.5
    page.click("#predict")
    expect(page.locator("#predict-message")).to_contain_text("did not answer within 1 s")
    expect(page.locator("#predict")).to_be_enabled()


def test_unreachable_api_is_reported_with_its_address(page: Page, fake_api: str) -> None:
    dead_api = "http://127.0.0.1:9"  # the discard port: nothing listens there
    page.goto(f"{fake_api}/?api={dead_api}")

    expect(page.locator("#connection-message")).to_contain_text(f"Cannot reach the API at {dead_api}")
    expect(page.locator("#api-base")).to_have_text(dead_api)


def test_failed_start_shows_why_and_offers_to_start_again(page: Page, fake_api: str, fake_model: FakeModel) -> None:
    fake_model.state = "FAILED"
    fake_model.last_error = "the model server exited with code 1"
    page.goto(fake_api)

    expect(page.locator("#state")).to_have_text("Failed")
    expect(page.locator("#state-detail")).to_contain_text("the model server exited with code 1")
    expect(page.locator("#start")).to_be_enabled()
    page.click("#start")
    expect(page.locator("#state")).to_have_attribute("data-state", re.compile("STARTING|IN_SERVICE"))


def test_start_is_unavailable_while_shutting_down(page: Page, fake_api: str, fake_model: FakeModel) -> None:
    fake_model.state = "STOPPING"
    page.goto(fake_api)

    expect(page.locator("#state")).to_have_text("Shutting down")
    expect(page.locator("#start")).to_be_disabled()


def test_page_on_another_origin_uses_the_api_parameter(page: Page, fake_api: str, fake_model: FakeModel) -> None:
    """As on a static host in front of the deployed stack: the page from one origin, the API from another."""
    fake_model.start_seconds = 0
    api_model = FakeModel(start_seconds=0)
    with serve_fake_api(api_model, cors=True) as api:
        page.goto(f"{fake_api}/?api={api}/")
        page.click("#start")
        expect(page.locator("#state")).to_have_attribute("data-state", "IN_SERVICE")

    assert api_model.state == "IN_SERVICE" and fake_model.state == "STOPPED"
