"""Benchmark: gmmcore's EM against scikit-learn's, side by side in one process.

Run from the repository root::

    python -m bench.run                  # full grid (about 10 minutes on 2 cores)
    python -m bench.run --quick          # N <= 1e5 and the Old Faithful grid (< 1 minute)
    python -m bench.run --cases 'n1e6-*-full' grid-gvhd --output /tmp/r.md

For every case both engines start from the *same* data and the same initial weights, means
and precisions, run a fixed number of iterations (``tol=0``), and alternate, round after
round, so that both see the same machine state. A time is reported only when both reached
the same log-likelihood at every iteration (relative 1e-8); otherwise the row says FAIL.

Timing: the time of one EM iteration is the interval between two consecutive E-steps (the
M-step, the E-step and each engine's bookkeeping in between). For gmmcore that is the interval
between two "E" snapshots of :func:`gmmcore.iter_em` (what ``fit`` consumes); for
scikit-learn, between two calls of its ``_e_step`` (timestamped by a subclass). The table
shows the median over all intervals of all rounds.

Memory: peak bytes allocated during one ``fit`` (2 iterations), measured with
:mod:`tracemalloc` in a separate, untimed run, starting after the data exists. tracemalloc
sees every NumPy array (NumPy reports its buffers to it) and nothing else of the process, so
the number belongs to the fit alone and can be compared with the data size; ``ru_maxrss`` is
a process-wide high-water mark that cannot be reset between cases and includes the
interpreter, imported modules and every earlier case. (BLAS-internal scratch, which neither
engine controls, is not counted; it is a few MB.)
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import platform
import sys
import time
import tracemalloc
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # python bench/run.py works too
    sys.path.insert(0, str(ROOT))

from gmmcore import COVARIANCE_TYPES, ConvergenceWarning, GaussianMixture, iter_em  # noqa: E402

LL_RTOL = 1e-8
SIZES = (10_000, 100_000, 1_000_000)
DIMS = (2, 10)
KS = (5, 8)
# (iterations per run, rounds) by N: enough intervals for a stable median, within budget.
SCHEDULE = {10_000: (12, 5), 100_000: (6, 3), 1_000_000: (3, 3)}
QUICK_SCHEDULE = {10_000: (6, 2), 100_000: (3, 2)}
MEMORY_ITERATIONS = 2


def _sklearn():
    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    class TimedSk(SkGaussianMixture):
        """scikit-learn's estimator, timestamping the start of every E-step."""

        def _e_step(self, X, *args, **kwargs):
            self.stamps_.append(time.perf_counter())
            return super()._e_step(X, *args, **kwargs)

    return SkGaussianMixture, TimedSk


# -- cases ----------------------------------------------------------------------------------
def _n_label(n: int) -> str:
    return f"1e{round(np.log10(n))}"


@dataclass
class Case:
    n: int
    d: int
    k: int
    covariance_type: str
    iterations: int
    rounds: int

    @property
    def name(self) -> str:
        return f"n{_n_label(self.n)}-d{self.d}-k{self.k}-{self.covariance_type}"


def make_data(n: int, d: int, k: int, seed: int = 0) -> np.ndarray:
    """K Gaussian blobs with random anisotropic covariances, shifted away from the origin."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=4.0, size=(k, d)) + 10.0
    labels = rng.integers(k, size=n)
    mix = rng.normal(size=(k, d, d)) / np.sqrt(d) + np.eye(d)
    X = np.empty((n, d))
    for j in range(k):
        rows = labels == j
        X[rows] = centers[j] + rng.normal(size=(rows.sum(), d)) @ mix[j]
    return X


def initial_parameters(X: np.ndarray, k: int, covariance_type: str, seed: int = 1):
    """Uniform weights, K distinct data rows as means, the data's variances as precisions."""
    rng = np.random.default_rng(seed)
    means = X[rng.choice(X.shape[0], size=k, replace=False)]
    weights = np.full(k, 1.0 / k)
    prec = 1.0 / X.var(axis=0)
    precisions = {
        "full": np.repeat(np.diag(prec)[None], k, axis=0),
        "tied": np.diag(prec),
        "diag": np.repeat(prec[None], k, axis=0),
        "spherical": np.full(k, prec.mean()),
    }[covariance_type]
    return weights, means, precisions


# -- one case ------------------------------------------------------------------------------
@dataclass
class CaseResult:
    case: Case
    ours: list[float] = field(default_factory=list)
    sklearn: list[float] = field(default_factory=list)
    ll_error: float = 0.0
    failure: str = ""
    data_bytes: int = 0
    ours_peak: int = 0
    sklearn_peak: int = 0


def _run_ours(X, k, ct, iterations, init):
    stamps, lls = [], []
    for snap in iter_em(X, k, covariance_type=ct, tol=0.0, max_iter=iterations, **init):
        if snap.phase == "E":
            stamps.append(time.perf_counter())
            lls.append(snap.mean_log_likelihood)
    return np.diff(stamps).tolist(), np.array(lls)


def _run_sklearn(TimedSk, X, k, ct, iterations, init):
    gm = TimedSk(
        n_components=k,
        covariance_type=ct,
        tol=0.0,
        max_iter=iterations,
        init_params="random_from_data",
        random_state=0,
        **init,
    )
    gm.stamps_ = []
    gm.fit(X)
    return np.diff(gm.stamps_).tolist(), np.array(gm.lower_bounds_)


def _peak(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def run_case(case: Case, memory: bool = True) -> CaseResult:
    SkGaussianMixture, TimedSk = _sklearn()
    X = make_data(case.n, case.d, case.k)
    w, m, p = initial_parameters(X, case.k, case.covariance_type)
    init = dict(weights_init=w, means_init=m, precisions_init=p)
    res = CaseResult(case, data_bytes=X.nbytes)
    ct, k = case.covariance_type, case.k
    for _ in range(case.rounds):
        t_ours, ll_ours = _run_ours(X, k, ct, case.iterations, init)
        t_sk, ll_sk = _run_sklearn(TimedSk, X, k, ct, case.iterations, init)
        if ll_ours.shape != ll_sk.shape:
            res.failure = f"iterations differ: {len(ll_ours)} vs {len(ll_sk)}"
            return res
        err = float(np.max(np.abs(ll_ours - ll_sk) / np.abs(ll_sk)))
        res.ll_error = max(res.ll_error, err)
        if not err <= LL_RTOL:
            res.failure = f"log-likelihood differs (rel. {err:.1e} > {LL_RTOL:g})"
            return res
        res.ours += t_ours
        res.sklearn += t_sk
    if memory:
        kw = dict(n_components=k, covariance_type=ct, tol=0.0, max_iter=MEMORY_ITERATIONS, **init)
        with warnings.catch_warnings():  # a fixed number of iterations, on purpose
            warnings.simplefilter("ignore", ConvergenceWarning)
            res.ours_peak = _peak(lambda: GaussianMixture(**kw).fit(X))
        res.sklearn_peak = _peak(
            lambda: SkGaussianMixture(init_params="random_from_data", random_state=0, **kw).fit(X)
        )
    return res


# -- model-selection grids -----------------------------------------------------------------
@dataclass
class GridResult:
    name: str
    n: int
    d: int
    ours_seconds: float
    sklearn_seconds: float
    ours_best: str
    sklearn_best: str
    ours_failed: int
    sklearn_failed: int


def _load(name: str) -> np.ndarray:
    import pandas as pd

    df = pd.read_csv(ROOT / "sample_data" / f"{name}.csv")
    return df.select_dtypes("number").to_numpy(dtype=np.float64)


def _grid_ours(X, ks, types):
    try:
        from gmmcore.selection import model_grid
    except ImportError:  # pragma: no cover - before the selection module existed
        model_grid = None
    if model_grid is not None:
        # scikit-learn's settings (k-means start, tol 1e-3, max_iter 100), so both sides do the
        # same work; model_grid's own defaults (mclust's hc start, tol 1e-5) are compared with
        # mclust in bench/mclust.py.
        grid = model_grid(
            X, ks, types, n_init=1, random_state=0, init_params="kmeans", tol=1e-3, max_iter=100
        )
        ok = grid[grid["bic"].notna()]
        best = ok.loc[ok["bic"].idxmin()]
        return f"{best['covariance_type']} K={best['n_components']}", int(len(grid) - len(ok))
    best, failed = (np.inf, ""), 0
    for ct in types:
        for k in ks:
            try:
                gm = GaussianMixture(k, covariance_type=ct, random_state=0).fit(X)
                best = min(best, (gm.bic(X), f"{ct} K={k}"))
            except ValueError:
                failed += 1
    return best[1], failed


def _grid_sklearn(X, ks, types):
    SkGaussianMixture, _ = _sklearn()
    best, failed = (np.inf, ""), 0
    for ct in types:
        for k in ks:
            try:
                gm = SkGaussianMixture(k, covariance_type=ct, random_state=0).fit(X)
                best = min(best, (gm.bic(X), f"{ct} K={k}"))
            except ValueError:
                failed += 1
    return best[1], failed


def run_grid(name: str, rounds: int) -> GridResult:
    X = _load(name)
    ks, types = range(1, 10), COVARIANCE_TYPES
    t_ours, t_sk = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        ours_best, ours_failed = _grid_ours(X, ks, types)
        t_ours.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        sk_best, sk_failed = _grid_sklearn(X, ks, types)
        t_sk.append(time.perf_counter() - t0)
    return GridResult(
        name,
        X.shape[0],
        X.shape[1],
        float(np.median(t_ours)),
        float(np.median(t_sk)),
        ours_best,
        sk_best,
        ours_failed,
        sk_failed,
    )


# -- report --------------------------------------------------------------------------------
def _fmt_time(seconds: float) -> str:
    if seconds >= 1.0:
        return f"{seconds:.2f} s"
    return f"{seconds * 1e3:.3g} ms"


def _mb(nbytes: int) -> str:
    return f"{nbytes / 2**20:.1f}"


def render(case_results, grid_results, args, started, elapsed, load_before, load_after) -> str:
    import numpy
    import scipy
    import sklearn

    lines = [
        "# Benchmark: gmmcore vs scikit-learn",
        "",
        "Generated by `python -m bench.run"
        + (" --quick" if args.quick else "")
        + (" --cases " + " ".join(args.cases) if args.cases else "")
        + f"` on {started}, in {elapsed:.0f} s. Machine: {os.cpu_count()} CPUs, "
        f"{platform.machine()}, Python {platform.python_version()}, NumPy {numpy.__version__}, "
        f"SciPy {scipy.__version__}, scikit-learn {sklearn.__version__}. "
        f"Load average before/after: {load_before} / {load_after} (a shared machine adds noise; "
        "both engines alternate, so both see it).",
        "",
    ]
    if case_results:
        lines += [
            "## Time per EM iteration (same data, same initial parameters, tol=0)",
            "",
            "Median over all iterations of all rounds. *speed-up* = scikit-learn / gmmcore. "
            "*peak* = tracemalloc peak during a 2-iteration fit, MB; *budget* = 3 x data + "
            "N x K responsibilities (issue 5). *ll rel. err.* = largest relative difference of "
            "the per-iteration log-likelihoods.",
            "",
            "| case | N | D | K | type | iters x rounds | scikit-learn | gmmcore | speed-up "
            "| data MB | gmmcore peak MB | scikit-learn peak MB | budget MB | ll rel. err. |",
            "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in case_results:
            c = r.case
            head = (
                f"| {c.name} | {c.n:,} | {c.d} | {c.k} | {c.covariance_type} | "
                f"{c.iterations} x {c.rounds} |"
            )
            if r.failure:
                lines.append(head + f" FAIL | FAIL | {r.failure} | | | | | |")
                continue
            sk, ours = float(np.median(r.sklearn)), float(np.median(r.ours))
            budget = 3 * r.data_bytes + c.n * c.k * 8
            mem = ""
            if r.ours_peak:
                # The memory target is stated for 1e6-row fits; below that the fixed ~2 MB of
                # chunk buffers can exceed a budget proportional to N.
                flag = " (over)" if c.n >= 1_000_000 and r.ours_peak > budget else ""
                mem = (
                    f" {_mb(r.data_bytes)} | {_mb(r.ours_peak)}{flag} | "
                    f"{_mb(r.sklearn_peak)} | {_mb(budget)} |"
                )
            else:
                mem = " | | | |"
            lines.append(
                head
                + f" {_fmt_time(sk)} | {_fmt_time(ours)} | {sk / ours:.1f}x |"
                + mem
                + f" {r.ll_error:.1e} |"
            )
        ok = [r for r in case_results if not r.failure]
        if ok:
            ratios = [float(np.median(r.sklearn) / np.median(r.ours)) for r in ok]
            worst = ok[int(np.argmin(ratios))]
            lines += [
                "",
                f"Slowest relative case: {worst.case.name}, {min(ratios):.1f}x; "
                f"{sum(1 for r in case_results if r.failure)} failure(s).",
            ]
        lines.append("")
    if grid_results:
        lines += [
            "## Model-selection grid: K = 1..9 x four covariance types, one restart per cell",
            "",
            "Wall time of the whole grid (median of rounds), default tol, `random_state=0`. Both "
            "initialize with k-means, each its own, so the fits (and iteration counts) differ; "
            "the best-BIC cell is shown for reference. gmmcore runs "
            "`gmmcore.selection.model_grid`, scikit-learn a loop of `fit` + `bic`.",
            "",
            "| data | N | D | scikit-learn | gmmcore | speed-up | gmmcore best BIC "
            "| scikit-learn best BIC | failed cells (ours / sklearn) |",
            "|---|---:|---:|---:|---:|---:|---|---|---:|",
        ]
        for g in grid_results:
            lines.append(
                f"| {g.name} | {g.n:,} | {g.d} | {_fmt_time(g.sklearn_seconds)} | "
                f"{_fmt_time(g.ours_seconds)} | {g.sklearn_seconds / g.ours_seconds:.1f}x | "
                f"{g.ours_best} | {g.sklearn_best} | {g.ours_failed} / {g.sklearn_failed} |"
            )
        lines.append("")
    return "\n".join(lines)


def build_cases(quick: bool) -> list[Case]:
    schedule = QUICK_SCHEDULE if quick else SCHEDULE
    return [
        Case(n, d, k, ct, *schedule[n])
        for n in SIZES
        if n in schedule
        for d in DIMS
        for k in KS
        for ct in COVARIANCE_TYPES
    ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="N <= 1e5, fewer iterations, Old Faithful grid only (< 1 minute)",
    )
    parser.add_argument(
        "--cases",
        nargs="+",
        metavar="PATTERN",
        help="only cases whose name matches a glob pattern, e.g. 'n1e6-d2-*' or "
        "grid-gvhd (names: n1e4-d2-k5-full ..., grid-faithful, grid-gvhd)",
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc runs")
    parser.add_argument(
        "--output",
        default=str(ROOT / "bench" / "results.md"),
        help="markdown file to write (default: bench/results.md)",
    )
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", module="sklearn")  # ConvergenceWarning at tol=0

    cases = build_cases(args.quick)
    grids = ["faithful"] if args.quick else ["faithful", "gvhd"]
    grid_names = [f"grid-{g}" for g in grids]
    if args.cases:

        def wanted(name):
            return any(fnmatch.fnmatch(name, pat) for pat in args.cases)

        quick = {c.name: c for c in cases}
        cases = [quick.get(c.name, c) for c in build_cases(False) if wanted(c.name)]
        grid_names = [g for g in ("grid-faithful", "grid-gvhd") if wanted(g)]

    started = time.strftime("%Y-%m-%d %H:%M")
    load_before = " ".join(f"{x:.1f}" for x in os.getloadavg())
    t0 = time.perf_counter()
    case_results = []
    for i, case in enumerate(cases, 1):
        print(f"[{i}/{len(cases)}] {case.name} ...", end="", file=sys.stderr, flush=True)
        r = run_case(case, memory=not args.no_memory)
        case_results.append(r)
        if r.failure:
            print(f" FAIL: {r.failure}", file=sys.stderr)
        else:
            sk, ours = np.median(r.sklearn), np.median(r.ours)
            print(
                f" sklearn {_fmt_time(sk)}, gmmcore {_fmt_time(ours)}, {sk / ours:.1f}x",
                file=sys.stderr,
            )
    grid_results = []
    for g in grid_names:
        name = g.removeprefix("grid-")
        print(f"grid {name} ...", end="", file=sys.stderr, flush=True)
        r = run_grid(name, rounds=3 if name == "faithful" else 1)
        grid_results.append(r)
        print(
            f" sklearn {_fmt_time(r.sklearn_seconds)}, gmmcore {_fmt_time(r.ours_seconds)}",
            file=sys.stderr,
        )
    elapsed = time.perf_counter() - t0
    load_after = " ".join(f"{x:.1f}" for x in os.getloadavg())
    text = render(case_results, grid_results, args, started, elapsed, load_before, load_after)
    Path(args.output).write_text(text + "\n")
    print(f"wrote {args.output} ({elapsed:.0f} s)", file=sys.stderr)
    return 1 if any(r.failure for r in case_results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
