"""The newcomer's story in a real browser against the real local runtime (`python -m local_runtime`: the same
handlers, a real model server process): open the page, start the model with a phone number, see the text
message, classify a clearly positive and a clearly negative review, and watch the model shut itself down."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from local_runtime.harness import RunningRuntime

REPO_ROOT = Path(__file__).resolve().parents[2]
# A test run leaves the tree clean; UPDATE_SCREENSHOTS=1 refreshes the README's picture instead.
SCREENSHOT = REPO_ROOT / ("docs" if os.environ.get("UPDATE_SCREENSHOTS") else "var") / "screenshots" / "page.png"
PHONE = "+15555550142"
POSITIVE = "An absolute masterpiece, I loved every minute of it. Wonderful acting and a beautiful story."
NEGATIVE = "Terrible, boring and a complete waste of time. The worst film I have seen in years."

pytestmark = pytest.mark.slow


def test_start_predict_two_reviews_and_watch_it_stop(page: Page, local_runtime: RunningRuntime) -> None:
    page.goto(local_runtime.base_url + "/")
    expect(page.locator("#state")).to_have_attribute("data-state", "STOPPED")

    page.fill("#phone", PHONE)
    page.click("#start")
    expect(page.locator("#start-message")).to_contain_text(f"We will text {PHONE}")
    expect(page.locator("#state")).to_have_attribute("data-state", "IN_SERVICE", timeout=120_000)
    expect(page.locator("#countdown")).to_have_text(re.compile(r"^00:[0-3]\d$"))
    expect(page.locator("#outbox li.sms")).to_have_count(1)
    expect(page.locator("#outbox li.sms")).to_contain_text("+1555***0142")  # the runtime masks numbers it shows

    page.fill("#reviews", f"{POSITIVE}\n{NEGATIVE}")
    page.click("#predict")
    results = page.locator("#results li.result")
    expect(results).to_have_count(2, timeout=60_000)
    labels = [results.nth(i).locator(".label").inner_text() for i in range(2)]
    assert labels == ["POSITIVE", "NEGATIVE"]
    expect(page.locator("#results-meta")).to_contain_text("model time")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    expect(page.locator("#state")).to_have_attribute("data-state", "STOPPED", timeout=120_000)
    assert local_runtime.model_server_pids() == []
    page.click("#predict")
    expect(page.locator("#predict-message")).to_contain_text("not running")
