"""The newcomer's story in a real browser against the real local runtime (`python -m local_runtime`: the same
handlers, a real model server process): open the page, start the model with a phone number, see the text
message, classify a clearly positive and a clearly negative review, and watch the model shut itself down."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Page, expect

from local_runtime.harness import RunningRuntime
from tests.lifecycle_driver import CODE_TEXT

REPO_ROOT = Path(__file__).resolve().parents[2]
# A test run leaves the tree clean; UPDATE_SCREENSHOTS=1 refreshes the README's picture instead.
SCREENSHOT = REPO_ROOT / ("docs" if os.environ.get("UPDATE_SCREENSHOTS") else "var") / "screenshots" / "page.png"
PHONE = "+12025550142"
POSITIVE = "An absolute masterpiece, I loved every minute of it. Wonderful acting and a beautiful story."
NEGATIVE = "Terrible, boring and a complete waste of time. The worst film I have seen in years."

pytestmark = pytest.mark.slow


def test_start_predict_two_reviews_and_watch_it_stop(page: Page, local_runtime: RunningRuntime) -> None:
    page.goto(local_runtime.page_url)  # as the runtime prints it, with the token
    expect(page).to_have_url(local_runtime.base_url + "/")  # the page took the token out of the address bar
    expect(page.locator("#state")).to_have_attribute("data-state", "STOPPED")

    page.fill("#phone", PHONE)
    page.click("#send-code")  # texts only with consent: the code the runtime "texted" (its outbox) confirms the number
    expect(page.locator("#code-block")).to_be_visible()
    deadline = time.monotonic() + 30  # the text may go out through a queue, a moment after the answer
    while not (codes := [m.group(1) for sms in local_runtime.outbox() if (m := CODE_TEXT.search(sms["message"]))]):
        assert time.monotonic() < deadline, "no code in the outbox"
        time.sleep(0.1)
    [code] = codes
    page.fill("#code", code)
    page.click("#confirm-code")
    expect(page.locator("#phone-status")).to_contain_text(f"{PHONE} is confirmed")
    page.click("#start")
    expect(page.locator("#start-message")).to_contain_text(f"We will text {PHONE}")
    expect(page.locator("#state")).to_have_attribute("data-state", "IN_SERVICE", timeout=120_000)
    expect(page.locator("#countdown")).to_have_text(re.compile(r"^00:[0-3]\d$"))
    expect(page.locator("#outbox li.sms")).to_have_count(2)  # the code, then "ready"
    expect(page.locator("#outbox li.sms").first).to_contain_text("+1202***0142")  # the runtime masks numbers

    page.fill("#reviews", f"{POSITIVE}\n{NEGATIVE}")
    page.click("#predict")
    results = page.locator("#results li.result")
    expect(results).to_have_count(2, timeout=60_000)
    labels = [results.nth(i).locator(".label").inner_text() for i in range(2)]
    assert labels == ["POSITIVE", "NEGATIVE"]
    expect(page.locator("#results-meta")).to_contain_text("model time")
    # A runtime with the instant tier (it reports `instant_tier`) says which model answered: here the GPU model.
    instant_tier = requests.get(f"{local_runtime.base_url}/status", timeout=10).json().get("instant_tier")
    if instant_tier is not None:
        expect(page.locator("#results-tier")).to_have_text("Answered by the GPU model")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    expect(page.locator("#state")).to_have_attribute("data-state", "STOPPED", timeout=120_000)
    assert local_runtime.model_server_pids() == []
    page.click("#predict")
    if instant_tier == "always":  # the GPU model is gone, the instant CPU model still answers
        expect(page.locator("#results-tier")).to_have_text("Answered by the instant CPU model")
    else:
        expect(page.locator("#predict-message")).to_contain_text("not running")
