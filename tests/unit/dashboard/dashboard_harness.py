"""How the dashboard tests open the app: the entry script under AppTest, with frontend/dashboard on sys.path as
`streamlit run frontend/dashboard/app.py` puts it. A module of its own, because `conftest` is not a unique name."""

from __future__ import annotations

import sys
from pathlib import Path

from streamlit.testing.v1 import AppTest

DASHBOARD_DIR = Path(__file__).resolve().parents[3] / "frontend" / "dashboard"
if str(DASHBOARD_DIR) not in sys.path:
    sys.path.insert(0, str(DASHBOARD_DIR))


def open_page(page: str | None = None) -> AppTest:
    """Run the dashboard's entry script and, if given, switch to `pages/<page>.py`."""
    app = AppTest.from_file(str(DASHBOARD_DIR / "app.py"), default_timeout=60).run()
    if page:
        app.switch_page(f"pages/{page}.py").run()
    return app
