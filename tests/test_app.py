"""The dashboard under streamlit.testing.v1.AppTest: every page's happy path and bad inputs,
plus the upload parser (gmmcore.io.tables) directly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gmmcore.io.tables import TableFileError, prepare_features, read_table

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")

AppTest = pytest.importorskip("streamlit.testing.v1").AppTest


def _app():
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


def _page(at, path):
    at.switch_page(path).run()
    assert not at.exception, at.exception
    return at


def _errors(at):
    return [e.value for e in at.error]


def _button(at, label):
    return next(b for b in at.button if b.label == label)


def _chart(at, key):
    """The Plotly figure (as a dict) of the chart with widget key ``key``, or None."""
    import json

    for c in at.get("plotly_chart"):
        if c.proto.id.endswith(f"-{key}"):
            return json.loads(c.proto.spec)
    return None


def _table(at, *columns):
    """The first DataFrame shown with all of ``columns`` (AppTest does not expose
    st.dataframe's key)."""
    for d in at.dataframe:
        if set(columns) <= set(map(str, d.value.columns)):
            return d.value
    raise KeyError(columns)


def _arr(v):
    """A Plotly JSON array: a list, or Plotly's typed-array dict (base64 ``bdata``)."""
    import base64

    if isinstance(v, dict) and "bdata" in v:
        a = np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"])
        shape = v.get("shape")
        if isinstance(shape, str):
            shape = [int(t) for t in shape.split(",")]
        return a.reshape(shape) if shape else a
    return np.asarray(v)


def _penguins(at=None):
    at = at or _app()
    at.selectbox(key="sample_name").set_value("Palmer penguins").run()
    assert not at.exception
    assert at.selectbox(key="task_column").value == "island"
    assert at.checkbox(key="standardize").value is True
    assert len(at.multiselect(key="features").value) == 4
    return at


# -- the upload parser -----------------------------------------------------------------------


def test_read_table_detects_tab_and_latin1():
    data = "name\tlänge\tbreite\nä\t1.5\t2\nö\t2.5\t3\n".encode("latin-1")
    frame, info = read_table(data)
    assert info["delimiter"] == "tab" and info["encoding"] == "Latin-1"
    assert list(frame.columns) == ["name", "länge", "breite"]
    assert frame["länge"].tolist() == [1.5, 2.5]


def test_read_table_detects_semicolon_and_utf8_bom():
    frame, info = read_table("\ufeffa;b\n1;2\n3;4\n".encode())
    assert info["delimiter"] == "semicolon" and info["encoding"] == "UTF-8"
    assert list(frame.columns) == ["a", "b"]


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"   \n\n", "empty"),
        (b"\x00\x01\x02PK\x03\x04" * 100, "binary"),
        (b"a,b\nx,y\nz,w\n", "no numeric column"),
        (b"a,b\n1,2\n", "1 data row"),
        (b"a,b\n1,2\n3,4,5\n6,7\n", "ragged"),
    ],
)
def test_read_table_rejects_bad_files_with_a_clear_message(data, words):
    with pytest.raises(TableFileError, match=words):
        read_table(data, name="the file")


def test_read_table_rejects_files_over_the_limit():
    with pytest.raises(TableFileError, match="over the 0 MB limit"):
        read_table(b"a,b\n" + b"1,2\n" * 1000, max_bytes=100)


def test_prepare_features_counts_and_drops_missing_rows():
    frame = pd.DataFrame(
        {"a": [1.0, np.nan, 3.0, 4.0], "b": [1.0, 2.0, None, 5.0], "t": list("xyxy")}
    )
    prep = prepare_features(frame, ["a", "b"], task_column="t")
    assert prep.n_dropped == 2 and prep.X.shape == (2, 2)
    np.testing.assert_array_equal(prep.row_index, [0, 3])
    assert prep.tasks.tolist() == ["x", "y"]
    with pytest.raises(ValueError, match="at least one"):
        prepare_features(frame, [])


# -- Data page -------------------------------------------------------------------------------


def test_first_screen_is_old_faithful_with_url_state():
    at = _app()
    assert at.title[0].value == "Data"
    assert at.session_state["dataset"]["name"] == "Old Faithful"
    assert at.multiselect(key="features").value == ["eruptions", "waiting"]
    assert at.query_params["sample"] == "Old Faithful"
    assert at.query_params["k"] == "2"
    assert not _errors(at)


def test_sample_selector_and_missing_rows_notice():
    at = _app()
    at.selectbox(key="sample_name").set_value("Palmer penguins").run()
    assert not at.exception
    assert at.selectbox(key="task_column").value == "island"
    assert any("missing value" in w.value and "dropped" in w.value for w in at.warning)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "empty"),
        (b"\x00\x00binary\x00" * 50, "binary"),
        (b"a,b\nfoo,bar\nbaz,qux\n", "no numeric column"),
        (b"a,b\n1,2\n", "data row"),
        (b"a,b\n1,2\n3\n4,5\n", "ragged"),
    ],
)
def test_bad_upload_shows_error_and_keeps_previous_dataset(content, words):
    at = _app()
    at.radio(key="data_source").set_value("Upload a file").run()
    at.file_uploader(key="upload").set_value(("bad.csv", content, "text/csv")).run()
    assert not at.exception
    errors = _errors(at)
    assert errors and words in errors[0] and "previous dataset" in errors[0]
    assert at.session_state["dataset"]["name"] == "Old Faithful"
    # The app keeps working: the explorer still fits the previous data.
    _page(at, "pages/2_explorer.py")
    assert not _errors(at)


def test_good_upload_replaces_the_dataset():
    at = _app()
    at.radio(key="data_source").set_value("Upload a file").run()
    csv = "x;y;kind\n" + "".join(f"{i % 7}.5;{(i * 3) % 11};{'ab'[i % 2]}\n" for i in range(40))
    at.file_uploader(key="upload").set_value(("mine.csv", csv.encode(), "text/csv")).run()
    assert not at.exception and not _errors(at)
    assert at.session_state["dataset"]["name"] == "mine.csv"
    assert at.multiselect(key="features").value == ["x", "y"]


def test_synthetic_generator_with_tasks():
    at = _app()
    at.radio(key="data_source").set_value("Synthetic").run()
    at.number_input(key="syn_n").set_value(300)
    at.number_input(key="syn_tasks").set_value(2)
    _button(at, "Generate").click().run()
    assert not at.exception
    frame = at.session_state["dataset"]["frame"]
    assert frame.shape[0] == 300 and "task" in frame.columns
    assert at.selectbox(key="task_column").value == "task"
    assert at.selectbox(key="label_column").value == "component"


def test_no_feature_selected_is_an_error_not_a_crash():
    at = _app()
    at.multiselect(key="features").set_value([]).run()
    assert not at.exception
    assert any("at least one" in e for e in _errors(at))


# -- EM explorer -----------------------------------------------------------------------------


def test_explorer_steps_forward_and_back_through_e_and_m():
    at = _page(_app(), "pages/2_explorer.py")
    assert not _errors(at)
    assert at.session_state["step"] == 0
    md = " ".join(m.value for m in at.markdown)
    assert "initialization" in md
    at.button(key="step_next").click().run()
    assert at.session_state["step"] == 1
    assert any("after E" in c.value for c in at.caption)
    at.button(key="step_next").click().run()
    assert at.session_state["step"] == 2
    assert any("after M" in c.value for c in at.caption)
    at.button(key="step_prev").click().run()
    assert at.session_state["step"] == 1
    at.button(key="step_last").click().run()
    last = at.session_state["step"]
    assert last == _player_data(at)["n_steps"] - 1 and last > 2
    assert at.query_params["step"] == str(last)
    _player_message(at, "stop", {"step": 3})  # the browser's slider released at step 3
    assert at.session_state["step"] == 3
    at.button(key="step_first").click().run()
    assert at.session_state["step"] == 0
    assert not at.exception


def test_explorer_run_with_restarts_and_other_settings():
    at = _page(_app(), "pages/2_explorer.py")
    at.number_input(key="k").set_value(3)
    at.selectbox(key="cov_type").set_value("diag")
    at.number_input(key="n_init").set_value(3)
    at.number_input(key="max_iter").set_value(20)
    _button(at, "Run EM").click().run()
    assert not at.exception and not _errors(at)
    assert at.session_state["fit_settings"]["n_components"] == 3
    assert at.query_params["type"] == "diag"
    # Every restart can be opened in the stepper.
    at.selectbox(key="restart").set_value(2).run()
    assert not at.exception and at.session_state["restart"] == 2


def test_explorer_more_than_two_features_pca_and_scatter_matrix_and_labels():
    at = _app()
    at.selectbox(key="sample_name").set_value("Palmer penguins").run()
    _page(at, "pages/2_explorer.py")
    assert not _errors(at)
    at.button(key="step_last").click().run()
    at.radio(key="view").set_value("PCA projection").run()
    assert not at.exception
    assert any("projected covariances" in c.value for c in at.caption)
    at.radio(key="view").set_value("Scatter matrix").run()
    assert not at.exception
    assert any(m.label == "Adjusted Rand index" for m in at.metric)


def test_explorer_one_feature_histogram():
    at = _app()
    at.selectbox(key="sample_name").set_value("Lake acidity").run()
    _page(at, "pages/2_explorer.py")
    assert not at.exception and not _errors(at)
    at.button(key="step_next").click().run()
    assert not at.exception


def test_explorer_bad_setting_shows_error():
    at = _page(_app(), "pages/2_explorer.py")
    at.number_input(key="k").set_value(20)
    at.number_input(key="reg_covar").set_value(0.0)
    at.selectbox(key="cov_type").set_value("full")
    _button(at, "Run EM").click().run()
    assert not at.exception  # an EM failure becomes st.error, never a traceback


def test_url_reproduces_a_view():
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(
        {
            "sample": "Iris",
            "cols": "Petal.Length,Petal.Width",
            "k": "3",
            "type": "tied",
            "seed": "4",
            "step": "3",
        }
    )
    at.run()
    _page(at, "pages/2_explorer.py")
    s = at.session_state
    assert s["dataset"]["name"] == "Iris"
    assert s["fit_settings"]["n_components"] == 3 and s["fit_settings"]["covariance_type"] == "tied"
    assert s["fit_settings"]["random_state"] == 4
    assert s["step"] == 3


# -- Model selection -------------------------------------------------------------------------


def test_grid_runs_and_a_cell_opens_in_the_explorer():
    at = _page(_app(), "pages/3_selection.py")
    at.slider(key="grid_k_range").set_value((1, 3))
    at.multiselect(key="grid_types").set_value(["full", "tied"])
    _button(at, "Run the grid").click().run()
    assert not at.exception and not _errors(at)
    grid = at.session_state["grid_result"]["grid"]
    assert grid.shape[0] == 6
    assert at.success and "Best by BIC" in at.success[0].value
    at.radio(key="grid_criterion").set_value("icl").run()
    assert "Best by ICL" in at.success[0].value
    at.selectbox(key="grid_cell").set_value((3, "tied")).run()
    at.button(key="open_cell").click().run()
    assert not at.exception
    fit = at.session_state["fit_settings"]
    # The grid's own settings (model_grid's defaults: hc start, tol 1e-5 relative, as mclust,
    # max_iter 1000).
    assert (fit["n_components"], fit["covariance_type"], fit["init_params"]) == (3, "tied", "hc")
    assert (fit["tol"], fit["convergence"], fit["max_iter"]) == (1e-5, "relative", 1000)
    assert at.selectbox(key="convergence").value == "relative"
    assert at.title[0].value == "EM explorer"


def test_grid_with_no_type_is_an_error():
    at = _page(_app(), "pages/3_selection.py")
    at.multiselect(key="grid_types").set_value([])
    _button(at, "Run the grid").click().run()
    assert not at.exception
    assert any("at least one covariance type" in e for e in _errors(at))


# -- Export & import -------------------------------------------------------------------------


def test_export_offers_model_and_labels_downloads():
    at = _page(_app(), "pages/4_export.py")
    assert not _errors(at)
    labels = [d.label for d in at.get("download_button")]
    assert "Download the model (JSON)" in labels
    assert "Download labels + responsibilities (CSV)" in labels
    preview = at.code[0].value
    assert '"format": "gmmcore.model"' in preview


def _model_text():
    from gmmcore import GaussianMixture
    from gmmcore.io import to_json

    df = pd.read_csv(ROOT / "sample_data" / "faithful.csv")
    m = GaussianMixture(2, random_state=0).fit(df.to_numpy())
    return to_json(m, feature_names=list(df.columns), X=df.to_numpy()), df


def test_import_model_and_predict_on_csv():
    text, df = _model_text()
    at = _page(_app(), "pages/4_export.py")
    at.file_uploader(key="model_upload").set_value(("m.json", text.encode(), "application/json"))
    at.file_uploader(key="predict_upload").set_value(
        ("d.csv", df.head(30).to_csv(index=False).encode(), "text/csv")
    ).run()
    assert not at.exception and not _errors(at)
    out = at.dataframe[-1].value
    assert {"component", "responsibility_0", "responsibility_1"} <= set(out.columns)
    np.testing.assert_allclose(out[["responsibility_0", "responsibility_1"]].sum(axis=1), 1.0)


@pytest.mark.parametrize("bad", [b"{not json", b'{"format": "nope"}', b"\x00\x01"])
def test_malformed_model_file_gets_the_loaders_error(bad):
    at = _page(_app(), "pages/4_export.py")
    at.file_uploader(key="model_upload").set_value(("m.json", bad, "application/json")).run()
    assert not at.exception
    assert any("cannot be loaded" in e for e in _errors(at))


def test_import_csv_missing_model_columns_is_an_error():
    text, _ = _model_text()
    at = _page(_app(), "pages/4_export.py")
    at.file_uploader(key="model_upload").set_value(("m.json", text.encode(), "application/json"))
    at.file_uploader(key="predict_upload").set_value(
        ("d.csv", b"a,b\n1,2\n3,4\n", "text/csv")
    ).run()
    assert not at.exception
    assert any("lacks the model's feature column" in e for e in _errors(at))


# -- Tasks -------------------------------------------------------------------------------------


def test_tasks_page_without_task_column_explains():
    at = _page(_app(), "pages/5_tasks.py")
    assert any("task column" in i.value for i in at.info)


def test_tasks_page_compares_modes():
    at = _app()
    at.selectbox(key="sample_name").set_value("Palmer penguins").run()
    _page(at, "pages/5_tasks.py")
    at.number_input(key="tasks_k").set_value(2)
    _button(at, "Compare pooled, separate and shared").click().run()
    assert not at.exception and not _errors(at)
    assert at.dataframe[0].value["mode"].tolist() == ["pooled", "separate", "shared"]


def test_penguins_are_standardized_by_default_faithful_is_not():
    from gmmcore.datasets import load_sample
    from gmmcore.io.tables import suggest_standardize

    assert suggest_standardize(load_sample("Palmer penguins"), ["bill_length_mm", "body_mass_g"])
    at = _app()
    assert at.checkbox(key="standardize").value is False  # Old Faithful: sd 1.1 vs 13.6
    at.selectbox(key="sample_name").set_value("Palmer penguins").run()
    assert at.checkbox(key="standardize").value is True  # bill depth sd ~2 vs body mass ~800


# -- Tasks with Palmer penguins (issue 4's dashboard part) -------------------------------------


def _penguin_comparison():
    at = _page(_penguins(), "pages/5_tasks.py")
    assert at.number_input(key="tasks_k").value == 3
    _button(at, "Compare pooled, separate and shared").click().run()
    assert not at.exception and not _errors(at)
    return at


def test_tasks_page_penguins_comparison_chart_table_and_sentence():
    at = _penguin_comparison()
    table = _table(at, "mode", "bic")
    assert table["mode"].tolist() == ["pooled", "separate", "shared"]
    assert {"bic", "heldout[Biscoe]", "heldout[Dream]", "heldout[Torgersen]"} <= set(table.columns)
    # The sentence from compare_modes: shared wins on BIC, by how much over each other mode.
    sentence = at.success[0].value
    assert sentence.lower().startswith("shared wins on bic")
    assert "than pooled by" in sentence and "than separate by" in sentence
    fig = _chart(at, "tasks_chart")
    bic = next(t for t in fig["data"] if t.get("meta", {}).get("role") == "bic")
    assert bic["x"] == ["pooled", "separate", "shared"]
    heldout = [t for t in fig["data"] if t.get("meta", {}).get("role") == "heldout"]
    assert [t["name"] for t in heldout] == ["pooled", "separate", "shared"]
    assert heldout[0]["x"] == ["Biscoe", "Dream", "Torgersen"]


def test_tasks_page_penguins_heatmap_of_task_by_component_weights():
    at = _penguin_comparison()
    fig = _chart(at, "tasks_heatmap")
    heat = fig["data"][0]
    assert heat["type"] == "heatmap" and heat["y"] == ["Biscoe", "Dream", "Torgersen"]
    z = _arr(heat["z"]).astype(float)
    assert z.shape == (3, 3)
    np.testing.assert_allclose(z.sum(axis=1), 1.0, atol=1e-9)  # each task's weights sum to 1
    # Torgersen has only Adelie penguins: one component holds (almost) all of its weight, and
    # that component is (almost) absent from Biscoe's Gentoo-dominated mix.
    assert z[2].max() > 0.95


def test_tasks_page_opens_the_shared_model_in_the_explorer():
    at = _penguin_comparison()
    at.button(key="tasks_open_explorer").click().run()
    assert not at.exception and not _errors(at)
    assert at.session_state["fit_settings"]["use_tasks"] is True
    assert at.session_state["fit_settings"]["n_components"] == 3
    assert at.title[0].value == "EM explorer"


def _penguin_explorer_shared():
    at = _page(_penguins(), "pages/2_explorer.py")
    at.checkbox(key="use_tasks").check()
    _button(at, "Run EM").click().run()
    assert not at.exception and not _errors(at)
    return at


def test_explorer_steps_through_the_shared_model_with_task_weights():
    at = _penguin_explorer_shared()
    at.button(key="step_next").click().run()
    at.button(key="step_next").click().run()  # after the first M step
    assert not at.exception and at.session_state["step"] == 2
    params = _table(at, "component", "weight [Biscoe]")
    assert {"weight [Biscoe]", "weight [Dream]", "weight [Torgersen]"} <= set(params.columns)
    heat = _chart(at, "em_task_weights")["data"][0]
    assert heat["y"] == ["Biscoe", "Dream", "Torgersen"]
    np.testing.assert_allclose(_arr(heat["z"]).sum(axis=1), 1.0, atol=1e-9)
    at.button(key="step_last").click().run()
    assert not at.exception
    z_last = _arr(_chart(at, "em_task_weights")["data"][0]["z"])
    assert z_last[2].max() > 0.95  # Torgersen: Adelie only


def test_explorer_colours_points_by_task():
    at = _penguin_explorer_shared()
    at.button(key="step_next").click().run()
    at.radio(key="color_by").set_value("task").run()
    assert not at.exception
    groups = [
        t for t in _chart(at, "em_scatter")["data"] if t.get("meta", {}).get("role") == "group"
    ]
    assert [t["name"] for t in groups] == ["island Biscoe", "island Dream", "island Torgersen"]
    assert (
        sum(len(_arr(t["x"])) for t in groups) == 342
    )  # 344 penguins, 2 with missing measurements
    assert len({t["marker"]["color"] for t in groups}) == 3


def test_explorer_filters_points_by_task():
    at = _penguin_explorer_shared()
    at.button(key="step_next").click().run()
    at.multiselect(key="shown_tasks").set_value(["Torgersen"]).run()
    assert not at.exception
    points = _chart(at, "em_scatter")["data"][0]
    assert len(_arr(points["x"])) == 51  # Torgersen's complete rows
    assert any("Drawing only Torgersen" in c.value for c in at.caption)
    # Colour by task keeps the colour of the task when others are filtered out.
    at.radio(key="color_by").set_value("task").run()
    groups = [
        t for t in _chart(at, "em_scatter")["data"] if t.get("meta", {}).get("role") == "group"
    ]
    assert [t["name"] for t in groups] == ["island Torgersen"]
    assert groups[0]["marker"]["color"] == "rgb(117,112,179)"  # third task colour


def test_export_per_row_responsibilities_with_the_task_column():
    """The CSV (previewed on the page) has the task column beside each row's responsibilities,
    usable as shared features for a per-task downstream model."""
    at = _penguin_explorer_shared()
    _page(at, "pages/4_export.py")
    assert not _errors(at)
    table = _table(at, "island", "responsibility_0")
    assert list(table.columns[:2]) == ["species", "island"]
    assert {"component", "responsibility_0", "responsibility_1", "responsibility_2"} <= set(
        table.columns
    )
    assert len(table) == 342
    np.testing.assert_allclose(
        table[[f"responsibility_{j}" for j in range(3)]].sum(axis=1), 1.0, atol=1e-5
    )
    assert set(table["island"]) == {"Biscoe", "Dream", "Torgersen"}
    labels = [d.proto.label for d in at.get("download_button")]
    assert "Download labels + responsibilities (CSV)" in labels


def test_play_runs_in_the_browser_and_its_stop_message_sets_the_step():
    """Play and the slider live in the browser (ui/player.py): the page sends every half-step's
    frames once and reruns only when the player stops, at the step it stopped on."""
    at = _page(_app(), "pages/2_explorer.py")
    data = _player_data(at)
    assert [f["step"] for f in data["frames"]] == list(range(data["n_steps"]))
    assert data["current"] == 0 and data["target"] == ".st-key-em_scatter"
    _player_message(at, "stop", {"step": 4})
    assert not at.exception and at.session_state["step"] == 4
    assert _player_data(at)["current"] == 4
    assert "Step 4 of" in _step_label(at)
    _player_message(at, "stop", {"step": 10**6})  # clipped to the last half-step
    assert at.session_state["step"] == data["n_steps"] - 1


# -- session keys ------------------------------------------------------------------------------


def _string_session_keys(path):
    """(line, key) of every session key spelled as a string literal in ``path``: a ``key=``
    argument, an ``st.form`` key, or a subscript / get / pop / setdefault / ``in`` test on
    st.session_state or a name bound to it."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))

    def is_state(node):
        return isinstance(node, ast.Attribute) and node.attr == "session_state"

    aliases = {
        t.id
        for n in ast.walk(tree)
        if isinstance(n, ast.Assign) and is_state(n.value)
        for t in n.targets
        if isinstance(t, ast.Name)
    }

    def is_state_or_alias(node):
        return is_state(node) or (isinstance(node, ast.Name) and node.id in aliases)

    def literal(node):
        return isinstance(node, ast.Constant) and isinstance(node.value, str)

    found = []
    for n in ast.walk(tree):
        if isinstance(n, ast.keyword) and n.arg == "key" and literal(n.value):
            found.append((n.value.lineno, n.value.value))
        elif isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute):
            f = n.func
            if f.attr == "form" and n.args and literal(n.args[0]):
                found.append((n.lineno, n.args[0].value))
            elif (
                f.attr in ("get", "pop", "setdefault")
                and is_state_or_alias(f.value)
                and n.args
                and literal(n.args[0])
            ):
                found.append((n.lineno, n.args[0].value))
        elif isinstance(n, ast.Subscript) and is_state_or_alias(n.value) and literal(n.slice):
            found.append((n.lineno, n.slice.value))
        elif (
            isinstance(n, ast.Compare)
            and literal(n.left)
            and any(is_state_or_alias(c) for c in n.comparators)
        ):
            found.append((n.lineno, n.left.value))
    return found


def test_every_session_key_is_a_constant_of_ui_state():
    """app.py, pages/ and ui/ name session keys only through ui/state.py's constants."""
    files = [
        ROOT / "app.py",
        *sorted((ROOT / "pages").glob("*.py")),
        *sorted((ROOT / "ui").glob("*.py")),
    ]
    offenders = [
        f"{p.relative_to(ROOT)}:{line}: {key!r}"
        for p in files
        if p.name != "state.py"
        for line, key in _string_session_keys(p)
    ]
    assert not offenders, offenders


# -- issue 12: a link is the view, seeing M, the Bishop preset, the smaller defects ----------


def _md(at):
    return " ".join(m.value for m in at.markdown)


def _step_label(at):
    import re

    return re.search(r"Step \d+ of \d+", _md(at)).group(0)


def _from_link(params, page="pages/2_explorer.py"):
    """A fresh session opened on a link with ``params`` (the first run reads the URL)."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(params)
    at.run()
    assert not at.exception, at.exception
    return _page(at, page)


def test_url_holds_every_setting_and_a_fresh_session_shows_the_same_view():
    at = _page(_penguins(), "pages/1_data.py")
    at.checkbox(key="standardize").uncheck().run()
    _page(at, "pages/2_explorer.py")
    at.selectbox(key="cov_type").set_value("diag")
    at.selectbox(key="init").set_value("random")
    at.number_input(key="seed").set_value(7)
    at.number_input(key="tol").set_value(1e-5)
    at.number_input(key="max_iter").set_value(50)
    at.number_input(key="n_init").set_value(2)
    at.number_input(key="reg_covar").set_value(1e-4)
    _button(at, "Run EM").click().run()
    for _ in range(5):
        at.button(key="step_next").click().run()
    at.radio(key="view").set_value("PCA projection").run()
    at.radio(key="color_by").set_value("task").run()
    at.toggle(key="hide_future").set_value(True).run()
    assert not at.exception and not _errors(at)
    link = {k: at.query_params[k] for k in at.query_params}
    for name, value in {
        "std": "0",
        "type": "diag",
        "init": "random",
        "seed": "7",
        "tol": "1e-05",
        "iter": "50",
        "n": "2",
        "reg": "0.0001",
        "step": "5",
        "view": "PCA projection",
        "color": "task",
        "future": "1",
    }.items():
        assert link[name] == value, name
    label, params = _step_label(at), _table(at, "component", "weight")
    ari = next(m.value for m in at.metric if m.label == "Adjusted Rand index")
    scatter = _chart(at, "em_scatter")

    fresh = _from_link(link)
    assert _step_label(fresh) == label and label.startswith("Step 5 of ")
    pd.testing.assert_frame_equal(_table(fresh, "component", "weight"), params)
    assert next(m.value for m in fresh.metric if m.label == "Adjusted Rand index") == ari
    assert _chart(fresh, "em_scatter")["data"] == scatter["data"]
    assert fresh.session_state["standardize"] is False
    assert {k: fresh.query_params[k] for k in fresh.query_params} == link


def test_url_keeps_the_grid_and_tasks_settings_on_their_pages():
    at = _from_link(
        {"sample": "Palmer penguins", "gk": "2-4", "gt": "full,diag", "gc": "aic", "tk": "2"},
        "pages/3_selection.py",
    )
    assert at.slider(key="grid_k_range").value == (2, 4)
    assert at.multiselect(key="grid_types").value == ["full", "diag"]
    assert at.query_params["gk"] == "2-4" and at.query_params["gc"] == "aic"
    _page(at, "pages/5_tasks.py")
    assert at.number_input(key="tasks_k").value == 2
    assert at.query_params["tk"] == "2"  # a page that stops before its result keeps the link


def test_opened_grid_cell_is_in_the_link_with_its_start():
    at = _page(_app(), "pages/3_selection.py")
    at.slider(key="grid_k_range").set_value((2, 3))
    at.multiselect(key="grid_types").set_value(["tied"])
    _button(at, "Run the grid").click().run()
    at.selectbox(key="grid_cell").set_value((3, "tied")).run()
    at.button(key="open_cell").click().run()
    assert at.title[0].value == "EM explorer"
    link = {k: at.query_params[k] for k in at.query_params}
    assert (link["k"], link["type"], link["init"], link["n"]) == ("3", "tied", "hc", "1")
    assert link["conv"] == "relative"
    # Reopened from the link: the grid's fit (its BIC) is the explorer's.
    grid = at.session_state["grid_result"]["grid"]
    cell = grid[(grid["n_components"] == 3) & (grid["covariance_type"] == "tied")].iloc[0]
    fresh = _from_link(link)
    assert fresh.session_state["fit_settings"] == at.session_state["fit_settings"]
    final = _table(fresh, "component", "weight")
    assert len(final) == 3 and cell["converged"]
    assert fresh.selectbox(key="convergence").value == "relative"


def test_tasks_page_opens_the_same_shared_fit_in_the_explorer():
    """The Tasks page's shared model and the explorer's are one fit: same component numbers."""
    at = _penguin_comparison()
    heat = _arr(_chart(at, "tasks_heatmap")["data"][0]["z"]).astype(float)
    at.button(key="tasks_open_explorer").click().run()
    assert at.title[0].value == "EM explorer" and at.query_params["shared"] == "1"
    _page(at, "pages/2_explorer.py")  # AppTest reruns its own page, not the switched-to one
    at.button(key="step_last").click().run()
    explorer = _arr(_chart(at, "em_task_weights")["data"][0]["z"]).astype(float)
    np.testing.assert_allclose(explorer, heat, atol=1e-6)


def test_bishop_preset_in_one_click_with_the_compare_view():
    at = _page(_penguins(), "pages/2_explorer.py")
    at.button(key="bishop_button").click().run()
    assert not at.exception and not _errors(at)
    s = at.session_state
    assert s["dataset"]["name"] == "Old Faithful" and s["standardize"] is True
    fit = s["fit_settings"]
    assert fit["n_components"] == 2 and fit["covariance_type"] == "full"
    assert fit["means_init"] == ((-1.5, 1.0), (1.5, -1.5))
    assert at.query_params["start"] == "bishop" and at.query_params["std"] == "1"
    titles = [_chart(at, f"em_compare_{L}")["layout"]["title"]["text"] for L in (1, 2, 5, 20)]
    assert titles[0] == "L = 1" and titles[3].startswith("L = 20")
    # The link reopens the preset.
    fresh = _from_link({k: at.query_params[k] for k in at.query_params})
    assert fresh.session_state["fit_settings"] == fit


def test_manual_start_from_a_link():
    at = _from_link({"start": "manual", "m": "1.0,50.0;4.5,80.0", "sp": "0.5", "k": "2"})
    fit = at.session_state["fit_settings"]
    assert fit["means_init"] == ((1.0, 50.0), (4.5, 80.0))
    assert fit["precisions_init"][0] == ((4.0, 0.0), (0.0, 4.0))  # sd 0.5: precision 4
    init = _table(at, "component", "weight")
    assert init["mean eruptions"].tolist() == [1.0, 4.5]


def test_share_panel_offers_the_link_and_the_upload_is_parsed_before_the_sidebar():
    at = _app()
    assert any("Link to this view" in m.value for m in at.sidebar.markdown)
    assert at.sidebar.code[0].value.startswith("?sample=Old+Faithful")
    at.radio(key="data_source").set_value("Upload a file").run()
    csv = "x,y\n" + "".join(f"{i % 7}.5,{(i * 3) % 11}\n" for i in range(40))
    at.file_uploader(key="upload").set_value(("mine.csv", csv.encode(), "text/csv")).run()
    # Parsed in the uploader's callback, before the sidebar is drawn (AppTest keeps no sidebar
    # past the first run; tests/e2e checks the sidebar's text and the upload warning).
    assert at.session_state["dataset"]["name"] == "mine.csv"


def test_upload_error_goes_away_when_a_sample_is_loaded():
    at = _app()
    at.radio(key="data_source").set_value("Upload a file").run()
    at.file_uploader(key="upload").set_value(("bad.csv", b"", "text/csv")).run()
    assert _errors(at)
    at.radio(key="data_source").set_value("Sample dataset").run()
    at.selectbox(key="sample_name").set_value("Iris").run()
    assert not at.exception and not _errors(at)


def test_no_confusion_table_at_the_initialization():
    at = _app()
    at.selectbox(key="sample_name").set_value("Iris").run()
    _page(at, "pages/2_explorer.py")
    assert at.session_state["step"] == 0
    assert not any(m.label == "Adjusted Rand index" for m in at.metric)
    assert any("no point has responsibilities yet" in i.value for i in at.info)
    at.button(key="step_next").click().run()
    assert any(m.label == "Adjusted Rand index" for m in at.metric)


def test_formula_panel_prints_no_python_exponent():
    at = _page(_app(), "pages/2_explorer.py")
    at.button(key="step_next").click().run()
    text = " ".join(x.value for x in at.latex)
    assert "e+" not in text and "e-0" not in text


def test_restarts_chart_marks_one_optimum():
    at = _page(_app(), "pages/2_explorer.py")
    at.number_input(key="n_init").set_value(3)
    _button(at, "Run EM").click().run()
    fig = _chart(at, "restarts_chart")
    # Old Faithful's three restarts end within tol x N of each other: one optimum, said so,
    # and the axis spans tol x N either side instead of stretching the tiny spread.
    assert "same optimum" in fig["layout"]["title"]["text"]
    lo, hi = fig["layout"]["yaxis"]["range"]
    assert hi - lo == pytest.approx(2 * 1e-3 * 272)


def test_import_preview_rounds_and_defaults_to_the_task_column():
    at, _ = _import_penguins("shared", fitted_islands=("Biscoe", "Dream", "Torgersen"), k=3)
    assert not _errors(at)
    assert at.selectbox(key="predict_task_column").value == "island"  # not "species"
    out = at.dataframe[-1].value
    resp = out[[c for c in out.columns if c.startswith("responsibility_")]].to_numpy()
    np.testing.assert_array_equal(resp, np.round(resp, 6))


def _import_penguins(mode, fitted_islands=("Biscoe", "Dream"), k=2):
    """The Export & import page with a K-component penguins model fitted on
    ``fitted_islands`` only and a data file holding every island."""
    from gmmcore.datasets import load_sample
    from gmmcore.io import to_json
    from gmmcore.multitask import fit_multitask

    frame = load_sample("Palmer penguins").dropna()
    features = ["bill_length_mm", "flipper_length_mm"]
    train = frame[frame["island"].isin(fitted_islands)]
    X, tasks = train[features].to_numpy(), train["island"].to_numpy()
    model = fit_multitask(X, tasks, k, mode=mode)
    text = to_json(model, feature_names=features, X=X, tasks=tasks)
    at = _page(_app(), "pages/4_export.py")
    at.file_uploader(key="model_upload").set_value(("m.json", text.encode(), "application/json"))
    at.file_uploader(key="predict_upload").set_value(
        ("d.csv", frame.to_csv(index=False).encode(), "text/csv")
    ).run()
    assert not at.exception, at.exception
    return at, frame


def test_import_unseen_task_error_speaks_ui_and_the_pooled_checkbox_predicts():
    """A shared model meets a task it was not fitted on: the error names the task and the
    checkbox (not a Python argument), and ticking it predicts every row."""
    at, frame = _import_penguins("shared")
    errors = _errors(at)
    assert len(errors) == 1
    assert "'Torgersen'" in errors[0] and "Use the pooled weights for unseen tasks" in errors[0]
    assert "unknown_task" not in errors[0] and "=" not in errors[0]
    at.checkbox(key="predict_pool_unseen").check().run()
    assert not at.exception and not _errors(at)
    out = at.dataframe[-1].value
    assert len(out) == len(frame) and "Torgersen" in set(out["island"])


def test_import_unseen_task_in_a_separate_model_offers_no_checkbox():
    at, _ = _import_penguins("separate")
    errors = _errors(at)
    assert len(errors) == 1 and "'Torgersen'" in errors[0]
    assert "separate mixture per task" in errors[0] and "unknown_task" not in errors[0]
    assert not [c for c in at.checkbox if c.key == "predict_pool_unseen"]


# -- uploads: Excel, Parquet, refused formats, awkward CSVs ------------------------------------


def _upload(at, name, content, mime="application/octet-stream"):
    at.radio(key="data_source").set_value("Upload a file").run()
    at.file_uploader(key="upload").set_value((name, content, mime)).run()
    assert not at.exception, at.exception
    return at


def _workbook(sheets):
    from tests.test_tables import xlsx_bytes  # skips when openpyxl is missing

    return xlsx_bytes(sheets)


def test_workbook_upload_with_several_sheets_offers_a_sheet_picker():
    rows = [["x", "y", "kind"]] + [[i % 7 + 0.5, (i * 3) % 11, "ab"[i % 2]] for i in range(40)]
    book = _workbook({"Notes": [["read me"], ["the data is on sheet Data"]], "Data": rows})
    at = _upload(_app(), "book.xlsx", book)
    # The first sheet has no data: the error says so and names the other sheets.
    errors = _errors(at)
    assert errors and "'Notes', 'Data'" in errors[0] and "previous dataset" in errors[0]
    assert at.session_state["dataset"]["name"] == "Old Faithful"
    picker = at.selectbox(key="upload_sheet")
    assert picker.options == ["Notes", "Data"] and picker.value == "Notes"
    picker.set_value("Data").run()
    assert not at.exception and not _errors(at)
    assert at.session_state["dataset"]["name"] == "book.xlsx, sheet Data"
    assert at.multiselect(key="features").value == ["x", "y"]
    assert any("sheet 'Data'" in c.value for c in at.caption)


def test_single_sheet_workbook_loads_without_a_picker():
    rows = [["a", "b"]] + [[i, (i * 7) % 5] for i in range(20)]
    at = _upload(_app(), "one.xlsx", _workbook({"Sheet1": rows}))
    assert not _errors(at) and at.session_state["dataset"]["name"] == "one.xlsx"
    assert not [s for s in at.selectbox if s.key == "upload_sheet"]


def test_parquet_upload_with_nullable_integers():
    import io

    pytest.importorskip("pyarrow")
    frame = pd.DataFrame(
        {"a": pd.array([1, 2, None, 4, 5, 9], dtype="Int64"), "b": [0.5, 1, 2, 3, 5, 8]}
    )
    buf = io.BytesIO()
    frame.to_parquet(buf)
    at = _upload(_app(), "t.parquet", buf.getvalue())
    assert not _errors(at) and at.multiselect(key="features").value == ["a", "b"]
    assert any("1 row(s) have a missing value" in w.value for w in at.warning)


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("report.pdf", b"%PDF-1.7\n1 0 obj\n", "a PDF document"),
        ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "Excel 97-2003"),
        ("inf.csv", b"a,b\n1,2\n3,Infinity\n5,6\n", "infinite values (inf) in column 'b'"),
        ("wide.csv", b"x," * 100_000 + b"\n", "over the limit of 5,000"),
        ("long.csv", b"a" * 2_000_000 + b"\n", "field longer than"),
    ],
)
def test_refused_upload_explains_and_keeps_the_dataset(name, content, words):
    at = _upload(_app(), name, content)
    errors = _errors(at)
    assert errors and words in errors[0] and "previous dataset" in errors[0]
    assert at.session_state["dataset"]["name"] == "Old Faithful"


def test_upload_label_lists_the_accepted_types():
    at = _app()
    at.radio(key="data_source").set_value("Upload a file").run()
    label = at.get("file_uploader")[0].label
    assert all(ext in label for ext in (".csv", ".tsv", ".xlsx", ".parquet"))


def test_repeated_column_names_are_renamed_and_shown():
    csv = "x, x,y\n" + "".join(f"{i % 5},{(i * 3) % 7},{i}\n" for i in range(30))
    at = _upload(_app(), "dup.csv", csv.encode(), "text/csv")
    assert not _errors(at)
    assert list(at.session_state["dataset"]["frame"].columns) == ["x", "x.1", "y"]
    assert any("renamed: 'x.1'" in c.value for c in at.caption)


# -- reliability ------------------------------------------------------------------------------


def test_running_the_same_grid_twice_shows_no_traceback():
    """The cached grid used to replay a progress bar created outside it
    (CacheReplayClosureError on the second run)."""
    at = _page(_app(), "pages/3_selection.py")
    at.slider(key="grid_k_range").set_value((1, 2))
    at.multiselect(key="grid_types").set_value(["full"])
    _button(at, "Run the grid").click().run()
    assert not at.exception and not _errors(at)
    first = at.session_state["grid_result"]["grid"]
    _button(at, "Run the grid").click().run()
    assert not at.exception, at.exception
    pd.testing.assert_frame_equal(at.session_state["grid_result"]["grid"], first)


def test_grid_assembled_from_cached_cells_equals_model_grid():
    from gmmcore.selection import model_grid
    from ui.selection import assemble_grid, fit_cells

    X = pd.read_csv(ROOT / "sample_data" / "faithful.csv").to_numpy()
    params = tuple(sorted({"n_init": 1, "random_state": 0, "tol": 1e-3}.items()))
    cells = [(k, t) for k in (1, 2) for t in ("full", "tied")]
    fitted = fit_cells("faithful-test", X, None, cells[:1], params)  # one cell cached first
    rows = fit_cells("faithful-test", X, None, cells, params)  # the other three fitted
    assert rows[0] is fitted[0]
    expected = model_grid(X, [1, 2], ["full", "tied"], n_init=1, random_state=0, tol=1e-3)
    pd.testing.assert_frame_equal(assemble_grid(rows, params), expected)


def test_import_warns_when_the_data_is_on_another_scale():
    from gmmcore import GaussianMixture
    from gmmcore.io import to_json
    from gmmcore.preprocessing import Standardizer

    df = pd.read_csv(ROOT / "sample_data" / "faithful.csv")
    std = Standardizer.fit(df.to_numpy())
    m = GaussianMixture(2, random_state=0).fit(std.transform(df.to_numpy()))
    text = to_json(m, feature_names=list(df.columns), standardizer=std, X=df.to_numpy())
    scaled = (df - df.mean()) / df.std()
    at = _page(_app(), "pages/4_export.py")
    at.file_uploader(key="model_upload").set_value(("m.json", text.encode(), "application/json"))
    at.file_uploader(key="predict_upload").set_value(
        ("d.csv", scaled.to_csv(index=False).encode(), "text/csv")
    ).run()
    assert not at.exception and not _errors(at)
    assert any("standard deviations" in w.value for w in at.warning)


def test_dashboard_csv_downloads_escape_formula_cells():
    from gmmcore import GaussianMixture
    from ui import results as R
    from ui.export import to_safe_csv

    df = pd.read_csv(ROOT / "sample_data" / "faithful.csv").head(4)
    df["note"] = ["=1+2", "@cmd", "-1+2", "ok"]
    model = GaussianMixture(1, random_state=0).fit(df[["eruptions", "waiting"]].to_numpy())
    from gmmcore.model import FittedModel

    out, _ = R.predict_table(FittedModel(model, ["eruptions", "waiting"]), df)
    back = pd.read_csv(__import__("io").StringIO(to_safe_csv(out, index=False)))
    assert list(back["note"]) == ["'=1+2", "'@cmd", "'-1+2", "ok"]


def test_tasks_page_refuses_a_task_column_with_too_many_values():
    from gmmcore.io.limits import MAX_TASKS

    n = MAX_TASKS + 50
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=n), "y": rng.normal(size=n)})
    frame["id"] = [f"r{i}" for i in range(n)]
    at = _app()
    at.radio(key="data_source").set_value("Upload a file").run()
    at.file_uploader(key="upload").set_value(
        ("ids.csv", frame.to_csv(index=False).encode(), "text/csv")
    ).run()
    at.selectbox(key="task_column").set_value("id").run()
    assert not at.exception
    _page(at, "pages/5_tasks.py")
    assert any(f"more than the {MAX_TASKS} tasks" in e for e in _errors(at))


# -- issue 12: stable component identity --------------------------------------------------------


def _mean_colours(at):
    """{colour: (x, y)} of the components' means on the explorer's scatter."""
    fig = _chart(at, "em_scatter")
    return {
        t["marker"]["color"]: (float(_arr(t["x"])[0]), float(_arr(t["y"])[0]))
        for t in fig["data"]
        if (t.get("meta") or {}).get("role") == "mean"
    }


def _close(a, b, tol):
    return abs(a[0] - b[0]) < tol[0] and abs(a[1] - b[1]) < tol[1]


def test_restarts_colour_the_same_cluster_the_same():
    """Every restart's final components take the colour of the best restart's component they
    match, whatever order EM numbered them in."""
    at = _page(_app(), "pages/2_explorer.py")
    at.selectbox(key="init").set_value("random")
    at.number_input(key="n_init").set_value(4)
    _button(at, "Run EM").click().run()
    at.button(key="step_last").click().run()
    best = _mean_colours(at)
    for r in range(4):
        at.selectbox(key="restart").set_value(r).run()
        if not at.button(key="step_last").disabled:
            at.button(key="step_last").click().run()
        shown = _mean_colours(at)
        assert set(shown) == set(best)
        for colour, xy in shown.items():
            assert _close(xy, best[colour], (0.3, 3.0)), (r, colour, xy, best[colour])
    assert not at.exception


def test_changing_k_keeps_the_colours_of_the_clusters_that_stay_and_the_link_keeps_them():
    at = _page(_app(), "pages/2_explorer.py")
    _button(at, "Run EM").click().run()
    at.button(key="step_last").click().run()
    two = _mean_colours(at)
    at.number_input(key="k").set_value(3)
    _button(at, "Run EM").click().run()
    at.button(key="step_last").click().run()
    three = _mean_colours(at)
    kept = 0
    for colour, xy in two.items():
        nearest = min(
            three.items(), key=lambda kv: (kv[1][0] - xy[0]) ** 2 + ((kv[1][1] - xy[1]) / 10) ** 2
        )
        kept += nearest[0] == colour
    assert kept == 2, (two, three)
    # The link carries the matched colours (cs) when they are not 0, 1, 2: a fresh session
    # opened on it draws the same colours at the same places.
    link = {k: at.query_params[k] for k in at.query_params}
    fresh = _from_link(link)
    assert _mean_colours(fresh) == three


@pytest.mark.parametrize("fmt", ["xlsx", "parquet"])
def test_import_predicts_on_an_excel_or_parquet_file(fmt):
    """The Export & import page reads data files with the same reader as the Data page."""
    import io as _io

    text, df = _model_text()
    buf = _io.BytesIO()
    if fmt == "xlsx":
        df.head(30).to_excel(buf, index=False)
    else:
        df.head(30).to_parquet(buf, index=False)
    at = _page(_app(), "pages/4_export.py")
    at.file_uploader(key="model_upload").set_value(("m.json", text.encode(), "application/json"))
    at.file_uploader(key="predict_upload").set_value((f"d.{fmt}", buf.getvalue(), "")).run()
    assert not at.exception and not _errors(at)
    out = at.dataframe[-1].value
    assert len(out) == 30 and "responsibility_0" in out.columns


def test_selection_intro_lists_only_names_that_differ_from_mclusts():
    at = _page(_app(), "pages/3_selection.py")
    intro = " ".join(m.value for m in at.markdown)
    assert "full = VVV" in intro and "spherical = VII" in intro
    assert "EII = EII" not in intro and "V = V" not in intro


# -- issue 12: Play, scrubbing and placing means in the browser (ui/player.py) --------------


def _player(at):
    return next(e for e in at.get("bidi_component") if e.proto.id.endswith("-em_player"))


def _player_data(at):
    """The data the page gave the browser-side player (frames, current step, target)."""
    import json

    return json.loads(_player(at).proto.json)


def _player_message(at, event, value):
    """Send what the player's JavaScript sends (a trigger of the component) and rerun, as
    the browser does; AppTest has no way to click inside a custom component."""
    import json

    from streamlit.components.v2.bidi_component.main import _make_trigger_id

    states = at._tree.get_widget_states()
    w = states.widgets.add()
    w.id = _make_trigger_id(_player(at).proto.id, "events")
    w.json_trigger_value = json.dumps([{"event": event, "value": value}])
    at._run(states)
    assert not at.exception, at.exception
    return at


def test_player_frames_follow_the_view_pca_and_scatter_matrix():
    """The player animates the view shown: the PCA plane, or over the scatter matrix the
    two-feature view of the chosen axes (drawn with its own axes)."""
    at = _penguins()
    _page(at, "pages/2_explorer.py")
    two = _player_data(at)
    assert two["overlay"] == "plot" and two["kind"] == "ellipses" and two["can_place"]
    at.radio(key="view").set_value("PCA projection").run()
    pca = _player_data(at)
    assert pca["x_label"].startswith("PC1") and pca["run"] != two["run"]
    at.radio(key="view").set_value("Scatter matrix").run()
    matrix = _player_data(at)
    assert matrix["target"] == ".st-key-em_splom" and matrix["overlay"] == "standalone"
    assert matrix["x_label"].startswith(at.session_state["features"][0])


def test_player_on_one_feature_animates_the_densities():
    at = _app()
    at.selectbox(key="sample_name").set_value("Lake acidity").run()
    _page(at, "pages/2_explorer.py")
    data = _player_data(at)
    assert data["kind"] == "densities" and data["target"] == ".st-key-em_hist"
    assert not data["can_place"]
    _player_message(at, "stop", {"step": 2})
    assert at.session_state["step"] == 2


def test_means_placed_on_the_plot_fill_the_manual_start_and_start_em():
    """'Place means': the clicked points (in the plane drawn) become the manual start's table,
    K follows their number and EM restarts from them."""
    at = _page(_app(), "pages/2_explorer.py")
    _player_message(at, "place", {"means": [[2.0, 55.0], [4.5, 80.0], [3.5, 70.0]]})
    at.run()  # the fragment asked for the whole page to follow the new fit
    assert not at.exception and not _errors(at)
    assert at.session_state["manual_means"] == [[2.0, 55.0], [4.5, 80.0], [3.5, 70.0]]
    assert at.session_state["k"] == 3 and at.session_state["start"] == "manual"
    assert at.session_state["fit_settings"]["n_components"] == 3
    assert at.session_state["step"] == 0
    assert any("placed on the plot" in c.value for c in at.caption)
    table = _table(at, "eruptions", "waiting")  # the manual start's editable table
    assert table.to_numpy().tolist() == [[2.0, 55.0], [4.5, 80.0], [3.5, 70.0]]


def test_means_placed_on_a_pca_plane_are_lifted_to_every_feature():
    at = _penguins()
    _page(at, "pages/2_explorer.py")
    at.radio(key="view").set_value("PCA projection").run()
    _player_message(at, "place", {"means": [[-1.0, 0.0], [1.5, 0.5]]})
    at.run()
    means = at.session_state["manual_means"]
    assert len(means) == 2 and all(len(m) == 4 for m in means)
    assert at.session_state["fit_settings"]["n_components"] == 2


def test_malformed_player_messages_change_nothing():
    at = _page(_app(), "pages/2_explorer.py")
    _player_message(at, "stop", {"nope": 1})
    _player_message(at, "place", {"means": "x"})
    assert at.session_state["step"] == 0 and at.session_state["start"] == "auto"


# -- the conjugate prior in the explorer ------------------------------------------------------


def test_explorer_fits_under_the_prior_and_the_link_keeps_it():
    from gmmcore import GaussianMixture

    at = _page(_app(), "pages/2_explorer.py")
    at.checkbox(key="prior").check()
    _button(at, "Run EM").click().run()
    at.button(key="step_last").click().run()
    assert not at.exception and not _errors(at)
    fit = at.session_state["fit_settings"]
    assert fit["prior"] == "default"
    link = {k: at.query_params[k] for k in at.query_params}
    assert link["prior"] == "default"
    # The explorer's final parameters are GaussianMixture's under the prior, not without it.
    X = pd.read_csv(ROOT / "sample_data" / "faithful.csv").to_numpy()
    args = {k: v for k, v in fit.items() if k != "use_tasks"}
    with_prior = GaussianMixture(**args).fit(X)
    without = GaussianMixture(**{**args, "prior": None}).fit(X)
    weights = _table(at, "component", "weight")["weight"].astype(float).to_numpy()
    # Shown to 4 decimals: 0.6441 under the prior, 0.6442 without (0.64407 vs 0.64424).
    assert np.allclose(weights, with_prior.weights_, rtol=0, atol=6e-5)
    assert not np.allclose(weights, without.weights_, rtol=0, atol=6e-5)
    fresh = _from_link(link)
    assert fresh.checkbox(key="prior").value is True
    assert fresh.session_state["fit_settings"] == fit


def test_a_prior_grid_cell_opens_in_the_explorer_under_the_prior():
    at = _page(_app(), "pages/3_selection.py")
    at.slider(key="grid_k_range").set_value((2, 3))
    at.multiselect(key="grid_types").set_value(["tied"])
    at.checkbox(key="grid_prior").check()
    _button(at, "Run the grid").click().run()
    at.selectbox(key="grid_cell").set_value((3, "tied")).run()
    at.button(key="open_cell").click().run()
    assert not at.exception and at.title[0].value == "EM explorer"
    assert at.session_state["fit_settings"]["prior"] == "default"
    assert at.checkbox(key="prior").value is True


def test_prior_on_a_model_without_one_is_a_clear_error():
    at = _page(_app(), "pages/2_explorer.py")
    at.checkbox(key="prior").check()
    at.selectbox(key="cov_type").set_value("EVE")
    _button(at, "Run EM").click().run()
    assert not at.exception
    assert any("no conjugate prior" in e for e in _errors(at)), _errors(at)


# -- Model selection: every model grouped and explained, top three, edge note --------------------


def _frame_with(at, column):
    """The value of the page's only st.dataframe with ``column``."""
    (frame,) = [d.value for d in at.dataframe if column in d.value.columns]
    return frame


def test_selection_offers_every_model_grouped_and_in_plain_words():
    at = _page(_app(), "pages/3_selection.py")
    assert not at.exception
    # mclust's default: every model offered for 2-D data is selected.
    assert len(at.multiselect(key="grid_types").value) == 14
    models = _frame_with(at, "family")
    assert list(models["model"]) == [
        "EII", "VII", "EEI", "VEI", "EVI", "VVI",
        "EEE", "VEE", "EVE", "VVE", "EEV", "VEV", "EVV", "VVV",
    ]  # fmt: skip
    vev = models[models["model"] == "VEV"].iloc[0]
    assert (vev["volume"], vev["shape"], vev["orientation"]) == ("variable", "equal", "variable")
    assert models[models["model"] == "VVV"].iloc[0]["our name"] == "full"
    assert set(models["family"]) == {
        "round (spherical)",
        "axis-aligned (diagonal)",
        "any orientation (ellipsoidal)",
    }
    at.button(key="grid_sklearn_types").click().run()
    assert at.multiselect(key="grid_types").value == ["full", "tied", "diag", "spherical"]
    at.button(key="grid_all_types").click().run()
    assert len(at.multiselect(key="grid_types").value) == 14


def test_selection_shows_the_top_three_and_warns_when_the_best_k_is_at_the_edge():
    at = _page(_app(), "pages/3_selection.py")
    at.slider(key="grid_k_range").set_value((1, 2))
    at.multiselect(key="grid_types").set_value(["full", "tied", "diag"])
    _button(at, "Run the grid").click().run()
    assert not at.exception and not _errors(at)
    top = _frame_with(at, "rank")
    assert list(top["rank"]) == [1, 2, 3]
    assert (
        top["BIC behind the best"].iloc[0] == 0
        and top["BIC behind the best"].is_monotonic_increasing
    )
    grid = at.session_state["grid_result"]["grid"]
    assert top["BIC"].iloc[0] == round(grid["bic"].min(), 2)
    assert any("largest K tried" in i.value for i in at.info)  # Old Faithful's best K here is 2
    at.slider(key="grid_k_range").set_value((1, 4))
    _button(at, "Run the grid").click().run()
    assert not any("largest K tried" in i.value for i in at.info)  # K = 3 wins inside 1..4


def test_a_full_cell_cache_never_drops_a_cell_the_grid_asks_for(monkeypatch):
    """The oldest cached cell, asked for again beside new ones that overflow the cache, is
    still returned (rows are taken before the oldest entries are dropped)."""
    from ui import selection as SEL

    monkeypatch.setattr(SEL, "CELL_CACHE_ENTRIES", 2)
    monkeypatch.setattr(SEL, "_CELLS", type(SEL._CELLS)())
    X = pd.read_csv(ROOT / "sample_data" / "faithful.csv").to_numpy()
    params = tuple(sorted({"n_init": 1, "random_state": 0, "tol": 1e-3}.items()))
    first = SEL.fit_cells("cache-test", X, None, [(1, "full")], params)
    rows = SEL.fit_cells("cache-test", X, None, [(1, "full"), (2, "full"), (3, "full")], params)
    assert rows[0] is first[0] and [int(r.at[0, "n_components"]) for r in rows] == [1, 2, 3]
    assert len(SEL._CELLS) == 2
