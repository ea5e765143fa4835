"""Numeric kernels of the E-step: per-chunk log-densities as BLAS products.

Unchecked private kernels: they trust shapes and dtypes (validated at the public boundary).

Every chunk of m rows is first written, *transposed*, into one feature block ``FT`` of shape
``(1 + D + q, m)``: a row of ones, the D features, then the q second-moment features the
covariance structure's M-step needs (``x_d**2`` for diag/spherical, the upper triangle of
``x x^T`` for full, none for tied). The same block serves twice per chunk:

- log-densities: a *plan* (one per E-step, built by the covariance structure from the current
  parameters) turns ``FT`` into the (K, m) weighted log-densities with one or two GEMMs;
- statistics: ``resp^T @ F = respT @ FT.T`` is ``[S0 | S1 | S2]`` of the chunk in one GEMM.

Cancellation. An expanded quadratic form such as ``|y|^2 - 2 y.b + |b|^2`` (TiedPlan,
LinearPlan) rounds at about ``eps * (|y|^2 + |b|^2)``, where ``b`` is the component's mean
whitened by its precision factor and ``y`` the row, both in the block's coordinates; the
difference form ``|y - b|^2`` (FullPlan) rounds at ``eps * |b| * |y - b|``. Both are exact
enough while ``|b|`` is moderate, so the callers put the origin of the block near the data
(the E-step of a fit works on data centered on their mean; scoring centers each chunk on the
heaviest component's mean), and every plan evaluates the components whose ``|b|^2`` exceeds
:data:`FAR_SQUARED` by the direct form ``sum((U^T (x - mu))^2)``, whatever the offset.

Why transposed: with rows along the contiguous axis, every per-row operation (products of
features, sums over the D coordinates of a component, max and sum over the K components) is
a reduction or an elementwise op over *contiguous rows of length m*, which NumPy vectorizes.
In the natural (m, K) layout the same reductions run along a short axis (K ~ 5, D ~ 2) and
are 5-20x slower (measured: ``a.max(axis=1)`` on (8192, 5) takes 10x a column loop).
"""

from __future__ import annotations

import contextlib
import functools
import os

import numpy as np

__all__ = [
    "FAR_SQUARED",
    "FAR_SQUARED_FLOAT32",
    "FeatureLayout",
    "FullPlan",
    "LinearPlan",
    "MahalanobisPlan",
    "TiedPlan",
    "blas_controller",
    "far_components",
    "far_limit",
    "held_serial",
    "serial_blas",
]

LOG_2PI = np.log(2.0 * np.pi)

# A component is "far" from the block's origin when its whitened mean has |b|^2 above this.
# Below it, the expanded form's absolute error next to the component, ~4 eps |b|^2, is at most
# ~6e-11 in the Mahalanobis distance (3e-11 in the log-density), within the 1e-10 the tests ask
# of scoring against scipy; above it the direct form takes over. Ordinary data (components
# within 256 standard deviations of the data mean) never reach it, so the BLAS-shaped paths
# and their results are unchanged for them. Measured cost of the direct form: one (D, m)
# subtraction and square per far component and chunk.
FAR_SQUARED = 2.0**16
# The same bound for the expanded forms (TiedPlan, LinearPlan) evaluated in float32: their
# error next to a component, ~4 eps32 |b|^2, is 6e-5 in the Mahalanobis distance at 2^8
# (3e-5 in a log-density, against float32's own resolution ~1e-5 of a log-density of
# magnitude ~100). FullPlan's difference form errs by ~4 eps |b| only, linear in |b|: 6e-5
# at |b|^2 = 2^16 in float32, so it keeps FAR_SQUARED in both precisions.
FAR_SQUARED_FLOAT32 = 2.0**8


def far_limit(dtype, expanded: bool = True) -> float:
    """The ``|b|^2`` above which a plan in ``dtype`` evaluates a component by the direct form
    (``expanded``: the plan expands the quadratic form, error ~ eps |b|^2)."""
    return FAR_SQUARED_FLOAT32 if expanded and np.dtype(dtype) == np.float32 else FAR_SQUARED


_NO_COMPONENTS = np.empty(0, dtype=np.intp)
_NO_COMPONENTS.flags.writeable = False


def far_components(b_squared: np.ndarray, limit: float = FAR_SQUARED) -> np.ndarray:
    """Indices of components whose whitened mean has ``|b|^2 > limit``, shape (n_far,)."""
    # The usual case (none) in one reduction: plans are built at every E-step. (NaN fails
    # the test and takes the general path, which finds no far component, as before.)
    if float(b_squared.max()) <= limit:
        return _NO_COMPONENTS
    far = b_squared > limit
    return np.flatnonzero(far) if far.any() else _NO_COMPONENTS


# The E-step's chunk loop and the M-step's small factorizations run with single-threaded
# BLAS. Their calls are small (a few MFLOP, or D x D matrices); OpenBLAS still splits some of
# them over its threads, and when another process holds a core those threads wait for each
# other at every call. Measured on 2 shared cores under load (load average ~5): an E-step at
# 1e5 x 10-D x K=8 (full) took 1.0 s with threaded BLAS and 25 ms with one thread; a full
# M-step with K=8, D=2 took 12 ms against 0.16 ms. On an idle machine the two are the same.
# GMMCORE_SERIAL_BLAS=0 turns the switch off.
SERIAL_BLAS = os.environ.get("GMMCORE_SERIAL_BLAS", "1") != "0"
_controller = None
# True while a caller holds every BLAS at one thread for a long stretch of small calls (a
# model-selection grid: gmmcore.grid_pool.single_threaded_blas): serial_blas is then a no-op,
# saving its two threadpoolctl calls (~10 us) per M-step and E-step.
_HELD_SERIAL = False


@contextlib.contextmanager
def held_serial():
    """Mark BLAS as held at one thread by the caller (who applied the limit) meanwhile."""
    global _HELD_SERIAL
    before = _HELD_SERIAL
    _HELD_SERIAL = True
    try:
        yield
    finally:
        _HELD_SERIAL = before


def blas_controller():
    """threadpoolctl's view of every loaded BLAS library, scipy's included, made once per
    process; None without threadpoolctl (optional: BLAS then keeps its own threading).

    scipy.linalg is loaded first: it ships its own OpenBLAS, and a controller made before
    it was loaded never limited that one (scipy's 2 x 2 solve_triangular then took ~450 us
    instead of ~10 us on 2 shared cores). Made once because making it reads the process's
    memory map (~2 ms, a seventh of a K = 1 model-selection grid on iris)."""
    global _controller
    if _controller is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _controller = False
        else:
            from scipy import linalg  # noqa: F401  (see above)

            _controller = ThreadpoolController()
    return None if _controller is False else _controller


def serial_blas():
    """Context limiting every BLAS to one thread (via threadpoolctl, when it is installed).

    Note: BLAS's thread count is per process, so other threads' BLAS calls are serialized
    too while the context is active; results do not depend on it (tested).
    """
    if not SERIAL_BLAS or _HELD_SERIAL:
        return contextlib.nullcontext()
    controller = blas_controller()
    if controller is None:
        return contextlib.nullcontext()
    return controller.limit(limits=1, user_api="blas")


@functools.lru_cache(maxsize=64)
def _upper_triangle(d: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.triu_indices(d)``, read-only and cached: a layout is built at every E-step."""
    rows, cols = np.triu_indices(d)
    rows.flags.writeable = cols.flags.writeable = False
    return rows, cols


class FeatureLayout:
    """Row layout of the transposed feature block ``[1 ; x ; q(x)]`` for a second-moment kind."""

    __slots__ = ("n_features", "second_moment", "width", "n_q", "tri")

    def __init__(self, n_features: int, second_moment: str):
        d = n_features
        self.n_features = d
        self.second_moment = second_moment
        if second_moment == "outer":
            self.n_q = d * (d + 1) // 2
        elif second_moment == "square":
            self.n_q = d
        else:
            self.n_q = 0
        self.width = 1 + d + self.n_q
        self.tri = _upper_triangle(d) if second_moment == "outer" else None

    def new_block(self, rows: int, dtype=np.float64) -> np.ndarray:
        FT = np.empty((self.width, rows), dtype=dtype)
        FT[0] = 1.0  # the ones row is written once and survives every reuse
        return FT

    def fill(self, FT: np.ndarray, Xb: np.ndarray, center=None) -> np.ndarray:
        """Write chunk ``Xb`` (m, D), transposed and minus ``center`` (D,) when given, into
        ``FT`` (width, m); return ``FT``.

        ``Xb`` may be float32 and ``FT`` float64 (the E-step's statistics block): the cast
        happens in the copy, and the products of two float32 values are exact in float64.
        With a float32 ``FT`` the difference ``Xb - center`` is computed in float64 and
        rounded once."""
        d = self.n_features
        xt = FT[1 : 1 + d]
        if center is None:
            np.copyto(xt, Xb.T)
        else:
            np.subtract(Xb.T, center[:, None], out=xt)
        if self.second_moment == "square":
            np.multiply(xt, xt, out=FT[1 + d :])
        elif self.second_moment == "outer":
            c = 1 + d
            for i in range(d):  # row i of the upper triangle, in np.triu_indices order
                np.multiply(xt[i], xt[i:], out=FT[c : c + d - i])
                c += d - i
        return FT

    def split(self, T: np.ndarray):
        """(S0, S1, S2) from the accumulated ``resp^T @ F`` of shape (K, width)."""
        d = self.n_features
        S0 = T[:, 0].copy()
        S1 = T[:, 1 : 1 + d].copy()
        if self.second_moment == "outer":
            k = T.shape[0]
            S2 = np.empty((k, d, d))
            iu = self.tri
            q = T[:, 1 + d :]
            S2[:, iu[0], iu[1]] = q
            S2[:, iu[1], iu[0]] = q
        elif self.second_moment == "square":
            S2 = T[:, 1 + d :].copy()
        else:
            S2 = None
        return S0, S1, S2


class _Plan:
    """Weighted log-densities of a feature block: ``log w_k + log N(x | mu_k, Sigma_k)``.

    Called as ``plan(FT, log_weights, out, work)`` with ``FT`` (width, m), ``log_weights``
    (K,), ``out`` (K, m) and ``work`` a (work_rows(), m) scratch array or None.
    ``const`` (K,) holds the terms that depend on neither x nor the weights.
    """

    const: np.ndarray
    needs_q = False  # reads the second-moment rows of FT
    dtype = np.dtype(np.float64)  # of the matrices meeting FT, and so of FT and ``out``
    _args: tuple = ()

    def work_rows(self) -> int:
        return 0

    def astype(self, dtype) -> _Plan:
        """This plan for feature blocks of ``dtype`` (float32 or float64). The plan is built
        again from its float64 parameters: the far components depend on the precision (see
        :func:`far_limit`), and only the final matrices are rounded."""
        if np.dtype(dtype) == self.dtype or not self._args:
            return self
        return type(self)(*self._args, dtype=dtype)

    def __call__(self, FT, log_weights, out, work):  # pragma: no cover - interface
        raise NotImplementedError


class MahalanobisPlan(_Plan):
    """Fallback for any structure: its own ``mahalanobis`` and ``log_det`` (not BLAS-tuned).

    It serves blocks of any dtype (``astype`` returns itself): the structure's direct form
    runs on the float64 parameters and its result is rounded into ``out``.
    """

    def __init__(self, structure, means, prec_chol):
        d = means.shape[1]
        self.structure, self.means, self.prec_chol = structure, means, prec_chol
        self.const = structure.log_det_precisions_cholesky(prec_chol, d) - 0.5 * d * LOG_2PI
        self.d = d

    def __call__(self, FT, log_weights, out, work):
        maha = self.structure.mahalanobis(FT[1 : 1 + self.d].T, self.means, self.prec_chol)
        np.multiply(maha.T, -0.5, out=out)
        out += (self.const + log_weights)[:, None]
        return out


class FullPlan(_Plan):
    """Per-component precision factors: ``||x U_k - mu_k U_k||^2`` for all k with one GEMM.

    ``[U_1 ... U_K]^T`` augmented with the column ``-(mu_k U_k)`` times ``[1 ; x]`` gives the
    (K*D, m) whitened differences (the difference form, as scikit-learn: no cancellation of
    large quadratic terms). The factors are pre-scaled by sqrt(1/2), so after squaring in
    place a sum over each component's D rows is ``maha / 2``.
    """

    def __init__(self, means, prec_chol, log_det, *, dtype=np.float64):
        k, d = means.shape
        self.k, self.d = k, d
        self._args, self.dtype = (means, prec_chol, log_det), np.dtype(dtype)
        WT = np.empty((k * d, 1 + d))
        WT[:, 1:] = prec_chol.transpose(0, 2, 1).reshape(k * d, d)
        b = (means[:, None, :] @ prec_chol)[:, 0]  # mu_k U_k, (K, D)
        WT[:, 0] = -b.reshape(k * d)
        WT *= np.sqrt(0.5)
        self.WT = WT.astype(dtype, copy=False)
        self.const = log_det - 0.5 * d * LOG_2PI
        self.far = far_components((b * b).sum(axis=1), far_limit(dtype, expanded=False))
        if self.far.size:
            self.far_means = means[self.far].astype(dtype, copy=False)
            self.far_UT = (np.sqrt(0.5) * prec_chol[self.far].transpose(0, 2, 1)).astype(dtype)

    def work_rows(self):
        return self.k * self.d + (self.d if self.far.size else 0)

    def __call__(self, FT, log_weights, out, work):
        k, d = self.k, self.d
        main = work[: k * d]
        np.matmul(self.WT, FT[: 1 + d], out=main)
        if self.far.size:  # U^T (x - mu) instead of U^T x - U^T mu
            diff = work[k * d :]
            for j, mu, UT in zip(self.far, self.far_means, self.far_UT, strict=True):
                np.subtract(FT[1 : 1 + d], mu[:, None], out=diff)
                np.matmul(UT, diff, out=main[j * d : (j + 1) * d])
        np.square(main, out=main)
        np.add.reduce(main.reshape(k, d, -1), axis=1, out=out)
        np.subtract((self.const + log_weights)[:, None], out, out=out)
        return out


class TiedPlan(_Plan):
    """One shared factor U: ``-1/2 ||y - b_k||^2 = -1/2 |y|^2 + y.b_k - 1/2 |b_k|^2``, y = x U.

    The expansion keeps the work at (D, m) + (K, m) instead of (K*D, m). Far components
    (see :func:`far_components`) get ``-1/2 ||(x - mu_k) U||^2``, subtracting before
    whitening (``y - b_k`` would still round at eps * |b_k|): one (D, m) GEMM each.
    """

    def __init__(self, means, prec_chol, log_det, *, dtype=np.float64):
        k, d = means.shape
        self.k, self.d = k, d
        self._args, self.dtype = (means, prec_chol, log_det), np.dtype(dtype)
        self.UT = np.ascontiguousarray(prec_chol.T, dtype=dtype)
        b = means @ prec_chol
        b2 = (b * b).sum(axis=1)
        limit = far_limit(dtype)
        self.far = far_components(b2, limit)
        if self.far.size:
            self.near = np.flatnonzero(b2 <= limit)
            self.far_means = means[self.far].astype(dtype, copy=False)
            b[self.far] = 0.0  # their expanded rows are overwritten: keep them small, finite
            b2[self.far] = 0.0
        self.b = b.astype(dtype, copy=False)
        self.const = log_det - 0.5 * d * LOG_2PI - 0.5 * b2

    def work_rows(self):
        return self.d + 1 + (2 * self.d if self.far.size else 0)

    def __call__(self, FT, log_weights, out, work):
        d = self.d
        y = work[:d]
        s = work[d]
        np.matmul(self.UT, FT[1 : 1 + d], out=y)
        np.matmul(self.b, y, out=out)
        if self.far.size:
            diff, z = work[d + 1 : 2 * d + 1], work[2 * d + 1 :]
            for j, mu in zip(self.far, self.far_means, strict=True):
                np.subtract(FT[1 : 1 + d], mu[:, None], out=diff)
                np.matmul(self.UT, diff, out=z)
                np.square(z, out=z)
                np.add.reduce(z, axis=0, out=out[j])
                out[j] *= -0.5
        np.square(y, out=y)
        np.add.reduce(y, axis=0, out=s)
        s *= -0.5
        if self.far.size:
            for j in self.near:
                out[j] += s
        else:
            out += s
        out += (self.const + log_weights)[:, None]
        return out


class LinearPlan(_Plan):
    """Diagonal and spherical: the log-density is linear in ``[1 ; x ; x**2]``, one GEMM.

    ``-1/2 sum_d p_kd (x_d - mu_kd)^2 = -1/2 sum p mu^2 + sum (p mu)_d x_d - 1/2 sum p_kd x_d^2``.
    Far components (see :func:`far_components`) keep only their constant in the GEMM and get
    ``-1/2 sum_d p_kd (x_d - mu_kd)^2`` directly, one (D, m) pass each.
    """

    needs_q = True

    def __init__(self, means, prec, log_det, *, dtype=np.float64):
        k, d = means.shape
        self._args, self.dtype = (means, prec, log_det), np.dtype(dtype)
        if prec.shape != (k, d):
            prec = np.broadcast_to(prec.reshape(k, -1), (k, d))
        b2 = (means * means * prec).sum(axis=1)
        self.far = far_components(b2, far_limit(dtype))
        W = np.empty((k, 1 + 2 * d))
        W[:, 1 : 1 + d] = means * prec
        W[:, 1 + d :] = -0.5 * prec
        if self.far.size:
            self.far_means = means[self.far].astype(dtype, copy=False)
            self.far_half_prec = (-0.5 * prec[self.far]).astype(dtype, copy=False)
            b2[self.far] = 0.0
            W[self.far, 1:] = 0.0
        self.const = log_det - 0.5 * d * LOG_2PI - 0.5 * b2
        W[:, 0] = self.const
        self.W = W.astype(dtype, copy=False)
        self.d = d

    def work_rows(self):
        return self.d + 1 if self.far.size else 0

    def __call__(self, FT, log_weights, out, work):
        # The constants ride in the column of W that meets FT's row of ones. A zero weight
        # (log -inf) must not enter the GEMM: BLAS kernels may form -inf * 0 = NaN.
        if np.isfinite(log_weights).all():
            W = self.W.copy()
            W[:, 0] += log_weights
            np.matmul(W, FT, out=out)
        else:
            np.matmul(self.W, FT, out=out)
            out += log_weights[:, None]
        if self.far.size:
            d = self.d
            diff, row = work[:d], work[d]
            for j, mu, hp in zip(self.far, self.far_means, self.far_half_prec, strict=True):
                np.subtract(FT[1 : 1 + d], mu[:, None], out=diff)
                np.square(diff, out=diff)
                np.matmul(hp, diff, out=row)
                out[j] += row
        return out
