"""What the page shows of wave 2, in a real browser against the fake API: which model answered (the instant CPU model
while the GPU model starts, the GPU model, a degraded answer), the stop-notice banner with its Extend button, the daily
GPU budget and its refusals, the training progress, and the rule that only a page on this machine obeys `?api=`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import suppress
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route, expect
from playwright.sync_api import Error as PlaywrightError

from tests.e2e.fake_api import FakeModel, serve_fake_api
from tests.e2e.test_page_consent import confirm_on_the_page

TRAINING = {
    "state": "training",
    "stage": "training the transformer",
    "progress": 0.42,
    "message": "Epoch 1 of 2.",
    "instant_model": True,
    "gpu_model": False,
}


@pytest.fixture
def kolkata_page(browser: Browser) -> Iterator[Page]:
    """A reader in India (UTC+05:30): local time and UTC differ by a non-whole hour, so neither can pass for the
    other."""
    context = browser.new_context(viewport={"width": 1100, "height": 1000}, timezone_id="Asia/Kolkata")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def classify(page: Page, text: str) -> None:
    page.fill("#reviews", text)
    page.click("#predict")


def test_while_the_gpu_model_starts_the_instant_model_answers_and_says_so(
    page: Page, fake_api: str, fake_model: FakeModel
) -> None:
    fake_model.start_seconds = 120
    fake_model.instant_tier = "while-starting"
    page.goto(fake_api)
    expect(page.locator("#tier-note")).to_be_hidden()  # while-starting: stopped, nothing answers

    page.click("#start")
    expect(page.locator("#state")).to_have_attribute("data-state", "STARTING")
    expect(page.locator("#tier-note")).to_have_text(
        "The GPU model is on its way. Meanwhile, the instant CPU model answers your reviews."
    )
    classify(page, "A wonderful, superb film.\nA dull and boring mess.")

    expect(page.locator("#results li.result")).to_have_count(2)
    expect(page.locator("#results-tier")).to_have_text("Answered by the instant CPU model")
    expect(page.locator("#results-tier")).to_have_attribute("data-tier", "instant")
    expect(page.locator("#results-meta")).to_contain_text("model fake-instant")


def test_in_service_the_gpu_model_answers_and_a_failed_gpu_call_is_marked(
    page: Page, fake_api: str, fake_model: FakeModel
) -> None:
    fake_model.start_seconds = 0
    fake_model.instant_tier = "always"
    page.goto(fake_api)
    expect(page.locator("#tier-note")).to_contain_text("The instant CPU model answers your reviews")
    page.click("#start")
    expect(page.locator("#state")).to_have_attribute("data-state", "IN_SERVICE")
    expect(page.locator("#tier-note")).to_be_hidden()

    classify(page, "A wonderful, superb film.")
    expect(page.locator("#results-tier")).to_have_text("Answered by the GPU model")
    expect(page.locator("#results-tier")).to_have_attribute("data-tier", "gpu")

    fake_model.gpu_fails = True
    page.click("#predict")
    expect(page.locator("#results-tier")).to_have_text("GPU model failed, answered by the instant CPU model")
    expect(page.locator("#results-tier")).to_have_attribute("data-tier", "degraded")
    expect(page.locator("#results li.result .label")).to_have_text(["POSITIVE"])


def test_the_stop_notice_shows_from_notice_at_and_its_extend_keeps_the_model(
    kolkata_page: Page, fake_api: str, fake_model: FakeModel
) -> None:
    page = kolkata_page
    fake_model.start_seconds = 0
    fake_model.keep_alive_seconds = 45
    fake_model.notice_seconds = 30  # the notice is due 15 s after the model is ready: time to see it hidden first
    fake_model.extend_needs_recent_use = True
    page.goto(fake_api)
    page.click("#start")
    expect(page.locator("#state")).to_have_attribute("data-state", "IN_SERVICE")
    expect(page.locator("#notice-banner")).to_be_hidden()

    expect(page.locator("#notice-banner")).to_be_visible(timeout=30_000)
    stop = fake_model.expires_at
    local, utc = (stop + timedelta(hours=5, minutes=30)).strftime("%H:%M"), stop.strftime("%H:%M")
    expect(page.locator("#notice-text")).to_contain_text(f"The GPU model stops at {local} your time ({utc} UTC)")

    page.click("#notice-extend")  # nobody has classified anything yet
    expect(page.locator("#start-message")).to_contain_text("classify a review first")
    classify(page, "A wonderful, superb film.")
    expect(page.locator("#results li.result")).to_have_count(1)
    fake_model.keep_alive_seconds = 600
    page.click("#notice-extend")

    expect(page.locator("#notice-banner")).to_be_hidden()
    expect(page.locator("#countdown")).to_have_text(re.compile(r"^(10:00|09:5\d)$"))
    expect(page.locator("#start-message")).to_contain_text("Extended")


def test_no_notice_when_the_owner_turned_it_off(page: Page, fake_api: str, fake_model: FakeModel) -> None:
    fake_model.start_seconds = 0
    fake_model.keep_alive_seconds = 20
    page.goto(fake_api)
    page.click("#start")
    expect(page.locator("#countdown")).to_have_text(re.compile(r"^00:0\d$"))  # well inside any notice window

    expect(page.locator("#notice-banner")).to_be_hidden()


def test_a_spent_budget_is_shown_and_start_refused_with_when_it_resets(
    kolkata_page: Page, fake_api: str, fake_model: FakeModel
) -> None:
    page = kolkata_page
    fake_model.gpu_minutes_per_day = 240
    fake_model.gpu_minutes_used_today = 38
    page.goto(fake_api)
    expect(page.locator("#budget")).to_have_text(
        "GPU time left today: 3 h 22 min of 4 h. Resets at 05:30 your time (00:00 UTC)."
    )

    fake_model.gpu_minutes_used_today = 240
    expect(page.locator("#budget")).to_contain_text("GPU time left today: none of 4 h.")
    page.click("#start")

    expect(page.locator("#start-message")).to_have_text(
        "Today's GPU time is used up, so the GPU model cannot run any longer today. "
        "It resets at 05:30 your time (00:00 UTC)."
    )
    assert fake_model.state == "STOPPED"


def test_a_start_right_after_a_teardown_says_when_it_may_start_again(
    page: Page, fake_api: str, fake_model: FakeModel
) -> None:
    fake_model.start_seconds = 0
    fake_model.keep_alive_seconds = 2
    fake_model.cooldown_seconds = 300
    page.goto(fake_api)
    page.click("#start")
    expect(page.locator("#state")).to_have_attribute("data-state", "STOPPED")
    expect(page.locator("#cooldown")).to_contain_text("it can start again at")

    page.click("#start")
    expect(page.locator("#start-message")).to_have_text(
        re.compile(
            r"^The GPU model has just shut down and needs a short pause\. You can start it again in about [45] min"
        )
    )


def test_training_progress_shows_and_start_waits_for_an_approved_gpu_model(
    page: Page, fake_api: str, fake_model: FakeModel
) -> None:
    fake_model.pipeline = dict(TRAINING)
    page.goto(fake_api)

    expect(page.locator("#pipeline-text")).to_have_text(
        "Training the GPU model: training the transformer (42% done). Epoch 1 of 2."
    )
    expect(page.locator("#pipeline-progress")).to_have_attribute("aria-valuenow", "42")
    expect(page.locator("#start")).to_be_disabled()
    expect(page.locator("#start-blocked")).to_contain_text("once the GPU model is trained and approved")

    fake_model.pipeline = {**TRAINING, "state": "ready", "progress": 1.0, "gpu_model": True}
    expect(page.locator("#start")).to_be_enabled()
    expect(page.locator("#pipeline-block")).to_be_hidden()
    expect(page.locator("#start-blocked")).to_be_hidden()


def test_without_a_pipeline_there_is_no_training_block(page: Page, fake_api: str) -> None:
    page.goto(fake_api)  # the fake answers /pipeline 404, as a deployed stack does

    expect(page.locator("#state")).to_have_attribute("data-state", "STOPPED")
    expect(page.locator("#pipeline-block")).to_be_hidden()
    expect(page.locator("#start")).to_be_enabled()


def serve_host_from(page: Page, public_origin: str, local_url: str) -> None:
    """Make `public_origin` (a name no DNS knows) answer what the fake at `local_url` answers, as a public host."""

    def forward(route: Route) -> None:
        url = urlsplit(route.request.url)
        try:
            route.fulfill(response=route.fetch(url=local_url + url.path + (f"?{url.query}" if url.query else "")))
        except PlaywrightError:  # the test is over and the fake or the page is gone: nobody reads this poll
            with suppress(PlaywrightError):
                route.abort()

    page.route(f"{public_origin}/**", forward)


def test_a_page_on_a_public_host_ignores_a_crafted_api_link(page: Page, fake_api: str, fake_model: FakeModel) -> None:
    """The page as a static host serves it (http://reviews.test, its API on the same origin), opened from a link
    that points it at another API, one that would gladly take the visitor's phone number (CORS open)."""
    public, elsewhere = "http://reviews.test", "http://collector.test"
    attacker_model = FakeModel(start_seconds=0)
    with serve_fake_api(attacker_model, cors=True) as attacker:
        serve_host_from(page, public, fake_api)
        serve_host_from(page, elsewhere, attacker)
        page.goto(f"{public}/?api={elsewhere}")
        expect(page.locator("#state")).to_have_attribute("data-state", "STOPPED")
        confirm_on_the_page(page, fake_model, "+12025550100")
        page.click("#start")
        expect(page.locator("#state")).to_have_attribute("data-state", re.compile("STARTING|IN_SERVICE"))

        expect(page.locator("#api-base")).to_have_text(public)
        expect(page.locator("#api-note")).to_contain_text("ignores the api= part of its address")
        page.unroute_all(behavior="ignoreErrors")
    assert fake_model.subscribers == ["+12025550100"]
    assert (attacker_model.state, attacker_model.subscribers) == ("STOPPED", [])
