"""Multi-task models in the model file: every mode x covariance type round trips and predicts
per task exactly; malformed multi-task files name the field and the fix."""

import copy
import json
import re
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
import pytest

from gmmcore import COVARIANCE_TYPES
from gmmcore.io import SCHEMA_PATH, ModelFileError, from_json, to_json
from gmmcore.model import FittedModel
from gmmcore.multitask import MODES, fit_multitask
from gmmcore.preprocessing import Standardizer

ROOT = Path(__file__).resolve().parent.parent
FEATURES = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]


@pytest.fixture(scope="module")
def penguins():
    df = pd.read_csv(ROOT / "sample_data" / "penguins.csv")
    df = df.dropna(subset=FEATURES).reset_index(drop=True)
    std = Standardizer.fit(df[FEATURES])
    return df, std, std.transform(df[FEATURES]), df["island"].to_numpy()


@pytest.fixture(scope="module")
def fitted(penguins):
    """{(mode, covariance_type): (fitted multi-task FittedModel, model file text)}."""
    df, std, Z, tasks = penguins
    out = {}
    for mode in MODES:
        for cov in COVARIANCE_TYPES:
            mt = fit_multitask(Z, tasks, 3, mode=mode, covariance_type=cov, random_state=0)
            text = to_json(mt, feature_names=FEATURES, standardizer=std, X=df, tasks=tasks)
            out[mode, cov] = mt, text
    return out


CASES = [(m, c) for m in MODES for c in COVARIANCE_TYPES]


def _doc(fitted, mode, cov="full"):
    return json.loads(fitted[mode, cov][1])


# -- exact round trips --------------------------------------------------------------------------
@pytest.mark.parametrize(("mode", "cov"), CASES)
def test_loaded_model_predicts_every_task_bit_for_bit(mode, cov, fitted, penguins):
    df, _, Z, tasks = penguins
    mt, text = fitted[mode, cov]
    model = from_json(text)
    assert isinstance(model, FittedModel) and model.mode == mode
    assert np.array_equal(model.predict_proba(df, tasks), mt.predict_proba(Z, tasks))
    assert np.array_equal(model.score_samples(df, tasks), mt.score_samples(Z, tasks))
    assert np.array_equal(model.predict(df, tasks), mt.predict(Z, tasks))
    for task in mt.tasks:  # one task at a time, as a caller predicting a single island would
        rows = tasks == task
        assert np.array_equal(
            model.predict_proba(df[rows], tasks[rows]), mt.predict_proba(Z[rows], tasks[rows])
        )


@pytest.mark.parametrize(("mode", "cov"), CASES)
def test_file_records_mode_tasks_and_per_task_weights(mode, cov, fitted):
    mt, text = fitted[mode, cov]
    model = from_json(text)
    doc = json.loads(text)
    assert doc["mode"] == mode and doc["covariance_type"] == cov
    assert doc["tasks"] == ["Biscoe", "Dream", "Torgersen"] == list(model.tasks)
    assert doc["task_n_samples"] == [167, 124, 51] == model.task_n_samples
    pd.testing.assert_frame_equal(model.task_weights(), mt.task_weights(), check_exact=True)
    assert model.n_parameters() == mt.n_parameters() == doc["fit"]["n_parameters"]


@pytest.mark.parametrize(("mode", "cov"), CASES)
def test_file_criteria_are_the_multitask_models_own(mode, cov, fitted, penguins):
    """BIC/AIC/ICL in the file use the whole model's parameters and all rows (same N in every
    mode), exactly as the fitted model computes them."""
    _, _, Z, tasks = penguins
    mt, text = fitted[mode, cov]
    fit = json.loads(text)["fit"]
    assert fit["n_samples"] == 342
    assert fit["log_likelihood"] == pytest.approx(mt.log_likelihood(Z, tasks), rel=1e-12)
    assert fit["bic"] == pytest.approx(mt.bic(Z, tasks), rel=1e-12)
    assert fit["aic"] == pytest.approx(mt.aic(Z, tasks), rel=1e-12)
    assert fit["icl"] == pytest.approx(mt.icl(Z, tasks), rel=1e-12)


@pytest.mark.parametrize("mode", MODES)
def test_round_trip_is_a_fixed_point(mode, fitted):
    text = fitted[mode, "tied"][1]
    again = to_json(from_json(text))
    strip = re.compile(r'  "created": "[^"]*",\n')
    assert strip.sub("", again) == strip.sub("", text)


@pytest.mark.parametrize("mode", MODES)
def test_written_files_validate_against_the_schema(mode, fitted):
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))
    for cov in COVARIANCE_TYPES:
        validator.validate(_doc(fitted, mode, cov))


def test_separate_file_keeps_one_full_mixture_per_task_in_submodels(fitted):
    mt, text = fitted["separate", "diag"]
    doc = json.loads(text)
    assert not {"weights", "means", "covariances"} & set(doc)
    assert list(doc["submodels"]) == list(mt.tasks)
    for task, sub in doc["submodels"].items():
        gm = mt.submodels[task]
        assert sub["weights"] == gm.weights_.tolist()
        assert sub["means"] == gm.means_.tolist()
        assert sub["covariances"] == gm.covariances_.tolist()
        assert sub["fit"]["n_samples"] == mt.task_counts[task]
        assert sub["fit"]["n_iter"] == gm.n_iter_


def test_pooled_file_has_one_weight_vector_and_no_pooled_weights(fitted):
    doc = _doc(fitted, "pooled")
    assert np.shape(doc["weights"]) == (3,) and doc["pooled_weights"] is None


def test_separate_history_round_trips_per_task(penguins):
    _, _, Z, tasks = penguins
    mt = fit_multitask(Z, tasks, 2, mode="separate", covariance_type="spherical")
    model = from_json(to_json(mt, include_history=True))
    for task in mt.tasks:
        mine, theirs = model.submodels[task].history_, mt.submodels[task].history_
        assert len(mine) == len(theirs) > 0
        assert all(np.array_equal(a.means, b.means) for a, b in zip(mine, theirs, strict=True))


def test_multitask_mixture_saves_without_training_data(penguins):
    """Without X the file still records tasks and their row counts (from the fit)."""
    _, _, Z, tasks = penguins
    for mode in MODES:
        mt = fit_multitask(Z, tasks, 2, mode=mode)
        model = from_json(to_json(mt))
        assert model.task_n_samples == [167, 124, 51]
        assert model.metadata["log_likelihood_source"] == "last_e_step"
        assert np.array_equal(model.predict_proba(Z, tasks), mt.predict_proba(Z, tasks))


# -- prediction rules per mode ------------------------------------------------------------------
def test_pooled_ignores_the_task(fitted, penguins):
    df, *_ = penguins
    model = from_json(fitted["pooled", "full"][1])
    expected = model.predict_proba(df)
    assert np.array_equal(model.predict_proba(df, ["Mars"] * len(df)), expected)


def test_pooled_still_checks_the_number_of_task_labels(fitted, penguins):
    df, *_ = penguins
    model = from_json(fitted["pooled", "full"][1])
    with pytest.raises(ValueError, match="one label per row"):
        model.predict(df, ["Dream"])


@pytest.mark.parametrize("policy", ["error", "pooled"])
def test_separate_unseen_task_is_always_an_error_saying_why(policy, fitted, penguins):
    df, *_ = penguins
    model = from_json(fitted["separate", "full"][1])
    with pytest.raises(ValueError, match=r"unknown task.*Mars.*no shared component set"):
        model.predict(df.iloc[:2], ["Mars", "Dream"], unknown_task=policy)


def test_separate_needs_tasks(fitted, penguins):
    df, *_ = penguins
    model = from_json(fitted["separate", "full"][1])
    with pytest.raises(ValueError, match="tasks is required for a separate-mode model"):
        model.predict_proba(df)


def test_shared_unseen_task_uses_pooled_weights_when_asked(fitted, penguins):
    df, _, Z, _ = penguins
    mt, text = fitted["shared", "full"]
    model = from_json(text)
    tasks = np.array(["Mars"] * 5)
    assert np.array_equal(
        model.predict_proba(df.iloc[:5], tasks, unknown_task="pooled"),
        mt.predict_proba(Z[:5], tasks, unknown_task="pooled"),
    )
    with pytest.raises(ValueError, match="unknown_task='pooled'"):
        model.predict_proba(df.iloc[:5], tasks)


def test_fitted_model_refuses_submodels_of_different_shapes(penguins):
    _, _, Z, tasks = penguins
    a = fit_multitask(Z, tasks, 2, mode="separate")
    b = fit_multitask(Z, tasks, 3, mode="separate")
    subs = {"Biscoe": a.submodels["Biscoe"], "Dream": b.submodels["Dream"]}
    with pytest.raises(ValueError, match="different from the other tasks"):
        FittedModel(None, FEATURES, None, submodels=subs)


# -- malformed multi-task files -----------------------------------------------------------------
def _shared_fewer_tasks(doc):
    doc["tasks"] = doc["tasks"][:2]
    doc["task_n_samples"] = doc["task_n_samples"][:2]


def _shared_row_not_summing(doc):
    doc["weights"][2] = [0.5, 0.4, 0.05]


def _pooled_counts_mismatch(doc):
    doc["task_n_samples"] = [1, 2]


def _pooled_with_pooled_weights(doc):
    doc["pooled_weights"] = doc["weights"]


def _separate_submodel_missing(doc):
    del doc["submodels"]["Dream"]


def _separate_extra_submodel(doc):
    doc["submodels"]["Mars"] = doc["submodels"]["Dream"]


def _separate_weights_not_summing(doc):
    doc["submodels"]["Torgersen"]["weights"] = [0.5, 0.3, 0.1]


def _separate_with_top_level_weights(doc):
    doc["weights"] = [0.2, 0.3, 0.5]


def _separate_submodel_wrong_means(doc):
    doc["submodels"]["Biscoe"]["means"] = doc["submodels"]["Biscoe"]["means"][:2]


def _separate_without_submodels(doc):
    del doc["submodels"]


def _separate_submodel_without_fit(doc):
    del doc["submodels"]["Biscoe"]["fit"]


def _unknown_mode(doc):
    doc["mode"] = "hierarchical"


def _separate_tasks_not_strings(doc):
    doc["tasks"] = [1, 2, 3]


MALFORMED = {
    "shared_tasks_vs_weight_rows": (
        "shared",
        _shared_fewer_tasks,
        ["weights has shape (3, 3) but mode='shared' with 2 task(s)", "must have shape (2, 3)"],
    ),
    "shared_task_weights_not_summing_to_1": (
        "shared",
        _shared_row_not_summing,
        ["weights[2] (task 'Torgersen') sums to", "renormalize"],
    ),
    "pooled_task_counts_vs_tasks": (
        "pooled",
        _pooled_counts_mismatch,
        ["task_n_samples has 2 entries but there are 3 tasks", "one row count per task"],
    ),
    "pooled_with_pooled_weights": (
        "pooled",
        _pooled_with_pooled_weights,
        ["field 'pooled_weights' must be null"],
    ),
    "separate_submodel_missing": (
        "separate",
        _separate_submodel_missing,
        ["submodels has no entry for task 'Dream'", "add submodels.Dream"],
    ),
    "separate_extra_submodel": (
        "separate",
        _separate_extra_submodel,
        ["submodels has an entry for 'Mars'", "not in 'tasks'"],
    ),
    "separate_task_weights_not_summing_to_1": (
        "separate",
        _separate_weights_not_summing,
        ["submodels.Torgersen.weights sums to", "renormalize"],
    ),
    "separate_with_top_level_weights": (
        "separate",
        _separate_with_top_level_weights,
        ["field 'weights' does not belong", "'submodels'", "remove it"],
    ),
    "separate_submodel_wrong_means_shape": (
        "separate",
        _separate_submodel_wrong_means,
        ["submodels.Biscoe.means has shape (2, 4)", "must have shape (3, 4)"],
    ),
    "separate_without_submodels": (
        "separate",
        _separate_without_submodels,
        ["missing field 'submodels'", "add it"],
    ),
    "separate_submodel_without_fit": (
        "separate",
        _separate_submodel_without_fit,
        ["missing field 'fit' in 'submodels.Biscoe'", "add it"],
    ),
    "unknown_mode": (
        "shared",
        _unknown_mode,
        ["field 'mode' is \"hierarchical\"", '"pooled"', '"separate"', "fix that field"],
    ),
    "task_names_not_strings": (
        "separate",
        _separate_tasks_not_strings,
        ["field 'tasks[0]' must be a string"],
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_multitask_file_names_the_field_and_the_fix(case, fitted):
    mode, mutate, fragments = MALFORMED[case]
    doc = copy.deepcopy(_doc(fitted, mode))
    mutate(doc)
    with pytest.raises(ModelFileError) as info:
        from_json(json.dumps(doc))
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, message
    assert "\n" not in message
