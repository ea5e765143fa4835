"""Model selection: BIC, AIC and ICL over a grid of K x covariance types."""

import streamlit as st

from ui import data as D
from ui import selection as SEL
from ui import state as S
from ui.widgets import current_data_or_stop

S.run_through_app()  # a deep link on a fresh server ran this page without app.py
S.init()  # idempotent

SEL.intro()
data = current_data_or_stop()
fit = st.session_state[S.FIT_SETTINGS]
use_tasks = D.uses_tasks(data, fit)
submitted = SEL.grid_form(fit, use_tasks, data.n_features)
if submitted:
    SEL.run_grid(data, SEL.grid_request(data, fit, use_tasks))
result = SEL.result_or_stop(data)
cells = SEL.best_panel(result["grid"])
SEL.open_cell_panel(cells, result["request"])
SEL.grid_table(result["grid"])
