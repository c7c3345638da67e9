"""Dashboard tests run the real Streamlit scripts (AppTest) against an in-process fake of the platform's API:
requests-mock answers at the transport layer, so the dashboard's own HTTP client runs unchanged and no socket opens."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests_mock
import streamlit as st
from streamlit.testing.v1 import AppTest

DASHBOARD_DIR = Path(__file__).resolve().parents[3] / "frontend" / "dashboard"
if str(DASHBOARD_DIR) not in sys.path:
    sys.path.insert(0, str(DASHBOARD_DIR))  # what `streamlit run frontend/dashboard/app.py` does for the app

from dashboard_fake_api import FAKE_API_URL, FakePlatformApi  # noqa: E402


@pytest.fixture
def fake_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePlatformApi]:
    """A fresh fake API behind ONDEMAND_API_URL, with Streamlit's caches emptied so no test sees another's data."""
    monkeypatch.setenv("ONDEMAND_API_URL", FAKE_API_URL)
    monkeypatch.delenv("ONDEMAND_ADMIN_KEY", raising=False)
    monkeypatch.delenv("ONDEMAND_HOURLY_PRICE_USD", raising=False)
    st.cache_data.clear()
    st.cache_resource.clear()
    api = FakePlatformApi()
    with requests_mock.Mocker() as mocker:
        api.register(mocker)
        yield api
    st.cache_data.clear()
    st.cache_resource.clear()


def open_page(page: str | None = None) -> AppTest:
    """Run the dashboard's entry script and, if given, switch to `pages/<page>.py`."""
    app = AppTest.from_file(str(DASHBOARD_DIR / "app.py"), default_timeout=60).run()
    if page:
        app.switch_page(f"pages/{page}.py").run()
    return app
