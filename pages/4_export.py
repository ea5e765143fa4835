"""Export & import: the fitted model as JSON, per-row results as CSV, predictions from a file."""

import streamlit as st

from ui import export as EXP
from ui import state as S

S.run_through_app()  # a deep link on a fresh server ran this page without app.py
S.init()  # idempotent

EXP.intro()
tab_export, tab_import = st.tabs(["Export the current fit", "Import a model and predict"])
with tab_export:
    EXP.export_panel()
with tab_import:
    EXP.import_panel()
