"""Dashboard tests run the real Streamlit scripts (AppTest) against an in-process fake of the platform's API:
requests-mock answers at the transport layer, so the dashboard's own HTTP client runs unchanged and no socket opens."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests_mock
import streamlit as st

from tests.unit.dashboard.dashboard_fake_api import FAKE_API_URL, FakePlatformApi


@pytest.fixture
def fake_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePlatformApi]:
    """A fresh fake API behind ONDEMAND_API_URL, with Streamlit's caches emptied so no test sees another's data."""
    monkeypatch.setenv("ONDEMAND_API_URL", FAKE_API_URL)
    for name in ("ONDEMAND_ADMIN_KEY", "ONDEMAND_HOURLY_PRICE_USD", "ONDEMAND_STATE_TABLE", "HISTORY_LIMIT"):
        monkeypatch.delenv(name, raising=False)
    st.cache_data.clear()
    st.cache_resource.clear()
    api = FakePlatformApi()
    with requests_mock.Mocker() as mocker:
        api.register(mocker)
        yield api
    st.cache_data.clear()
    st.cache_resource.clear()
