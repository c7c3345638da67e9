"""Browser fixtures: Python Playwright driving Debian's Chromium (`playwright install` cannot download one here)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from local_runtime.harness import RunningRuntime, run_local_runtime
from tests.e2e.fake_api import FakeModel, serve_fake_api

# Polls run every 1-5 s; `expect` must outwait a poll on a busy machine (its own default is 5 s).
expect.set_options(timeout=15_000)

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without a browser every browser test is skipped, saying how to get one; with it, nothing is."""
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} is missing: `make chromium` (part of `make venv`) installs Debian's chromium"
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1100, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(15_000)  # actions (click, fill); assertions use expect's timeout above
    yield page
    context.close()


@pytest.fixture
def fake_model() -> FakeModel:
    return FakeModel()


@pytest.fixture
def fake_api(fake_model: FakeModel) -> Iterator[str]:
    with serve_fake_api(fake_model) as base_url:
        yield base_url


@pytest.fixture(scope="session")
def tiny_model_dir() -> Path:
    """The pipeline's tiny model, made once per cache and shared with tests/integration."""
    from local_runtime.harness import ensure_test_model

    return ensure_test_model()


@pytest.fixture
def local_runtime(tiny_model_dir: Path, tmp_path: Path) -> Iterator[RunningRuntime]:
    """`python -m local_runtime` as a newcomer runs it, on a free port, with a keep-alive short enough to watch."""
    # No stop notice: with a 30 s keep-alive it would go out with the "ready" text (tests/integration covers it).
    no_notice = ("--notice", "0")
    with run_local_runtime(tmp_path / "runtime", tiny_model_dir, keep_alive="30s", extra_args=no_notice) as runtime:
        yield runtime
