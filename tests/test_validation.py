"""Validation at the boundary: every user mistake is a ValueError that says what to do.

Each test matches a key phrase of the message: the part that tells the user how to fix it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gmmcore.engine.covariance import COVARIANCE_TYPES
from gmmcore.engine.em import iter_em
from gmmcore.mixture import GaussianMixture


@pytest.fixture(scope="module")
def X():
    return np.random.RandomState(0).normal(size=(40, 2))


def fit(X, **kwargs):
    kwargs.setdefault("random_state", 0)
    n_components = kwargs.pop("n_components", 2)
    return GaussianMixture(n_components, **kwargs).fit(X)


# -- the data -------------------------------------------------------------------------------


def test_dataframe_with_string_column_names_the_column():
    df = pd.DataFrame({"a": [1.0, 2.0, 3.0], "species": ["x", "y", "z"]})
    with pytest.raises(ValueError, match=r"non-numeric column\(s\) 'species'; select numeric"):
        fit(df, n_components=1)


def test_array_of_strings_is_rejected():
    X = np.array([["1.0", "a"], ["2.0", "b"]], dtype=object)
    with pytest.raises(ValueError, match="pass numbers only"):
        fit(X, n_components=1)


def test_nested_list_of_mixed_types_is_rejected():
    with pytest.raises(ValueError, match="pass numbers only"):
        fit([[1.0, "x"], [2.0, 3.0]], n_components=1)


def test_nan_says_drop_or_impute(X):
    bad = X.copy()
    bad[5, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN in 1 row\(s\) \(first at row 5\); drop or impute"):
        fit(bad)


@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_infinity_says_drop_or_impute(X, value):
    bad = X.copy()
    bad[3, 0] = value
    with pytest.raises(ValueError, match="contains infinity.*drop or impute"):
        fit(bad)


def test_one_dimensional_x_says_reshape():
    with pytest.raises(ValueError, match=r"reshape\(-1, 1\)"):
        fit(np.arange(10.0), n_components=1)


def test_three_dimensional_x_says_2d():
    with pytest.raises(ValueError, match=r"must be 2-D of shape \(n_samples, n_features\)"):
        fit(np.zeros((3, 2, 2)), n_components=1)


@pytest.mark.parametrize("shape", [(0, 2), (5, 0)])
def test_empty_x_says_at_least_one_row(shape):
    with pytest.raises(ValueError, match="needs at least one row and one feature"):
        fit(np.zeros(shape), n_components=1)


def test_fewer_rows_than_components_says_use_fewer(X):
    with pytest.raises(ValueError, match="fewer than n_components=5; use fewer components"):
        fit(X[:4], n_components=5)


def test_constant_column_is_fitted_as_sklearn_does(X):
    """scikit-learn fits a constant column (reg_covar keeps the covariance positive definite);
    the engine does too. (Was: refused with "is constant ... drop that column"; the scikit-learn
    drop-in issue asks for scikit-learn's behaviour. Readers that want to skip such columns
    ask check_X for allow_constant=False, below.)"""
    bad = X.copy()
    bad[:, 1] = 3.0
    gm = fit(bad)
    assert np.isfinite(gm.covariances_).all()
    assert np.allclose(gm.means_[:, 1], 3.0)


def test_constant_column_refused_on_request_says_drop_it(X):
    from gmmcore.engine.validation import check_X

    bad = X.copy()
    bad[:, 1] = 3.0
    with pytest.raises(ValueError, match=r"column 1 is constant.*drop that column"):
        check_X(bad, allow_constant=False)


def test_constant_dataframe_column_refused_on_request_is_named(X):
    from gmmcore.engine.validation import check_X

    df = pd.DataFrame({"a": X[:, 0], "flat": 1.0})
    with pytest.raises(ValueError, match=r"column 1 \('flat'\) is constant"):
        check_X(df, allow_constant=False)


def test_wrong_number_of_features_at_predict(X):
    gm = fit(X)
    with pytest.raises(ValueError, match="fitted on 2; pass the same columns"):
        gm.predict(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="fitted on 2"):
        gm.score_samples(np.zeros((3, 1)))


def test_predict_accepts_constant_new_data(X):
    """Constant columns are a fitting problem only: a single new row must predict."""
    gm = fit(X)
    assert gm.predict(np.zeros((1, 2))).shape == (1,)
    assert gm.predict(np.zeros((4, 2))).shape == (4,)


# -- n_components ---------------------------------------------------------------------------


@pytest.mark.parametrize("k", [0, -1])
def test_n_components_below_one(X, k):
    with pytest.raises(ValueError, match="n_components must be >= 1.*use at least one"):
        fit(X, n_components=k)


@pytest.mark.parametrize("k", [2.5, 2.0, "3", None, True])
def test_n_components_not_an_int(X, k):
    with pytest.raises(ValueError, match="n_components must be a whole number"):
        fit(X, n_components=k)


def test_n_components_numpy_integer_is_accepted(X):
    assert fit(X, n_components=np.int64(2)).means_.shape == (2, 2)


# -- covariance_type and init_params --------------------------------------------------------


@pytest.mark.parametrize("bad", ["Full", "vvv", "", None])
def test_bad_covariance_type(X, bad):
    with pytest.raises(ValueError, match="choose one of full, tied, diag, spherical"):
        fit(X, covariance_type=bad)


@pytest.mark.parametrize("bad", ["k-means", "kmeans++", "", None])
def test_bad_init_params(X, bad):
    with pytest.raises(ValueError, match="choose one of kmeans, k-means\\+\\+, random"):
        fit(X, init_params=bad)


# -- numeric settings -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "phrase"),
    [
        ("tol", -1e-3, "tol must be >= 0"),
        ("tol", np.nan, "tol must be a finite number"),
        ("tol", "small", "tol must be a finite number"),
        ("reg_covar", -1e-6, "reg_covar must be >= 0"),
        ("reg_covar", np.inf, "reg_covar must be a finite number"),
        ("max_iter", -1, "max_iter must be >= 0"),
        ("max_iter", 10.5, "max_iter must be a whole number"),
        ("max_iter", True, "max_iter must be a whole number"),
        ("n_init", 0, "n_init must be a whole number >= 1"),
        ("n_init", 2.0, "n_init must be a whole number >= 1"),
        ("random_state", -1, "random_state must be between 0 and 2\\*\\*32 - 1"),
        ("random_state", "seed", "random_state must be None, an int or a numpy RandomState"),
    ],
)
def test_bad_numeric_setting(X, name, value, phrase):
    with pytest.raises(ValueError, match=phrase):
        fit(X, **{name: value})


# -- user-given initial parameters ----------------------------------------------------------


@pytest.mark.parametrize(
    ("weights", "phrase"),
    [
        ([0.5, 0.3, 0.2], r"weights_init must have shape \(2,\)"),
        ([0.7, 0.7], "normalize it first"),
        ([1.5, -0.5], "finite and non-negative"),
        ([np.nan, 1.0], "finite and non-negative"),
    ],
)
def test_bad_weights_init(X, weights, phrase):
    with pytest.raises(ValueError, match=phrase):
        fit(X, weights_init=weights)


@pytest.mark.parametrize(
    ("means", "phrase"),
    [
        (np.zeros((3, 2)), r"means_init must have shape \(2, 2\), got \(3, 2\)"),
        (np.zeros((2, 3)), r"means_init must have shape \(2, 2\)"),
        (np.zeros(2), r"means_init must have shape \(2, 2\)"),
        (np.array([[0.0, np.nan], [1.0, 1.0]]), "means_init contains NaN or infinity"),
    ],
)
def test_bad_means_init(X, means, phrase):
    with pytest.raises(ValueError, match=phrase):
        fit(X, means_init=means)


WRONG_PRECISION_SHAPES = {
    "full": np.ones((2, 2)),
    "tied": np.ones((2, 2, 2)),
    "diag": np.ones((2,)),
    "spherical": np.ones((2, 2)),
}


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_precisions_init_wrong_shape_names_expected_shape(X, covariance_type):
    with pytest.raises(
        ValueError, match=f"precisions_init for covariance_type='{covariance_type}' must have shape"
    ):
        fit(
            X,
            covariance_type=covariance_type,
            precisions_init=WRONG_PRECISION_SHAPES[covariance_type],
        )


NOT_POSITIVE = {
    "full": np.stack([np.eye(2), np.array([[1.0, 2.0], [2.0, 1.0]])]),
    "tied": np.array([[1.0, 2.0], [2.0, 1.0]]),
    "diag": np.array([[1.0, 1.0], [1.0, -1.0]]),
    "spherical": np.array([1.0, -2.0]),
}


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_precisions_init_not_positive_definite(X, covariance_type):
    with pytest.raises(ValueError, match="precisions_init must be .*positive"):
        fit(X, covariance_type=covariance_type, precisions_init=NOT_POSITIVE[covariance_type])


@pytest.mark.parametrize(
    ("covariance_type", "precisions"),
    [("diag", np.array([[1.0, 1.0], [1.0, 0.0]])), ("spherical", np.array([1.0, 0.0]))],
)
def test_precisions_init_with_zero_precision_is_rejected(X, covariance_type, precisions):
    with pytest.raises(ValueError, match="precisions_init must be .*positive"):
        fit(X, covariance_type=covariance_type, precisions_init=precisions)


def test_precisions_init_with_nan(X):
    p = np.array([[1.0, np.nan], [1.0, 1.0]])
    with pytest.raises(ValueError, match="precisions_init contains NaN or infinity"):
        fit(X, covariance_type="diag", precisions_init=p)


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_precisions_init_not_symmetric_is_rejected(X, covariance_type):
    p = np.array([[2.0, 0.9], [0.0, 2.0]])  # positive definite lower triangle, not symmetric
    if covariance_type == "full":
        p = np.stack([p, np.eye(2)])
    with pytest.raises(ValueError, match="symmetric"):
        fit(X, covariance_type=covariance_type, precisions_init=p)


def test_multi_task_weights_init_needs_one_row_per_task(X):
    tasks = np.repeat(["a", "b"], 20)
    with pytest.raises(ValueError, match=r"weights_init must have shape \(2, 2\)"):
        GaussianMixture(2, weights_init=[0.5, 0.5], random_state=0).fit(X, tasks=tasks)


# -- tasks ----------------------------------------------------------------------------------


def test_tasks_of_wrong_length(X):
    with pytest.raises(ValueError, match="tasks must be one label per row: expected 40"):
        GaussianMixture(2, random_state=0).fit(X, tasks=["a"] * 39)


def test_tasks_with_missing_values(X):
    tasks = np.array(["a"] * 39 + [None], dtype=object)
    with pytest.raises(ValueError, match="give every row a task label"):
        GaussianMixture(2, random_state=0).fit(X, tasks=tasks)


def test_single_task_model_rejects_tasks_at_predict(X):
    gm = fit(X)
    with pytest.raises(ValueError, match="call without tasks"):
        gm.predict(X, tasks=["a"] * 40)


def test_multi_task_model_rejects_unknown_task(X):
    gm = GaussianMixture(2, random_state=0).fit(X, tasks=np.repeat(["a", "b"], 20))
    with pytest.raises(ValueError, match=r"unknown task 'c'; the mixture knows \['a', 'b'\]"):
        gm.predict(X[:2], tasks=["a", "c"])


# -- sample ---------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, -3, 2.5, True])
def test_sample_bad_n_samples(X, n):
    with pytest.raises(ValueError, match="n_samples must be a whole number >= 1"):
        fit(X).sample(n)


def test_sample_multi_task_needs_task(X):
    gm = GaussianMixture(2, random_state=0).fit(X, tasks=np.repeat(["a", "b"], 20))
    with pytest.raises(ValueError, match=r"pass task= one of \['a', 'b'\]"):
        gm.sample(5)


# -- iter_em validates before the first snapshot --------------------------------------------


def test_iter_em_validates_before_yielding(X):
    gen = iter_em(X, 0)
    with pytest.raises(ValueError, match="n_components must be >= 1"):
        next(gen)


def test_an_integer_seed_draws_the_random_states_numbers_seeded_on_first_use():
    import copy
    import pickle

    from gmmcore.engine.validation import DeferredRandomState, check_random_state

    rng = check_random_state(7)
    assert isinstance(rng, DeferredRandomState) and check_random_state(rng) is rng
    assert rng._random_state is None  # nothing seeded until a number is drawn
    twin = copy.deepcopy(rng)
    reference = np.random.RandomState(7)
    assert rng.randint(10**9) == reference.randint(10**9)
    assert rng.rand(3).tolist() == reference.rand(3).tolist()
    # Copies, before or after the first draw, continue as the original would.
    assert twin.randint(10**9) == np.random.RandomState(7).randint(10**9)
    later = pickle.loads(pickle.dumps(rng))
    assert later.rand() == rng.rand()
    with pytest.raises(AttributeError):
        rng.no_such_method  # noqa: B018
