"""Tasks: data in groups that share components in different proportions."""

from ui import state as S
from ui import tasks as T
from ui.widgets import current_data_or_stop

S.run_through_app()  # a deep link on a fresh server ran this page without app.py
S.init()  # idempotent

T.intro()
data = current_data_or_stop()
T.require_task_column(data)
if T.compare_form():
    T.run_comparison(data)
result = T.result_or_stop(data)
T.comparison_panel(data, result["request"], result["table"])
T.shared_weights_panel(data, result["request"])
T.open_shared_button(result["request"])
