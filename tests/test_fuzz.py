"""Fuzzing the four ways data gets in: the Python API, the command line, the model loader and
the upload parser. Hypothesis (derandomized, a bounded number of examples) plus a small corpus
of nasty files in ``tests/fuzz_corpus/``.

What every case asserts: no crash and no traceback shown to a user (the API raises
ValueError/ModelFileError, the CLI exits 0 or 2 with one line on stderr), no NaN or infinity in
any result, exports that open safely in a spreadsheet (no text cell starting with = + - @
unless it is a number), and bounded time for inputs of bounded size.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import math
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gmmcore import GaussianMixture
from gmmcore.data_range import OutOfRangeWarning
from gmmcore.io import ModelFileError, from_json, to_json
from gmmcore.io.csv_safe import FORMULA_PREFIXES, escape_frame, to_safe_csv
from gmmcore.io.tables import TableFileError, read_table

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "fuzz_corpus"
FAITHFUL = ROOT / "sample_data" / "faithful.csv"

# Derandomized and bounded, so CI is reproducible and the whole file stays well under a minute.
settings.register_profile(
    "fuzz",
    max_examples=25,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
FUZZ = settings.get_profile("fuzz")

# Generous per-case wall-clock bound for inputs of at most a few hundred cells.
CASE_SECONDS = 30


def _numeric_leaves(obj, path=()):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _numeric_leaves(v, (*path, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _numeric_leaves(v, (*path, i))
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        yield path


def _set(doc, path, value):
    for p in path[:-1]:
        doc = doc[p]
    doc[path[-1]] = value


def _safe_cell(cell: str) -> bool:
    """A CSV cell a spreadsheet will not run: not formula-like, or a plain number."""
    if not cell.startswith(FORMULA_PREFIXES):
        return True
    try:
        float(cell)
    except ValueError:
        return False
    return not cell.startswith("+")


@pytest.fixture(scope="module")
def faithful():
    return pd.read_csv(FAITHFUL)


@pytest.fixture(scope="module")
def model_doc(faithful):
    m = GaussianMixture(2, random_state=0).fit(faithful.to_numpy())
    text = to_json(
        m, feature_names=list(faithful.columns), X=faithful.to_numpy(), include_history=True
    )
    return json.loads(text)


# -- the API ---------------------------------------------------------------------------------

_odd_floats = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=64, min_value=-1e6, max_value=1e6),
    st.sampled_from([0.0, -0.0, 1e-300, 5e-324, 1.0, 1.0 + 2**-52]),
)


@FUZZ
@given(
    rows=st.integers(1, 40),
    cols=st.integers(1, 3),
    k=st.integers(1, 4),
    data=st.data(),
)
def test_api_fit_predict_on_odd_arrays_raises_valueerror_or_gives_finite_results(
    rows, cols, k, data
):
    values = data.draw(st.lists(_odd_floats, min_size=rows * cols, max_size=rows * cols))
    X = np.array(values, dtype=np.float64).reshape(rows, cols)
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence warnings are allowed; crashes are not
            gm = GaussianMixture(k, random_state=0, max_iter=20).fit(X)
            proba = gm.predict_proba(X)
    except ValueError:
        return
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-9)
    assert time.perf_counter() - start < CASE_SECONDS


# -- the model loader ------------------------------------------------------------------------

_NASTY_NUMBERS = [1e308, -1e308, 5e-324, -5e-324, 0, -1, 10**17, 1.5, 2**31]


def test_loader_on_every_field_set_to_a_nasty_number_gives_modelfileerror_or_finite_output(
    model_doc, faithful
):
    paths = list(_numeric_leaves(model_doc))
    for path in paths:
        for value in _NASTY_NUMBERS:
            doc = copy.deepcopy(model_doc)
            _set(doc, path, value)
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                # The one warning a mutated model may rightly give: the data is now far from
                # every component (numerical warnings still fail the test).
                warnings.simplefilter("ignore", OutOfRangeWarning)
                try:
                    model = from_json(json.dumps(doc))
                    proba = model.predict_proba(faithful)
                except ModelFileError:
                    continue
            assert np.isfinite(proba).all(), (path, value)


@FUZZ
@given(data=st.data())
def test_loader_on_mutated_text_raises_only_modelfileerror(model_doc, faithful, data):
    text = json.dumps(model_doc)
    start = data.draw(st.integers(0, len(text) - 1))
    length = data.draw(st.integers(0, 20))
    junk = data.draw(st.text(alphabet='0123456789-+.eE[]{}",:naNIfty ', max_size=20))
    mutated = text[:start] + junk + text[start + length :]
    try:
        model = from_json(mutated)
    except ModelFileError:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", OutOfRangeWarning)  # see the test above
        proba = model.predict_proba(faithful)
    assert np.isfinite(proba).all()


@pytest.mark.parametrize(
    "text",
    [
        "",
        "null",
        "[]",
        "{}",
        '{"format": "gmmcore.model", "version": 1}',
        '{"a": 1, "a": 2}',
        "9" * 5000,
        "[" * 5000,
        '{"format": "gmmcore.model", "version": ' + "9" * 5000 + "}",
    ],
)
def test_loader_on_corpus_texts_raises_modelfileerror(text):
    with pytest.raises(ModelFileError):
        from_json(text)


# -- the upload parser ------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.csv")), ids=lambda p: p.name)
def test_read_table_on_corpus_files_raises_only_tablefileerror(path):
    try:
        frame, _ = read_table(path.read_bytes(), name=path.name)
    except (TableFileError, ValueError):
        return
    assert isinstance(frame, pd.DataFrame)


@FUZZ
@given(raw=st.binary(max_size=400))
def test_read_table_on_random_bytes_raises_only_tablefileerror(raw):
    try:
        read_table(raw, name="fuzz.csv")
    except (TableFileError, ValueError):
        pass


# -- the command line -------------------------------------------------------------------------


def _cli(*args, timeout=CASE_SECONDS * 2):
    proc = subprocess.run(
        [sys.executable, "-m", "gmmcore", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
    )
    assert proc.returncode in (0, 2), (args, proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    return proc


@pytest.fixture(scope="module")
def faithful_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "faithful.json"
    _cli("fit", FAITHFUL, "-k", "2", "--output", path)
    return path


def _assert_safe_csv(text: str) -> None:
    for row in csv.reader(io.StringIO(text)):
        for cell in row:
            assert _safe_cell(cell), cell


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.csv")), ids=lambda p: p.name)
def test_cli_on_corpus_files_exits_0_or_2_without_traceback(path, faithful_model):
    fit = _cli("fit", path, "-k", "1", "--output", path.with_suffix(".json").name, "--quiet")
    if fit.returncode == 2:
        assert len(fit.stderr.strip().splitlines()) == 1
    pred = _cli("predict", faithful_model, path, "--with-input")
    if pred.returncode == 0:
        assert "nan" not in pred.stdout.lower().replace("\n,", "\n")
        _assert_safe_csv(pred.stdout)
    (ROOT / path.with_suffix(".json").name).unlink(missing_ok=True)


def test_cli_predict_with_input_output_opens_safely(tmp_path, faithful_model, faithful):
    df = faithful.head(6).copy()
    df["note"] = ["=1+2", "@cmd", "+1", "-1+2", '=HYPERLINK("x")', "\tx"]
    df["signed"] = -1.25
    path = tmp_path / "formulas.csv"
    df.to_csv(path, index=False)
    proc = _cli("predict", faithful_model, path, "--with-input")
    assert proc.returncode == 0
    _assert_safe_csv(proc.stdout)
    assert ",-1.25," in proc.stdout  # numbers are never escaped


# -- exports --------------------------------------------------------------------------------


@FUZZ
@given(cells=st.lists(st.text(max_size=12), min_size=1, max_size=30))
def test_escaped_frames_open_safely_and_keep_numbers(cells):
    frame = pd.DataFrame({"text": cells, "number": np.linspace(-5, 5, len(cells))})
    out = to_safe_csv(frame, index=False, lineterminator="\n")
    back = escape_frame(frame)
    assert (back["number"] == frame["number"]).all()
    for value in back["text"]:
        assert _safe_cell(value) or value.startswith("'")
    assert math.isfinite(len(out))
