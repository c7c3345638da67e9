"""How the dashboard tests open the app: the entry script under AppTest, as `streamlit run frontend/dashboard/app.py`
runs it (its package, ondemand_dashboard, is installed with the project)."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

DASHBOARD_DIR = Path(__file__).resolve().parents[3] / "frontend" / "dashboard"


def open_page(page: str | None = None) -> AppTest:
    """Run the dashboard's entry script and, if given, switch to `pages/<page>.py`."""
    app = AppTest.from_file(str(DASHBOARD_DIR / "app.py"), default_timeout=60).run()
    if page:
        app.switch_page(f"pages/{page}.py").run()
    return app
