"""The model file: exact round trips, prediction on raw data, and every malformed-file case."""

import copy
import json
import re
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from gmmcore import COVARIANCE_TYPES, GaussianMixture
from gmmcore.io import (
    SCHEMA_PATH,
    ModelFileError,
    from_json,
    load_model,
    save_model,
    to_json,
)
from gmmcore.model import FittedModel
from gmmcore.preprocessing import Standardizer

ROOT = Path(__file__).resolve().parent.parent
PENGUIN_FEATURES = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]


@pytest.fixture(scope="module")
def faithful_df() -> pd.DataFrame:
    return pd.read_csv(ROOT / "sample_data" / "faithful.csv")


@pytest.fixture(scope="module")
def penguins_df() -> pd.DataFrame:
    df = pd.read_csv(ROOT / "sample_data" / "penguins.csv")
    return df.dropna(subset=PENGUIN_FEATURES).reset_index(drop=True)


@pytest.fixture(scope="module", params=COVARIANCE_TYPES)
def single(request, faithful_df):
    gm = GaussianMixture(3, covariance_type=request.param, random_state=0).fit(faithful_df)
    return gm, faithful_df


@pytest.fixture(scope="module", params=COVARIANCE_TYPES)
def shared(request, penguins_df):
    std = Standardizer.fit(penguins_df[PENGUIN_FEATURES])
    Z = std.transform(penguins_df[PENGUIN_FEATURES])
    gm = GaussianMixture(3, covariance_type=request.param, random_state=0)
    gm.fit(Z, tasks=penguins_df["island"])
    return gm, std, Z, penguins_df


@pytest.fixture(scope="module")
def valid_doc(faithful_df) -> dict:
    gm = GaussianMixture(2, covariance_type="full", random_state=0).fit(faithful_df)
    return json.loads(to_json(gm, X=faithful_df, include_history=True))


@pytest.fixture(scope="module")
def valid_shared_doc(penguins_df) -> dict:
    std = Standardizer.fit(penguins_df[PENGUIN_FEATURES])
    gm = GaussianMixture(2, covariance_type="diag", random_state=0)
    gm.fit(std.transform(penguins_df[PENGUIN_FEATURES]), tasks=penguins_df["island"])
    return json.loads(
        to_json(
            gm,
            feature_names=PENGUIN_FEATURES,
            standardizer=std,
            X=penguins_df,
            tasks=penguins_df["island"],
        )
    )


# -- exact round trips --------------------------------------------------------------------------
def test_single_round_trip_predicts_bit_for_bit(single):
    gm, X = single
    loaded = from_json(to_json(gm))
    assert np.array_equal(loaded.predict_proba(X), gm.predict_proba(X))
    assert np.array_equal(loaded.score_samples(X), gm.score_samples(X))
    assert np.array_equal(loaded.predict(X), gm.predict(X))


def test_convergence_rule_round_trips_and_is_absent_for_the_default(single):
    gm, X = single
    doc = json.loads(to_json(gm))
    assert "convergence" not in doc["fit"]  # scikit-learn's rule: the file is as before
    assert from_json(to_json(gm)).mixture.convergence == "mean"
    relative = GaussianMixture(2, convergence="relative", tol=1e-5, random_state=0).fit(X)
    doc = json.loads(to_json(relative))
    assert doc["fit"]["convergence"] == "relative"
    jsonschema.validate(doc, json.loads(SCHEMA_PATH.read_text()))
    loaded = from_json(to_json(relative)).mixture
    assert loaded.convergence == "relative" and loaded.tol == 1e-5
    doc["fit"]["convergence"] = "absolute"
    with pytest.raises(ValueError, match="convergence"):
        from_json(json.dumps(doc))


def test_single_round_trip_parameters_bit_identical(single):
    gm, _ = single
    loaded = from_json(to_json(gm)).mixture
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_", "precisions_"):
        assert np.array_equal(getattr(loaded, name), getattr(gm, name)), name
    assert loaded.covariance_type == gm.covariance_type
    assert loaded.n_iter_ == gm.n_iter_ and loaded.converged_ == gm.converged_
    assert loaded.lower_bound_ == gm.lower_bound_


def test_shared_round_trip_predicts_per_task_bit_for_bit(shared):
    gm, std, Z, df = shared
    text = to_json(gm, feature_names=PENGUIN_FEATURES, standardizer=std, X=df, tasks=df["island"])
    loaded = from_json(text)
    assert loaded.mode == "shared" and loaded.tasks == gm.tasks_
    expected = gm.predict_proba(Z, tasks=df["island"])
    assert np.array_equal(loaded.predict_proba(df, df["island"]), expected)
    assert np.array_equal(loaded.mixture.weights_, gm.weights_)


def test_round_trip_is_a_fixed_point(single):
    """Saving a loaded model again writes the same parameters and fit results."""
    gm, X = single
    first = json.loads(to_json(gm, X=X))
    second = json.loads(to_json(from_json(json.dumps(first))))
    for doc in (first, second):
        doc.pop("created")
    assert first == second


def test_history_round_trips(faithful_df):
    gm = GaussianMixture(2, covariance_type="tied", random_state=1).fit(faithful_df)
    loaded = from_json(to_json(gm, include_history=True)).mixture
    assert len(loaded.history_) == len(gm.history_)
    for a, b in zip(loaded.history_, gm.history_, strict=True):
        assert (a.iteration, a.phase, a.log_likelihood) == (b.iteration, b.phase, b.log_likelihood)
        assert np.array_equal(a.means, b.means) and np.array_equal(a.covariances, b.covariances)
        assert [e.kind for e in a.events] == [e.kind for e in b.events]
    assert loaded.lower_bounds_ == gm.lower_bounds_


def test_history_is_left_out_by_default(faithful_df):
    gm = GaussianMixture(2, random_state=0).fit(faithful_df)
    assert json.loads(to_json(gm))["history"] is None
    assert from_json(to_json(gm)).mixture.history_ == ()


def test_precisions_init_without_iterations_still_predicts_exactly(faithful_df):
    """max_iter=0 keeps the user's precision factor, which the file then stores."""
    X = faithful_df.to_numpy()
    gm = GaussianMixture(
        2,
        covariance_type="full",
        max_iter=0,
        weights_init=[0.4, 0.6],
        means_init=[[2.0, 55.0], [4.3, 80.0]],
        precisions_init=np.array(
            [np.linalg.inv([[0.1, 0.5], [0.5, 30.0]]), np.linalg.inv([[0.2, 0.9], [0.9, 36.0]])]
        ),
    )
    gm.fit(X)
    text = to_json(gm)
    loaded = from_json(text)
    assert np.array_equal(loaded.predict_proba(X), gm.predict_proba(X))


def test_save_and_load_a_file(tmp_path, faithful_df):
    gm = GaussianMixture(2, random_state=0).fit(faithful_df)
    path = save_model(gm, tmp_path / "m.json", X=faithful_df)
    loaded = load_model(path)
    assert isinstance(loaded, FittedModel)
    assert np.array_equal(loaded.predict_proba(faithful_df), gm.predict_proba(faithful_df))
    assert "pickle" not in path.read_text()


def test_file_is_indented_json_with_compact_arrays(faithful_df):
    gm = GaussianMixture(2, random_state=0).fit(faithful_df)
    text = to_json(gm)
    assert text.startswith('{\n  "format": "gmmcore.model",\n  "version": 1,')
    assert re.search(r'"weights": \[[-0-9.e]+, [-0-9.e]+\]', text)


# -- hypothesis: exact round trip on many random fits -------------------------------------------
@st.composite
def fitted_mixtures(draw):
    n_features = draw(st.integers(1, 3))
    k = draw(st.integers(1, 3))
    n = draw(st.integers(max(8, 3 * k), 40))
    scale = draw(st.sampled_from([1e-3, 1.0, 1e4]))
    X = draw(
        arrays(
            np.float64,
            (n, n_features),
            elements=st.floats(-10, 10, allow_nan=False, allow_infinity=False, width=64),
        )
    )
    X = X * scale
    assume(np.all(np.ptp(X, axis=0) > 0))
    covariance_type = draw(st.sampled_from(COVARIANCE_TYPES))
    with_tasks = draw(st.booleans())
    tasks = None
    if with_tasks:
        tasks = np.array(draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=n, max_size=n)))
    gm = GaussianMixture(
        k,
        covariance_type=covariance_type,
        max_iter=draw(st.integers(0, 5)),
        reg_covar=1e-6 * scale**2,
        random_state=draw(st.integers(0, 99)),
    )
    try:
        gm.fit(X, tasks=tasks)
    except ValueError:
        assume(False)
    return gm, X, tasks


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fitted_mixtures())
def test_json_round_trip_is_exact_for_random_fits(case):
    gm, X, tasks = case
    loaded = from_json(to_json(gm, include_history=True))
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        assert np.array_equal(getattr(loaded.mixture, name), getattr(gm, name)), name
    assert np.array_equal(loaded.predict_proba(X, tasks), gm.predict_proba(X, tasks=tasks))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(allow_nan=False, allow_infinity=False, width=64), min_size=1, max_size=20)
)
def test_any_finite_double_survives_the_file_format(values):
    """repr round-trips every finite double, including -0.0, subnormals and the extremes."""
    from gmmcore.io.model_writer import _dumps

    back = json.loads(_dumps({"v": values}))["v"]
    assert np.array_equal(np.array(back), np.array(values))
    assert [np.signbit(v) for v in back] == [np.signbit(v) for v in values]


# -- prediction on raw data ---------------------------------------------------------------------
def test_dataframe_columns_are_selected_by_name(faithful_df):
    gm = GaussianMixture(2, random_state=0).fit(faithful_df)
    model = from_json(to_json(gm))
    shuffled = faithful_df[["waiting", "eruptions"]].assign(extra=1.0)
    assert np.array_equal(model.predict_proba(shuffled), gm.predict_proba(faithful_df))


def test_missing_column_is_a_value_error_naming_it(faithful_df):
    gm = GaussianMixture(2, random_state=0).fit(faithful_df)
    model = from_json(to_json(gm))
    with pytest.raises(ValueError, match="no column 'waiting'"):
        model.predict(faithful_df[["eruptions"]])


def test_standardizer_is_applied_to_raw_rows(penguins_df):
    X = penguins_df[PENGUIN_FEATURES]
    std = Standardizer.fit(X)
    gm = GaussianMixture(3, random_state=0).fit(std.transform(X))
    model = from_json(to_json(gm, feature_names=PENGUIN_FEATURES, standardizer=std))
    assert np.array_equal(model.standardizer.mean, std.mean)
    assert np.array_equal(model.predict_proba(X), gm.predict_proba(std.transform(X)))


def test_unknown_task_is_an_error_naming_the_known_tasks(shared):
    gm, std, _, df = shared
    model = from_json(to_json(gm, feature_names=PENGUIN_FEATURES, standardizer=std))
    with pytest.raises(ValueError, match=r"unknown task.*Mars.*Biscoe.*Dream.*Torgersen"):
        model.predict(df.iloc[:2], ["Mars", "Dream"])


def test_unknown_task_pooled_uses_the_n_weighted_pooled_weights(shared):
    gm, std, Z, df = shared
    model = from_json(
        to_json(gm, feature_names=PENGUIN_FEATURES, standardizer=std, X=df, tasks=df["island"])
    )
    counts = df["island"].value_counts().reindex(list(gm.tasks_)).to_numpy()
    expected_pooled = counts @ gm.weights_ / counts.sum()
    np.testing.assert_allclose(model.pooled_weights(), expected_pooled, rtol=0, atol=1e-15)
    assert model.task_n_samples == counts.tolist()
    tasks = np.array(["Mars", "Dream"] * 3)
    proba = model.predict_proba(df.iloc[:6], tasks, unknown_task="pooled")
    # Reference: a single mixture with the pooled weights (same components).
    single = GaussianMixture(
        3,
        covariance_type=gm.covariance_type,
        max_iter=0,
        weights_init=model.pooled_weights(),
        means_init=gm.means_,
        precisions_init=gm.precisions_,
    )
    single.fit(Z)
    np.testing.assert_allclose(proba[0::2], single.predict_proba(Z[:6])[0::2], rtol=0, atol=1e-10)
    # Rows of a known task are exactly what the mixture itself computes (on the same six
    # rows: BLAS may round a row differently in a product with another number of rows).
    known = gm.predict_proba(Z[:6], tasks=np.array(["Dream"] * 6))
    assert np.array_equal(proba[1::2], known[1::2])


def test_multitask_mixture_in_shared_mode_saves_with_its_task_counts(penguins_df):
    from gmmcore.multitask import fit_multitask

    X = Standardizer.fit(penguins_df[PENGUIN_FEATURES]).transform(penguins_df[PENGUIN_FEATURES])
    mt = fit_multitask(X, penguins_df["island"], 3, mode="shared", random_state=0)
    model = from_json(to_json(mt))
    assert model.task_n_samples == [mt.task_counts[t] for t in mt.tasks]
    np.testing.assert_array_equal(model.pooled_weights(), mt.pooled_weights())
    tasks = penguins_df["island"].to_numpy()
    assert np.array_equal(model.predict_proba(X, tasks), mt.predict_proba(X, tasks))


# -- fit metadata -------------------------------------------------------------------------------
def test_training_data_gives_criteria_of_the_stored_parameters(faithful_df):
    gm = GaussianMixture(3, covariance_type="tied", random_state=0).fit(faithful_df)
    fit = from_json(to_json(gm, X=faithful_df)).metadata
    assert fit["bic"] == pytest.approx(gm.bic(faithful_df), rel=1e-12)
    assert fit["aic"] == pytest.approx(gm.aic(faithful_df), rel=1e-12)
    assert fit["icl"] == pytest.approx(gm.icl(faithful_df), rel=1e-12)
    assert fit["log_likelihood_source"] == "training_data"
    assert fit["n_samples"] == 272 and fit["n_parameters"] == gm.n_parameters()
    assert fit["random_state"] == 0 and fit["converged"] is True


def test_without_training_data_the_last_e_step_log_likelihood_is_stored(faithful_df):
    gm = GaussianMixture(2, random_state=0).fit(faithful_df)
    fit = from_json(to_json(gm)).metadata
    assert fit["log_likelihood_source"] == "last_e_step"
    assert fit["log_likelihood"] == pytest.approx(gm.lower_bound_ * 272, rel=1e-12)
    assert fit["bic"] is None and fit["icl"] is None


def test_created_and_version_are_recorded(faithful_df):
    doc = json.loads(to_json(GaussianMixture(1).fit(faithful_df)))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", doc["created"])
    assert doc["gmmcore_version"]


def test_saving_refuses_an_unfitted_mixture():
    with pytest.raises(ValueError, match="not fitted"):
        to_json(GaussianMixture(2))


def test_saving_refuses_feature_names_of_the_wrong_length(faithful_df):
    gm = GaussianMixture(1).fit(faithful_df)
    with pytest.raises(ValueError, match="feature_names has 3 name"):
        to_json(gm, feature_names=["a", "b", "c"])


# -- the schema and the documentation -----------------------------------------------------------
def test_schema_is_a_valid_draft_2020_12_schema():
    schema = json.loads(SCHEMA_PATH.read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_written_files_validate_against_the_schema(valid_doc, valid_shared_doc):
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))
    validator.validate(valid_doc)
    validator.validate(valid_shared_doc)


def test_documented_example_loads():
    """docs/model-format.md's full example is a real model file."""
    text = (ROOT / "docs" / "model-format.md").read_text()
    blocks = re.findall(r"```json\n(.*?)```", text, flags=re.S)
    examples = [b for b in blocks if '"format": "gmmcore.model"' in b]
    assert examples, "no complete example in docs/model-format.md"
    for block in examples:
        assert isinstance(from_json(block), FittedModel)


def test_documentation_mentions_every_schema_field():
    text = (ROOT / "docs" / "model-format.md").read_text()
    schema = json.loads(SCHEMA_PATH.read_text())
    names = set(schema["properties"]) | set(schema["properties"]["fit"]["properties"])
    names |= set(schema["$defs"]["snapshot"]["properties"])
    missing = sorted(n for n in names if f"`{n}`" not in text)
    assert not missing


def test_no_pickle_anywhere_in_the_module():
    source = "".join(p.read_text() for p in (ROOT / "gmmcore" / "io").glob("*.py"))
    assert "import pickle" not in source and "pickle." not in source


# -- malformed files ----------------------------------------------------------------------------
def _set(path, value):
    def mutate(doc):
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def _delete(path):
    def mutate(doc):
        target = doc
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return mutate


def _scale_weights(doc):
    doc["weights"] = [w * 0.9 for w in doc["weights"]]


def _negative_weight(doc):
    doc["weights"] = [1.2, -0.2]


def _asymmetric(doc):
    doc["covariances"][0][0][1] += 0.01


def _not_pd(doc):
    doc["covariances"][1] = [[1.0, 2.0], [2.0, 1.0]]


def _tied_not_pd(doc):
    doc["covariance_type"] = "tied"
    doc["covariances"] = [[1.0, 2.0], [2.0, 1.0]]


def _diag_zero(doc):
    doc["covariance_type"] = "diag"
    doc["covariances"] = [[1.0, 1.0], [0.0, 1.0]]


def _means_three_rows(doc):
    doc["means"].append([1.0, 2.0])


def _ragged(doc):
    doc["means"][1] = [1.0]


def _wrong_cov_nesting(doc):
    doc["covariances"] = doc["covariances"][0]


def _history_bad(doc):
    doc["history"][0]["means"] = [[1.0, 2.0]]


MALFORMED = {
    "weights_do_not_sum_to_one": (_scale_weights, ["weights sums to", "not 1", "tolerance 1e-09"]),
    "negative_weight": (_negative_weight, ["weights has a negative weight (-0.2 for component 1)"]),
    "covariance_not_symmetric": (_asymmetric, ["covariances[0] is not symmetric", "tolerance"]),
    "covariance_not_positive_definite": (
        _not_pd,
        ["covariances[1] (component 1) is not positive definite"],
    ),
    "tied_not_positive_definite": (_tied_not_pd, ["shared covariance", "not positive definite"]),
    "diag_variance_zero": (_diag_zero, ["covariances[1] (component 1) has a variance <= 0"]),
    "means_shape": (
        _means_three_rows,
        ["means has shape (3, 2) but n_components=2 and n_features=2"],
    ),
    "means_ragged": (_ragged, ["means", "ragged"]),
    "covariance_nesting_for_type": (_wrong_cov_nesting, ["covariances", "must be an array"]),
    "missing_field": (_delete(["means"]), ["missing field 'means'"]),
    "missing_fit_field": (_delete(["fit", "n_samples"]), ["missing field 'n_samples' in 'fit'"]),
    "wrong_type": (
        _set(["n_components"], "2"),
        ["field 'n_components' must be an integer", "got a string"],
    ),
    "wrong_bool_type": (_set(["fit", "converged"], "yes"), ["fit.converged", "true or false"]),
    "unknown_covariance_type": (
        _set(["covariance_type"], "VVV"),
        ["unknown covariance type 'VVV'", "full, tied, diag, spherical"],
    ),
    "feature_names_count": (
        _set(["feature_names"], ["a", "b", "c"]),
        ["feature_names has 3 name(s) but n_features=2"],
    ),
    "feature_names_duplicate": (
        _set(["feature_names"], ["a", "a"]),
        ["feature_names", "duplicate"],
    ),
    "scale_not_positive": (
        _set(["preprocessing", "standardization"], {"mean": [0.0, 0.0], "scale": [1.0, 0.0]}),
        ["preprocessing.standardization.scale[1] is 0.0", "must be > 0"],
    ),
    "scale_length": (
        _set(["preprocessing", "standardization"], {"mean": [0.0], "scale": [1.0]}),
        ["preprocessing.standardization.mean has shape (1,)", "n_features=2"],
    ),
    "wrong_format": (_set(["format"], "sklearn.pickle"), ["field 'format'", "not a gmmcore"]),
    "missing_format": (_delete(["format"]), ["missing field 'format'"]),
    "newer_version": (_set(["version"], 2), ["version' is 2", "upgrade gmmcore"]),
    "version_as_string": (_set(["version"], "1"), ["field 'version' must be an integer"]),
    "unknown_field": (_set(["colour"], "blue"), ["unknown field 'colour'"]),
    "unknown_mode": (_set(["mode"], "mixed"), ["field 'mode'", "not one of", '"separate"']),
    "single_with_tasks": (_set(["tasks"], ["a", "b"]), ["field 'tasks' must be null"]),
    "bad_history_snapshot": (_history_bad, ["history[0].means has shape (1, 2)"]),
    "negative_n_samples": (_set(["fit", "n_samples"], 0), ["fit.n_samples", "minimum 1"]),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_file_names_the_field_and_the_problem(case, valid_doc):
    mutate, fragments = MALFORMED[case]
    doc = copy.deepcopy(valid_doc)
    mutate(doc)
    with pytest.raises(ModelFileError) as info:
        from_json(json.dumps(doc))
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, message
    assert "\n" not in message


def _shared_tasks_mismatch(doc):
    doc["tasks"] = doc["tasks"][:2]


def _shared_pooled_off(doc):
    doc["pooled_weights"] = [0.5, 0.5]


def _shared_task_counts_length(doc):
    doc["task_n_samples"] = [1, 2]


def _shared_row_sum(doc):
    doc["weights"][1] = [0.5, 0.4]


SHARED_MALFORMED = {
    "tasks_do_not_match_weights": (
        _shared_tasks_mismatch,
        ["weights has shape (3, 2) but mode='shared' with 2 task(s)"],
    ),
    "pooled_weights_inconsistent": (_shared_pooled_off, ["pooled_weights is not the"]),
    "task_counts_length": (_shared_task_counts_length, ["task_n_samples has 2 entries"]),
    "task_row_sum": (_shared_row_sum, ["weights[1] (task 'Dream') sums to"]),
    "missing_tasks": (_delete(["tasks"]), ["missing field 'tasks'"]),
}


@pytest.mark.parametrize("case", sorted(SHARED_MALFORMED))
def test_malformed_shared_file_names_the_field_and_the_problem(case, valid_shared_doc):
    mutate, fragments = SHARED_MALFORMED[case]
    doc = copy.deepcopy(valid_shared_doc)
    mutate(doc)
    with pytest.raises(ModelFileError) as info:
        from_json(json.dumps(doc))
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


@pytest.mark.parametrize(
    ("literal", "shown"),
    [("NaN", "NaN"), ("Infinity", "Infinity"), ("-Infinity", "-Infinity"), ("1e400", "1e400")],
)
def test_nan_and_infinity_are_rejected_naming_the_field(literal, shown, valid_doc):
    text = json.dumps(valid_doc).replace(repr(valid_doc["means"][0][1]), literal, 1)
    with pytest.raises(ModelFileError, match=re.escape(f"field 'means[0][1]' is {shown}")):
        from_json(text)


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        (
            '{"format": "gmmcore.model",\n  "version": 1,,}',
            ["not valid JSON", "line 2", "column 16"],
        ),
        ("", ["empty"]),
        ("   \n", ["empty"]),
        ("[1, 2, 3]", ["JSON object at the top level", "got an array"]),
        (b"\xff\xfe{}", ["not UTF-8"]),
    ],
)
def test_unreadable_text_is_a_model_file_error(text, fragments):
    with pytest.raises(ModelFileError) as info:
        from_json(text)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_load_model_prefixes_the_path(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{")
    with pytest.raises(ModelFileError, match=r"broken\.json: the model file is not valid JSON"):
        load_model(path)


def test_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "absent.json")


def test_model_file_error_is_a_value_error():
    assert issubclass(ModelFileError, ValueError)


# -- reliability: edge cases of the loader (numbers, keys, sizes) ----------------------------


def _faithful_doc(include_history=False):
    from gmmcore import GaussianMixture
    from gmmcore.io import to_json

    df = pd.read_csv(Path(__file__).resolve().parent.parent / "sample_data" / "faithful.csv")
    m = GaussianMixture(2, random_state=0).fit(df.to_numpy())
    text = to_json(
        m, feature_names=list(df.columns), X=df.to_numpy(), include_history=include_history
    )
    return json.loads(text), df


def test_a_5000_digit_integer_is_a_model_file_error_naming_the_field():
    from gmmcore.io import ModelFileError, from_json

    doc, _ = _faithful_doc()
    text = json.dumps(doc).replace('"n_samples": 272', '"n_samples": ' + "9" * 5000)
    with pytest.raises(ModelFileError, match=r"fit\.n_samples.*5000 digits"):
        from_json(text)


@pytest.mark.parametrize("value", [1e308, -1e308, 5e-324])
@pytest.mark.parametrize("field", ["means", "covariances"])
def test_numerically_unusable_values_are_refused_naming_the_field(field, value):
    from gmmcore.io import ModelFileError, from_json

    doc, df = _faithful_doc()
    doc[field][0][0] = value if field == "means" else [[value, 0.0], [0.0, value]][0]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            model = from_json(json.dumps(doc))
        except ModelFileError as exc:
            assert field in str(exc)
        else:  # a value the model can live with must still give finite probabilities
            assert np.isfinite(model.predict_proba(df)).all()


def test_a_tiny_variance_is_refused_not_turned_into_nan_probabilities():
    from gmmcore.io import ModelFileError, from_json

    doc, _ = _faithful_doc()
    doc["covariances"][0] = [[5e-324, 0.0], [0.0, 5e-324]]
    with pytest.raises(ModelFileError, match="covariances"):
        from_json(json.dumps(doc))


def test_duplicate_keys_are_refused_naming_the_key():
    from gmmcore.io import ModelFileError, from_json

    doc, _ = _faithful_doc()
    text = json.dumps(doc)
    text = text.replace('"mode": "single"', '"mode": "single", "mode": "shared"')
    with pytest.raises(ModelFileError, match='\'?"mode"\'? twice|"mode" twice'):
        from_json(text)


def test_a_model_file_over_the_size_limit_is_refused_at_once(tmp_path):
    from gmmcore.io import ModelFileError, load_model
    from gmmcore.io.limits import MAX_MODEL_BYTES

    path = tmp_path / "big.json"
    with open(path, "wb") as f:
        f.truncate(MAX_MODEL_BYTES + 1)
    with pytest.raises(ModelFileError, match="MiB"):
        load_model(path)


def test_a_history_longer_than_the_limit_is_refused():
    from gmmcore.io import ModelFileError, from_json
    from gmmcore.io.limits import MAX_HISTORY_SNAPSHOTS

    doc, _ = _faithful_doc(include_history=True)
    doc["history"] = [doc["history"][-1]] * (MAX_HISTORY_SNAPSHOTS + 1)
    with pytest.raises(ModelFileError, match="snapshots"):
        from_json(json.dumps(doc))


def test_a_long_history_loads_fast_and_a_bad_snapshot_is_named_by_index():
    import time

    from gmmcore.io import ModelFileError, from_json

    doc, _ = _faithful_doc(include_history=True)
    doc["history"] = [copy.deepcopy(doc["history"][i % len(doc["history"])]) for i in range(5000)]
    start = time.perf_counter()
    model = from_json(json.dumps(doc))
    assert len(model.history) == 5000
    assert time.perf_counter() - start < 20  # was ~25 s per 5,000 snapshots before stacking
    doc["history"][3210]["covariances"][1] = [[1.0, 2.0], [2.0, 1.0]]
    with pytest.raises(ModelFileError, match=r"history\[3210\]\.covariances\[1\]"):
        from_json(json.dumps(doc))
    doc["history"][3210]["covariances"][1] = [[1.0, 0.0], [0.0, 1.0]]
    doc["history"][4321]["iteration"] = -1
    with pytest.raises(ModelFileError, match=r"history\[4321\]\.iteration"):
        from_json(json.dumps(doc))


def test_data_on_the_wrong_scale_warns_with_our_category():
    from gmmcore import GaussianMixture
    from gmmcore.data_range import OutOfRangeWarning, warn_if_out_of_range
    from gmmcore.io import from_json, to_json
    from gmmcore.preprocessing import Standardizer

    _, df = _faithful_doc()
    std = Standardizer.fit(df.to_numpy())
    m = GaussianMixture(2, random_state=0).fit(std.transform(df.to_numpy()))
    model = from_json(to_json(m, feature_names=list(df.columns), standardizer=std, X=df.to_numpy()))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert warn_if_out_of_range(model, df) is None  # raw data: the right scale
    with pytest.warns(OutOfRangeWarning, match="standard deviations"):
        warn_if_out_of_range(model, pd.DataFrame(std.transform(df.to_numpy()), columns=df.columns))


def test_a_loaded_model_warns_when_predicting_on_data_of_the_wrong_scale():
    """The API itself warns (not only the CLI and the dashboard): a standardized model given
    standardized data would label every row with p = 1.0 and say nothing."""
    import warnings

    from gmmcore import GaussianMixture
    from gmmcore.data_range import OutOfRangeWarning
    from gmmcore.io import from_json, to_json
    from gmmcore.preprocessing import Standardizer

    _, df = _faithful_doc()
    std = Standardizer.fit(df.to_numpy())
    Z = std.transform(df.to_numpy())
    gm = GaussianMixture(2, random_state=0).fit(Z)
    model = from_json(to_json(gm, feature_names=list(df.columns), standardizer=std, X=df))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.predict(df)  # the right scale: no warning
        gm.predict(Z)  # the estimator behaves like scikit-learn's: never checks the range
    with pytest.warns(OutOfRangeWarning, match="give it raw, unscaled columns"):
        model.predict_proba(pd.DataFrame(Z, columns=df.columns))


@pytest.mark.parametrize(
    ("dtype", "off", "loads"),
    [(None, 3e-8, False), ("float32", 3e-8, True), ("float32", 5e-6, False)],
)
def test_weight_sum_tolerance_follows_the_files_dtype(dtype, off, loads):
    """float64 files: weights sum to 1 within 1e-9; a float32 fit's file (fit.dtype) within
    1e-6, its float32 weights being exact only to ~6e-8 per entry."""
    doc, _ = _faithful_doc()
    if dtype is not None:
        doc["fit"]["dtype"] = dtype
    doc["weights"] = [doc["weights"][0] + off, doc["weights"][1]]
    if loads:
        assert from_json(json.dumps(doc)).n_components == 2
    else:
        with pytest.raises(ModelFileError, match="sums to .* not 1"):
            from_json(json.dumps(doc))
