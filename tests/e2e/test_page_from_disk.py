"""The page opened straight from disk: browsers do not run its ES modules from file://, so it must say how to serve
it instead of showing "Checking…" for ever."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

PAGE = Path(__file__).resolve().parents[2] / "frontend" / "index.html"


def test_page_opened_from_disk_says_how_to_serve_it(page: Page) -> None:
    page.goto(PAGE.as_uri())

    message = page.locator("#connection-message")
    expect(message).to_be_visible()
    expect(message).to_contain_text("must be served over HTTP")
    expect(message).to_contain_text("make demo")
