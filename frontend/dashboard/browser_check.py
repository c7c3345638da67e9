"""Drive a running dashboard in headless Chromium through a whole lifecycle and time how fast it follows the API.

    python frontend/dashboard/browser_check.py --url http://127.0.0.1:8501/ --api http://127.0.0.1:8000

Clicks Start model (and Stop, when the dashboard has the admin key), never reloads the page, and prints for each
state the page showed how many seconds after the transition's `at` in GET /status it appeared: the auto-refresh lag a
developer lives with. Exits non-zero if a state never shows up.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime

import requests
from playwright.sync_api import Page, sync_playwright
from screenshot import CHROMIUM, CHROMIUM_ARGS


def shown_state(page: Page) -> str | None:
    values = page.locator('[data-testid="stMetricValue"]').all_inner_texts()
    return values[0] if values else None


def transition_at(api_url: str, to_state: str) -> datetime | None:
    """When the item last entered `to_state`, by the API's own history."""
    history = requests.get(f"{api_url}/status", timeout=10).json().get("history") or []
    times = [entry["at"] for entry in history if entry.get("to") == to_state]
    return datetime.fromisoformat(max(times).replace("Z", "+00:00")) if times else None


def follow(page: Page, api_url: str, button: str, states: list[str], timeout_s: float) -> list[tuple[str, float]]:
    """Click `button`, then wait for each of `states` to show; answer (state, seconds after its transition)."""
    page.get_by_role("button", name=button, exact=True).click()
    lags: list[tuple[str, float]] = []
    for state in states:
        deadline = time.monotonic() + timeout_s
        while shown_state(page) != state:
            if time.monotonic() > deadline:
                raise SystemExit(f"The page never showed {state} (it shows {shown_state(page)}).")
            page.wait_for_timeout(100)
        seen = datetime.now(UTC)
        entered = transition_at(api_url, state)
        lags.append((state, (seen - entered).total_seconds() if entered else float("nan")))
    return lags


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8501/", help="the running dashboard")
    parser.add_argument("--api", default="http://127.0.0.1:8000", help="the API the dashboard watches")
    parser.add_argument("--timeout", type=float, default=180, help="seconds to wait for each state")
    parser.add_argument("--no-stop", action="store_true", help="leave the model in service at the end")
    args = parser.parse_args()
    api_url = args.api.rstrip("/")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(args.url, wait_until="domcontentloaded")
            page.wait_for_selector('[data-testid="stMetricValue"]', timeout=60_000)
            if shown_state(page) not in ("STOPPED", "FAILED"):
                sys.exit(f"The model is {shown_state(page)}; run this from STOPPED so every transition is seen.")
            lags = follow(page, api_url, "Start model", ["STARTING", "IN_SERVICE"], args.timeout)
            if not args.no_stop:
                lags += follow(page, api_url, "Stop", ["STOPPED"], args.timeout)
        finally:
            browser.close()
    for state, lag in lags:
        print(f"{state:<11} shown {lag:5.1f} s after the transition (API times have 1 s resolution)")


if __name__ == "__main__":
    main()
