"""The developer dashboard: `streamlit run frontend/dashboard/app.py` (or `make dashboard`).

Reads everything through the platform's HTTP API (ONDEMAND_API_URL), so the same dashboard watches the local
runtime and a deployed stack.
"""

import streamlit as st
from ondemand_dashboard import ui

st.set_page_config(page_title="On-demand sentiment · developers", page_icon=":material/monitoring:", layout="wide")

pages = st.navigation(
    [
        st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
        st.Page("pages/history.py", title="History", icon=":material/timeline:"),
        st.Page("pages/messages.py", title="Messages", icon=":material/sms:"),
        st.Page("pages/predictions.py", title="Predictions", icon=":material/psychology:"),
        st.Page("pages/cost.py", title="Cost", icon=":material/payments:"),
    ]
)
ui.show_errors(ui.sidebar)
pages.run()  # each page runs inside ui.show_errors itself (AppTest runs a switched-to page without this script)
