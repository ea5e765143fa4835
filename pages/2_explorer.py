"""EM explorer: fit, then step through EM one half-step at a time."""

from ui import explorer as EX
from ui import state as S
from ui.widgets import current_data_or_stop, current_fit_or_stop

S.run_through_app()  # a deep link on a fresh server ran this page without app.py
S.init()  # idempotent

EX.intro()
data = current_data_or_stop()
fit_column, *start_columns = EX.settings_row()
EX.fit_form(data, fit_column)
model = current_fit_or_stop(data)
history = EX.restarts_panel(model, data)
EX.start_panel(data, history, start_columns)
run = EX.stepper_run(data, history, model)
EX.stepper(run)
EX.compare_panel(run)
