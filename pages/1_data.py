"""Data: choose a sample, upload a CSV/TSV or generate a synthetic mixture; pick columns."""

from ui import data_page as DP
from ui import state as S
from ui.widgets import current_data_or_stop

S.run_through_app()  # a deep link on a fresh server ran this page without app.py
S.init()  # idempotent

DP.intro()
DP.source_panel()
DP.upload_error()
frame = DP.dataset_header()
DP.column_pickers(frame)
DP.rows_notice(current_data_or_stop())
DP.preview(frame)
DP.next_link()
