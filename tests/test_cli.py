"""The command line: happy paths in-process, a few real subprocess runs, and every bad input
ending in exactly one stderr line and exit status 2."""

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gmmcore import covariance_types
from gmmcore.cli import main
from gmmcore.io import load_model

ROOT = Path(__file__).resolve().parent.parent
FAITHFUL = str(ROOT / "sample_data" / "faithful.csv")
PENGUINS = str(ROOT / "sample_data" / "penguins.csv")
PENGUIN_COLUMNS = "bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


PENGUIN_FIT = [
    "fit",
    PENGUINS,
    "-k",
    "3",
    "--standardize",
    "--columns",
    PENGUIN_COLUMNS,
    "--task-column",
    "island",
]


@pytest.fixture(scope="module")
def faithful_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("m") / "faithful.json"
    assert main(["fit", FAITHFUL, "-k", "2", "--output", str(path)]) == 0
    return path


@pytest.fixture(scope="module")
def penguin_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("m") / "penguins.json"
    assert main([*PENGUIN_FIT, "--output", str(path)]) == 0
    return path


# -- happy paths --------------------------------------------------------------------------------
def test_fit_writes_a_model_that_loads_and_predicts(capsys, tmp_path):
    out_path = tmp_path / "m.json"
    code, out, err = run(
        capsys,
        "fit",
        FAITHFUL,
        "--components",
        "3",
        "--covariance-type",
        "tied",
        "--n-init",
        "2",
        "--seed",
        "1",
        "--output",
        out_path,
    )
    assert code == 0, err
    for word in ("3 component", "'tied'", "log-likelihood", "BIC", "converged", str(out_path)):
        assert word in out
    model = load_model(out_path)
    assert model.n_components == 3 and model.covariance_type == "tied"
    X = pd.read_csv(FAITHFUL)
    assert model.predict(X).shape == (272,)
    assert model.metadata["random_state"] == 1 and model.metadata["bic"] is not None


def test_fit_with_task_column_fits_a_shared_model(capsys, penguin_model):
    model = load_model(penguin_model)
    assert model.mode == "shared"
    assert model.tasks == ("Biscoe", "Dream", "Torgersen")
    assert model.standardizer is not None
    assert model.metadata["task_column"] == "island" and model.metadata["n_samples"] == 342


def test_select_uses_mclusts_relative_rule_and_fit_can_too(capsys, tmp_path):
    code, out, _ = run(capsys, "select", FAITHFUL, "--components", "3", "--covariance-types", "EEE")
    assert code == 0 and "tol=1e-05 (relative)" in out
    code, out, _ = run(
        capsys,
        "select",
        FAITHFUL,
        "--components",
        "3",
        "--covariance-types",
        "EEE",
        "--convergence",
        "mean",
    )
    assert code == 0 and "tol=1e-05 (mean)" in out
    path = tmp_path / "m.json"
    code, _, _ = run(capsys, "fit", FAITHFUL, "-k", "2", "--convergence", "relative", "-o", path)
    assert code == 0 and json.loads(path.read_text())["fit"]["convergence"] == "relative"
    code, _, err = run(capsys, "fit", FAITHFUL, "-k", "2", "--convergence", "abs", "-o", path)
    assert code == 2 and "--convergence" in err and "relative" in err


def test_fit_skips_incomplete_rows_with_a_note(capsys, tmp_path):
    code, _, err = run(
        capsys,
        "fit",
        PENGUINS,
        "-k",
        "2",
        "--columns",
        "bill_length_mm,body_mass_g",
        "-o",
        tmp_path / "m.json",
    )
    assert code == 0
    assert err.startswith("note: skipped 2 of 344 row(s)")


def test_select_prints_an_aligned_table_with_the_best_bic_marked(capsys):
    code, out, err = run(
        capsys, "select", FAITHFUL, "--components", "1-3", "--covariance-types", "full,tied"
    )
    assert code == 0
    lines = out.splitlines()
    header = next(i for i, ln in enumerate(lines) if "BIC" in ln and "ICL" in ln)
    rows = lines[header + 1 : header + 7]
    assert len(rows) == 6 and sum(r.startswith("*") for r in rows) == 1
    best = next(i for i, ln in enumerate(lines) if ln.startswith("* lowest BIC"))
    assert lines[best + 1].startswith("top three by BIC: EEE,3 (2314.31), ")
    # Cells finish on several processes: each is reported once, counted 1..6.
    progress = [ln for ln in err.splitlines() if ln.startswith("[")]
    assert [ln.split("]")[0] for ln in progress] == [f"[{i}/6" for i in range(1, 7)]
    assert sorted(ln.split("] ")[1] for ln in progress) == sorted(
        f"K={k} {t}" for k in (1, 2, 3) for t in ("full", "tied")
    )


def test_select_notes_a_best_k_at_the_edge_of_the_range(capsys):
    code, out, _ = run(capsys, "select", FAITHFUL, "--components", "1-2", "-q")
    assert code == 0
    assert out.splitlines()[-1].startswith("note: the best K (2) is the largest tried")


def test_select_csv_parses_back_with_pandas(capsys):
    code, out, _ = run(
        capsys, "select", FAITHFUL, "-k", "2,3", "--covariance-types", "tied", "--csv", "--quiet"
    )
    assert code == 0
    grid = pd.read_csv(io.StringIO(out))
    assert list(grid["n_components"]) == [2, 3]
    assert {"bic", "aic", "icl", "mclust_name", "error"} <= set(grid.columns)
    assert np.isfinite(grid["bic"]).all()


def test_predict_writes_one_row_per_input_row_with_probabilities_summing_to_one(
    capsys, faithful_model
):
    code, out, _ = run(capsys, "predict", faithful_model, FAITHFUL)
    assert code == 0
    pred = pd.read_csv(io.StringIO(out))
    assert list(pred.columns) == ["label", "p0", "p1"] and len(pred) == 272
    np.testing.assert_allclose(pred[["p0", "p1"]].sum(axis=1), 1.0, rtol=0, atol=1e-12)
    model = load_model(faithful_model)
    assert np.array_equal(pred["label"], model.predict(pd.read_csv(FAITHFUL)))


def test_predict_probabilities_are_written_at_full_precision(capsys, faithful_model):
    _, out, _ = run(capsys, "predict", faithful_model, FAITHFUL)
    pred = pd.read_csv(io.StringIO(out))  # pandas 3 parses floats round-trip by default
    model = load_model(faithful_model)
    assert np.array_equal(pred[["p0", "p1"]].to_numpy(), model.predict_proba(pd.read_csv(FAITHFUL)))


def test_predict_multitask_keeps_incomplete_rows_blank(capsys, penguin_model):
    code, out, err = run(capsys, "predict", penguin_model, PENGUINS, "--with-input")
    assert code == 0
    pred = pd.read_csv(io.StringIO(out))
    assert len(pred) == 344 and "island" in pred.columns
    assert pred["label"].isna().sum() == 2
    done = pred.dropna(subset=["label"])
    np.testing.assert_allclose(done[["p0", "p1", "p2"]].sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert "left blank 2 of 344" in err


def test_predict_unknown_task_with_pooled_weights(capsys, penguin_model, tmp_path):
    data = tmp_path / "mars.csv"
    data.write_text(Path(PENGUINS).read_text().replace("Torgersen", "Mars"))
    code, out, _ = run(capsys, "predict", penguin_model, data, "--unknown-task", "pooled")
    assert code == 0 and len(pd.read_csv(io.StringIO(out))) == 344


def test_semicolon_file_with_decimal_commas_is_read(capsys, tmp_path):
    data = tmp_path / "semi.csv"
    df = pd.read_csv(FAITHFUL)
    data.write_text(
        "eruptions;waiting\n"
        + "\n".join(f"{str(e).replace('.', ',')};{w}" for e, w in df.itertuples(index=False))
    )
    code, out, _ = run(capsys, "fit", data, "-k", "2", "-o", tmp_path / "m.json")
    assert code == 0 and "272 rows x 2 features" in out


def test_latin1_tab_file_is_read(capsys, tmp_path):
    data = tmp_path / "latin.tsv"
    df = pd.read_csv(FAITHFUL)
    text = "durée\twaiting\n" + "\n".join(f"{e}\t{w}" for e, w in df.itertuples(index=False))
    data.write_bytes(text.encode("latin-1"))
    code, out, _ = run(capsys, "fit", data, "-k", "2", "-o", tmp_path / "m.json")
    assert code == 0 and "durée" in out


def test_help_of_every_command_describes_options_with_an_example(capsys):
    for command in ("fit", "select", "predict"):
        code, out, _ = run(capsys, command, "--help")
        assert code == 0
        assert "Examples:" in out and "python -m gmmcore " + command in out
        assert "--on-missing" in out


# -- multi-task modes ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mode_models(tmp_path_factory):
    d = tmp_path_factory.mktemp("modes")
    paths = {}
    for mode in ("pooled", "separate", "shared"):
        paths[mode] = d / f"{mode}.json"
        assert main([*PENGUIN_FIT, "--mode", mode, "--output", str(paths[mode])]) == 0
    return paths


@pytest.mark.parametrize("mode", ["pooled", "separate", "shared"])
def test_fit_with_each_mode_writes_that_mode(mode, mode_models):
    model = load_model(mode_models[mode])
    assert model.mode == mode and model.tasks == ("Biscoe", "Dream", "Torgersen")
    assert model.task_n_samples == [167, 124, 51]
    assert model.metadata["task_column"] == "island"


def test_fit_summary_names_the_mode_and_the_tasks(capsys, tmp_path):
    code, out, _ = run(capsys, *PENGUIN_FIT, "--mode", "separate", "-o", tmp_path / "m.json")
    assert code == 0
    assert "separate: one independent mixture per task" in out
    assert "Biscoe (167), Dream (124), Torgersen (51)" in out and "132 parameters" in out


def test_shared_is_the_default_mode_with_a_task_column(penguin_model):
    assert load_model(penguin_model).mode == "shared"


@pytest.mark.parametrize("mode", ["pooled", "separate", "shared"])
def test_predict_with_each_mode_matches_the_loaded_model(mode, capsys, mode_models):
    code, out, _ = run(capsys, "predict", mode_models[mode], PENGUINS)
    assert code == 0
    pred = pd.read_csv(io.StringIO(out))
    df = pd.read_csv(PENGUINS).dropna(subset=PENGUIN_COLUMNS.split(","))
    model = load_model(mode_models[mode])
    expected = model.predict_proba(df, df["island"])
    got = pred.loc[df.index, ["p0", "p1", "p2"]].to_numpy()
    assert np.array_equal(got, expected)


def test_predict_pooled_model_needs_no_task_column(capsys, mode_models, tmp_path):
    data = tmp_path / "no_island.csv"
    pd.read_csv(PENGUINS).drop(columns="island").to_csv(data, index=False)
    code, out, _ = run(capsys, "predict", mode_models["pooled"], data)
    assert code == 0 and len(pd.read_csv(io.StringIO(out))) == 344


def test_predict_separate_unknown_task_is_an_error_even_with_pooled(capsys, mode_models, tmp_path):
    data = tmp_path / "mars.csv"
    data.write_text(Path(PENGUINS).read_text().replace("Torgersen", "Mars"))
    code, out, err = run(
        capsys, "predict", mode_models["separate"], data, "--unknown-task", "pooled"
    )
    assert code == 2 and out == ""
    last = err.splitlines()[-1]
    assert "Mars" in last and "no shared components" in last and "--mode shared" in last


PENGUIN_SELECT = [
    "select",
    PENGUINS,
    "--task-column",
    "island",
    "--columns",
    PENGUIN_COLUMNS,
    "--standardize",
]


def test_select_with_tasks_compares_the_three_modes(capsys):
    code, out, err = run(capsys, *PENGUIN_SELECT, "--components", "3", "--covariance-types", "full")
    assert code == 0
    lines = out.splitlines()
    header = next(i for i, ln in enumerate(lines) if "BIC" in ln and "held-out/row" in ln)
    assert "held-out Biscoe" in lines[header] and "held-out Torgersen" in lines[header]
    rows = lines[header + 1 : header + 4]
    assert [r.lstrip("* ").split()[0] for r in rows] == ["pooled", "separate", "shared"]
    assert sum(r.startswith("*") for r in rows) == 1 and rows[2].startswith("*")  # shared
    assert lines[header + 4].startswith("* lowest BIC: shared, K=3 full")
    # select's defaults (hc start, tol 1e-5, max_iter 1000: model_grid's), not fit's.
    assert lines[-1].startswith("shared wins on BIC (2234.7), lower than pooled by 318.9")
    assert "[1/1] K=3 full: pooled, separate, shared" in err


def test_select_with_tasks_csv_has_one_row_per_mode_k_and_type(capsys):
    code, out, _ = run(
        capsys,
        *PENGUIN_SELECT,
        "--components",
        "2,3",
        "--covariance-types",
        "tied,diag",
        "--csv",
        "--quiet",
    )
    assert code == 0
    grid = pd.read_csv(io.StringIO(out))
    assert len(grid) == 12 and grid["best"].sum() == 1
    assert {
        "mode",
        "n_components",
        "covariance_type",
        "n_parameters",
        "bic",
        "aic",
        "icl",
        "heldout_per_sample",
        "heldout[Dream]",
        "error",
    } <= set(grid.columns)
    best = grid[grid["best"]].iloc[0]
    assert best["bic"] == grid["bic"].min()


def test_select_reports_a_separate_task_smaller_than_k_in_its_error_column(capsys, tmp_path):
    rng = np.random.default_rng(0)
    data = tmp_path / "small_task.csv"
    frame = pd.DataFrame(rng.normal(size=(43, 2)), columns=["a", "b"])
    frame["site"] = ["big"] * 40 + ["tiny"] * 3
    frame.to_csv(data, index=False)
    code, out, _ = run(
        capsys,
        "select",
        data,
        "--task-column",
        "site",
        "-k",
        "4",
        "--covariance-types",
        "spherical",
        "--quiet",
    )
    assert code == 0
    row = next(ln for ln in out.splitlines() if " separate " in ln)
    assert "task 'tiny' has 3 row(s)" in row
    assert "separate failed" in out.splitlines()[-1]


def test_select_help_documents_tasks_with_the_penguins_example(capsys):
    code, out, _ = run(capsys, "select", "--help")
    assert code == 0
    assert "--task-column" in out and "--test-size" in out and "held-out" in out
    assert "select sample_data/penguins.csv --task-column island" in out


def test_fit_help_lists_every_mode(capsys):
    _, out, _ = run(capsys, "fit", "--help")
    for words in ("pooled:", "separate:", "shared:", "default: shared"):
        assert words in " ".join(out.split())


def test_python_m_gmmcore_select_with_tasks():
    result = _python_m(
        "select",
        "sample_data/penguins.csv",
        "--task-column",
        "island",
        "--columns",
        PENGUIN_COLUMNS,
        "--standardize",
        "--components",
        "3",
    )
    assert result.returncode == 0, result.stderr
    # The default grid is every registered type; mclust's VEE wins (tied was best of the four
    # built-ins, and is second here: BIC 2195.0 against VEE's 2193.4).
    assert "* lowest BIC: shared, K=3 VEE" in result.stdout
    assert result.stdout.count(" wins on BIC") == len(covariance_types(4))
    assert "Traceback" not in result.stderr


# -- bad input: one line on stderr, exit 2 ------------------------------------------------------
@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    (d / "empty.csv").write_text("")
    (d / "binary.csv").write_bytes(b"\x00\x01\x02PK\x03\x04" * 20)
    (d / "text.csv").write_text("name,colour\nalice,red\nbob,blue\n")
    (d / "ragged.csv").write_text("a,b\n1,2\n3,4,5\n")
    (d / "header_only.csv").write_text("a,b\n")
    (d / "inf.csv").write_text("a,b\n1,2\n3,inf\n5,6\n")
    (d / "few.csv").write_text("a,b\n1,2\n3,5\n")
    (d / "bad_model.json").write_text('{"format": "gmmcore.model", "version": 1,')
    (d / "not_model.json").write_text('{"hello": 1}')
    (d / "tiny_task.csv").write_text(
        "a,b,site\n"
        + "".join(f"{i},{(i * 7) % 5},big\n" for i in range(20))
        + "1,2,tiny\n3,1,tiny\n"
    )
    (d / "one_task.csv").write_text("a,b,site\n1,2,x\n3,5,x\n4,4,x\n")
    return d


ERRORS = {
    "missing_file": (["fit", "{d}/absent.csv", "-k", "2", "-o", "{d}/o.json"], "does not exist"),
    "empty_file": (["fit", "{d}/empty.csv", "-k", "2", "-o", "{d}/o.json"], "is empty"),
    "binary_file": (["fit", "{d}/binary.csv", "-k", "2", "-o", "{d}/o.json"], "looks binary"),
    "ragged_csv": (["fit", "{d}/ragged.csv", "-k", "1", "-o", "{d}/o.json"], "not a readable CSV"),
    "header_only": (["fit", "{d}/header_only.csv", "-k", "1", "-o", "{d}/o.json"], "no data rows"),
    "no_numeric_columns": (
        ["fit", "{d}/text.csv", "-k", "1", "-o", "{d}/o.json"],
        "no numeric columns",
    ),
    "unknown_column": (
        ["fit", FAITHFUL, "-k", "2", "--columns", "eruptions,height", "-o", "{d}/o.json"],
        "available columns: eruptions, waiting",
    ),
    "non_numeric_column": (
        ["fit", PENGUINS, "-k", "2", "--columns", "species", "-o", "{d}/o.json"],
        "column 'species' is not numeric",
    ),
    "unknown_task_column": (
        ["fit", FAITHFUL, "-k", "2", "--task-column", "site", "-o", "{d}/o.json"],
        "task column 'site' is not in",
    ),
    "too_few_rows": (
        ["fit", "{d}/few.csv", "-k", "3", "-o", "{d}/o.json"],
        "only 2 complete row(s)",
    ),
    "infinite_values": (["fit", "{d}/inf.csv", "-k", "1", "-o", "{d}/o.json"], "infinite values"),
    "missing_values_as_error": (
        ["fit", PENGUINS, "-k", "2", "--on-missing", "error", "-o", "{d}/o.json"],
        "missing values",
    ),
    "unknown_covariance_type": (
        ["fit", FAITHFUL, "-k", "2", "--covariance-type", "VVX", "-o", "{d}/o.json"],
        "unknown covariance type 'VVX'",
    ),
    "components_not_a_number": (
        ["fit", FAITHFUL, "-k", "two", "-o", "{d}/o.json"],
        "must be a whole number",
    ),
    "components_zero": (["fit", FAITHFUL, "-k", "0", "-o", "{d}/o.json"], "must be >= 1"),
    "missing_required_option": (["fit", FAITHFUL, "-k", "2"], "--output"),
    "unwritable_output": (
        ["fit", FAITHFUL, "-k", "2", "-o", "{d}/no/such/dir/m.json"],
        "cannot write",
    ),
    "mode_without_task_column": (
        ["fit", FAITHFUL, "-k", "2", "--mode", "shared", "-o", "{d}/o.json"],
        "add --task-column",
    ),
    "select_bad_range": (["select", FAITHFUL, "--components", "9-1"], "runs backwards"),
    "select_range_garbage": (["select", FAITHFUL, "--components", "a-b"], "bad --components"),
    "select_range_zero": (["select", FAITHFUL, "--components", "0-3"], "K must be >= 1"),
    "select_unknown_type": (
        ["select", FAITHFUL, "--covariance-types", "full,round"],
        "unknown covariance type 'round'",
    ),
    "select_too_few_rows": (["select", "{d}/few.csv", "--components", "1-4"], "goes up to 4"),
    "predict_malformed_model": (["predict", "{d}/bad_model.json", FAITHFUL], "not valid JSON"),
    "predict_not_a_model": (["predict", "{d}/not_model.json", FAITHFUL], "missing field 'format'"),
    "predict_missing_model": (["predict", "{d}/absent.json", FAITHFUL], "does not exist"),
    "unknown_mode": (
        [
            "fit",
            PENGUINS,
            "-k",
            "2",
            "--task-column",
            "island",
            "--mode",
            "mixed",
            "-o",
            "{d}/o.json",
        ],
        "invalid choice: 'mixed'",
    ),
    "separate_task_smaller_than_k": (
        [
            "fit",
            "{d}/tiny_task.csv",
            "-k",
            "3",
            "--task-column",
            "site",
            "--mode",
            "separate",
            "-o",
            "{d}/o.json",
        ],
        "task 'tiny' has 2 row(s)",
    ),
    "select_single_task": (
        ["select", "{d}/one_task.csv", "--task-column", "site", "-k", "1"],
        "has a single task",
    ),
    "select_test_size_without_tasks": (
        ["select", FAITHFUL, "-k", "2", "--test-size", "0.3"],
        "add --task-column",
    ),
    "select_bad_test_size": (
        ["select", PENGUINS, "--task-column", "island", "--test-size", "1.5"],
        "strictly between 0 and 1",
    ),
    "select_unknown_task_column": (
        ["select", FAITHFUL, "--task-column", "site"],
        "task column 'site' is not in",
    ),
    "no_command": ([], "choose a command"),
    "unknown_command": (["train", FAITHFUL], "invalid choice"),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_bad_input_is_one_stderr_line_and_exit_2(case, capsys, bad_files):
    argv, fragment = ERRORS[case]
    code, out, err = run(capsys, *[a.format(d=bad_files) for a in argv])
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and fragment in lines[0], lines[0]
    assert "; " in lines[0]  # what is wrong; how to fix it
    assert "Traceback" not in err and out == ""


def test_predict_missing_feature_column_lists_available_ones(capsys, faithful_model, tmp_path):
    data = tmp_path / "one.csv"
    data.write_text("eruptions,height\n1,2\n3,4\n")
    code, _, err = run(capsys, "predict", faithful_model, data)
    assert code == 2 and err.count("\n") == 1
    assert "no column 'waiting'" in err and "available columns: eruptions, height" in err


def test_predict_unknown_task_is_an_error_by_default(capsys, penguin_model, tmp_path):
    data = tmp_path / "mars.csv"
    data.write_text(Path(PENGUINS).read_text().replace("Torgersen", "Mars"))
    code, _, err = run(capsys, "predict", penguin_model, data)
    assert code == 2
    last = err.splitlines()[-1]
    assert "Mars" in last and "Biscoe, Dream, Torgersen" in last and "--unknown-task pooled" in last


def test_predict_task_column_on_a_single_model_is_an_error(capsys, faithful_model):
    code, _, err = run(capsys, "predict", faithful_model, FAITHFUL, "--task-column", "waiting")
    assert code == 2 and "no tasks" in err


# -- the real entry point -----------------------------------------------------------------------
def _python_m(*args, cwd=ROOT):
    return subprocess.run(
        [sys.executable, "-m", "gmmcore", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_python_m_gmmcore_fit_then_predict(tmp_path):
    model = tmp_path / "m.json"
    fit = _python_m("fit", FAITHFUL, "-k", "2", "--seed", "3", "-o", model)
    assert fit.returncode == 0, fit.stderr
    assert "Model written to" in fit.stdout
    pred = _python_m("predict", model, FAITHFUL)
    assert pred.returncode == 0
    assert len(pd.read_csv(io.StringIO(pred.stdout))) == 272


def test_python_m_gmmcore_error_has_no_traceback(tmp_path):
    result = _python_m("fit", tmp_path / "absent.csv", "-k", "2", "-o", tmp_path / "m.json")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_python_m_gmmcore_usage_error_is_one_line():
    result = _python_m("select", FAITHFUL, "--components", "x")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")


# -- other table formats and awkward CSVs (one reader: gmmcore.io.tables) ----------------------
def _faithful_workbook(path):
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    wb.active.title = "Notes"
    wb.active.append(["Old Faithful, from sample_data/faithful.csv"])
    ws = wb.create_sheet("Data")
    frame = pd.read_csv(FAITHFUL)
    ws.append(list(frame.columns))
    for row in frame.itertuples(index=False):
        ws.append(list(row))
    wb.save(path)
    return path


def test_fit_reads_the_sheet_of_a_workbook_chosen_with_sheet(capsys, tmp_path):
    book = _faithful_workbook(tmp_path / "faithful.xlsx")
    model = tmp_path / "m.json"
    code, _, err = run(capsys, "fit", book, "-k", "2", "--sheet", "Data", "-o", model)
    assert code == 0, err
    assert list(load_model(model).feature_names) == ["eruptions", "waiting"]


def test_fit_on_the_first_sheet_without_data_names_the_other_sheets(capsys, tmp_path):
    book = _faithful_workbook(tmp_path / "faithful.xlsx")
    code, _, err = run(capsys, "fit", book, "-k", "2", "-o", tmp_path / "m.json")
    assert code == 2 and err.count("\n") == 1
    assert "sheet 'Notes'" in err and "sheets: 'Notes', 'Data'" in err


def test_unknown_sheet_is_one_line_listing_the_sheets(capsys, tmp_path):
    book = _faithful_workbook(tmp_path / "faithful.xlsx")
    code, _, err = run(capsys, "select", book, "--sheet", "data", "--components", "1-2")
    assert code == 2 and err.count("\n") == 1
    assert "no sheet 'data'; its sheets: 'Notes', 'Data'" in err


def test_sheet_with_a_csv_is_one_line(capsys, tmp_path):
    code, _, err = run(capsys, "fit", FAITHFUL, "-k", "2", "--sheet", "x", "-o", tmp_path / "m")
    assert code == 2 and "it has no sheets" in err and err.count("\n") == 1


def test_fit_and_predict_on_parquet_with_nullable_integers(capsys, tmp_path):
    pytest.importorskip("pyarrow")
    frame = pd.read_csv(FAITHFUL)
    frame["waiting"] = frame["waiting"].astype("Int64")
    frame.loc[3, "waiting"] = pd.NA
    frame.to_parquet(tmp_path / "f.parquet")
    model = tmp_path / "m.json"
    code, _, err = run(capsys, "fit", tmp_path / "f.parquet", "-k", "2", "-o", model)
    assert code == 0, err
    assert "skipped 1 of 272 row(s)" in err
    code, out, err = run(capsys, "predict", model, tmp_path / "f.parquet")
    assert code == 0, err
    assert len(pd.read_csv(io.StringIO(out))) == 272


def test_repeated_column_names_are_renamed_with_a_note(capsys, tmp_path):
    data = tmp_path / "dup.csv"
    data.write_text("x, x,y\n" + "".join(f"{i},{(i * 7) % 5},{i % 3}\n" for i in range(30)))
    model = tmp_path / "m.json"
    code, _, err = run(capsys, "fit", data, "-k", "1", "--columns", "x,x.1", "-o", model)
    assert code == 0, err
    assert "repeats column names; the repeats are called 'x.1'" in err
    assert list(load_model(model).feature_names) == ["x", "x.1"]


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"a,b\n1,2\n3,-Infinity\n5,6\n", "infinite values (inf) in column 'b'"),
        (b"x," * 100_000 + b"\n", "columns, over the limit of"),
        (b"a" * 2_000_000 + b"\n", "field longer than"),
        (b"%PDF-1.4\n", "accepted formats"),
    ],
)
def test_awkward_files_are_one_line_not_an_internal_error(capsys, tmp_path, content, fragment):
    (tmp_path / "f.csv").write_bytes(content)
    code, _, err = run(capsys, "fit", tmp_path / "f.csv", "-k", "1", "-o", tmp_path / "m.json")
    assert code == 2 and err.count("\n") == 1, err
    assert fragment in err and "internal error" not in err


# -- reliability: formula injection, wide models, tasks bound, wrong scale -------------------

_FORMULAS = ["=1+2", "@cmd", "+1", "-1+2", '=HYPERLINK("http://x","y")', "\tx"]


def test_predict_with_input_escapes_formula_cells_but_not_numbers(capsys, tmp_path, faithful_model):
    df = pd.read_csv(FAITHFUL).head(len(_FORMULAS))
    df["note"] = _FORMULAS
    df["delta"] = -1.5
    path = tmp_path / "in.csv"
    df.to_csv(path, index=False)
    code, out, _ = run(capsys, "predict", faithful_model, path, "--with-input")
    assert code == 0
    back = pd.read_csv(io.StringIO(out), keep_default_na=False)
    assert list(back["note"]) == ["'" + v for v in _FORMULAS]
    assert (back["delta"] == -1.5).all()  # a negative number stays a number


def test_predict_with_a_wide_model_builds_the_output_in_one_go(capsys, tmp_path):
    import warnings

    from gmmcore import GaussianMixture
    from gmmcore.io import save_model

    X = pd.read_csv(FAITHFUL).to_numpy()
    m = GaussianMixture(120, random_state=0, reg_covar=1e-3, max_iter=2).fit(
        np.repeat(X, 2, axis=0)
    )
    path = tmp_path / "wide.json"
    save_model(m, path, feature_names=["eruptions", "waiting"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.PerformanceWarning)
        code, out, _ = run(capsys, "predict", path, FAITHFUL)
    assert code == 0
    assert out.splitlines()[0].split(",")[-1] == "p119"


def test_select_refuses_more_tasks_than_the_limit(capsys, tmp_path):
    from gmmcore.io.limits import MAX_TASKS

    df = pd.read_csv(FAITHFUL)
    df = pd.concat([df] * 2, ignore_index=True)
    df["id"] = [f"t{i}" for i in range(len(df))]
    assert df["id"].nunique() > MAX_TASKS
    path = tmp_path / "ids.csv"
    df.to_csv(path, index=False)
    code, _, err = run(capsys, "select", path, "--task-column", "id", "-k", "1-2")
    assert code == 2
    assert f"more than the {MAX_TASKS} tasks" in err and len(err.strip().splitlines()) == 1


def test_predict_warns_on_stderr_when_data_is_on_the_wrong_scale(capsys, tmp_path):
    path = tmp_path / "std.json"
    assert main(["fit", FAITHFUL, "-k", "2", "--standardize", "--output", str(path)]) == 0
    capsys.readouterr()
    df = pd.read_csv(FAITHFUL)
    scaled = tmp_path / "scaled.csv"
    ((df - df.mean()) / df.std()).to_csv(scaled, index=False)
    code, _, err = run(capsys, "predict", path, scaled)
    assert code == 0 and "warning" in err and "units" in err
    code, _, err = run(capsys, "predict", path, FAITHFUL)
    assert code == 0 and "warning" not in err


def test_predict_never_writes_nan_for_rows_far_from_every_component(
    capsys, tmp_path, faithful_model
):
    path = tmp_path / "far.csv"
    pd.DataFrame({"eruptions": [1e200, 3.0], "waiting": [1e200, 70.0]}).to_csv(path, index=False)
    code, out, err = run(capsys, "predict", faithful_model, path)
    if code == 0:
        assert "nan" not in out.lower()
    else:
        assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_predict_reads_the_sheet_named_with_sheet(capsys, faithful_model, tmp_path):
    """predict takes --sheet like fit and select, so a workbook is read the same way."""
    book = tmp_path / "book.xlsx"
    with pd.ExcelWriter(book) as xl:
        pd.DataFrame({"note": ["first sheet has no model columns"]}).to_excel(
            xl, sheet_name="Notes"
        )
        pd.read_csv(FAITHFUL).to_excel(xl, sheet_name="Data", index=False)
    code, out, _ = run(capsys, "predict", faithful_model, book, "--sheet", "Data")
    assert code == 0 and len(pd.read_csv(io.StringIO(out))) == 272


def test_fit_refuses_more_tasks_than_the_limit(capsys, tmp_path):
    from gmmcore.io.limits import MAX_TASKS

    data = tmp_path / "ids.csv"
    frame = pd.read_csv(FAITHFUL)
    frame["id"] = [f"row {i % (MAX_TASKS + 1)}" for i in range(len(frame))]
    frame.to_csv(data, index=False)
    code, _, err = run(
        capsys, "fit", data, "-k", "2", "--task-column", "id", "-o", tmp_path / "m.json"
    )
    assert code == 2 and "distinct values" in err.splitlines()[-1]
