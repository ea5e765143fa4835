"""GMM Explorer: `streamlit run app.py`.

The entry point builds the navigation over the page scripts in pages/, initializes the
session state (reading a shared link's query parameters), and keeps the URL in sync.
"""

import streamlit as st

from ui import state as S
from ui.widgets import dataset_sidebar

st.set_page_config(page_title="GMM Explorer", page_icon=":material/bubble_chart:", layout="wide")

S.mark_app_run()
S.init()


PAGES = [
    st.Page(
        "pages/1_data.py",
        title="Data",
        icon=":material/table_chart:",
        url_path="data",
        default=True,
    ),
    st.Page(
        "pages/2_explorer.py", title="EM explorer", icon=":material/replay:", url_path="explorer"
    ),
    st.Page(
        "pages/3_selection.py",
        title="Model selection",
        icon=":material/bar_chart:",
        url_path="selection",
    ),
    st.Page(
        "pages/4_export.py", title="Export & import", icon=":material/download:", url_path="export"
    ),
    st.Page("pages/5_tasks.py", title="Tasks", icon=":material/hub:", url_path="tasks"),
]
page = st.navigation(PAGES)
# The URL first (a page may stop early, e.g. before a grid has run), then again after the
# page, for what its run changed.
S.sync_url()
dataset_sidebar(share=page.url_path != "explorer")  # the explorer shows its link by the stepper
page.run()
S.sync_url()
