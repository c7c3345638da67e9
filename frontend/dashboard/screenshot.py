"""Take the README's screenshot of a running dashboard in headless Chromium (Debian's /usr/bin/chromium).

    python frontend/dashboard/screenshot.py --url http://127.0.0.1:8501/ --out docs/screenshots/dashboard.png

Playwright cannot download its own browser here, so it drives the system one.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def take_screenshot(url: str, out: Path, width: int = 1440, height: int = 900, settle_ms: int = 1500) -> Path:
    """Open `url`, wait until Streamlit has drawn its metrics or a message, and save a full-page PNG."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(url, wait_until="domcontentloaded")
            page.wait_for_selector(
                '[data-testid="stMetricValue"], [data-testid="stAlert"], [data-testid="stDataFrame"]', timeout=60_000
            )
            page.wait_for_timeout(settle_ms)  # charts and fonts finish drawing after the first element
            page.screenshot(path=str(out), full_page=True)
        finally:
            browser.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8501/", help="a page of the running dashboard")
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots/dashboard.png"))
    parser.add_argument("--width", type=int, default=1440)
    parser.add_argument("--height", type=int, default=900)
    args = parser.parse_args()
    print(take_screenshot(args.url, args.out, args.width, args.height))


if __name__ == "__main__":
    main()
