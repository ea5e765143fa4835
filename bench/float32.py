"""Benchmark: gmmcore on float32 data against the same data in float64, in one process.

Run from the repository root::

    python -m bench.float32                  # writes bench/float32-results.md (~2 min)
    python -m bench.float32 --quick --output /tmp/f32.md

For every case both runs start from the same parameters (``bench.run.initial_parameters`` on
the float64 data; the float32 run gets them rounded by the engine), run a fixed number of
iterations (``tol=0``) and alternate, round after round. Reported:

* time of one iteration (the interval between two "E" snapshots of :func:`gmmcore.iter_em`,
  median over all intervals of all rounds), float64 and float32, and their ratio;
* peak memory of one 2-iteration ``fit`` (:mod:`tracemalloc`, untimed, after the data exist;
  see bench/README.md for why tracemalloc), for each dtype, and their ratio. The fits start
  from given parameters, so the peak is the EM's (the k-means start is scipy's, see below);
* the gap between the two runs' mean log-likelihoods after the last iteration (relative).

scikit-learn is not needed here.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.run import initial_parameters, make_data  # noqa: E402
from gmmcore import GaussianMixture, iter_em  # noqa: E402

# (n, d, k, covariance types, iterations, rounds)
CASES = [
    (1_000_000, 2, 5, ("full", "tied", "diag", "spherical"), 3, 3),
    (100_000, 10, 8, ("full", "tied", "diag", "spherical"), 6, 3),
]
QUICK = [(100_000, 2, 5, ("full", "diag"), 4, 2), (20_000, 10, 8, ("full",), 4, 2)]


def _times(X, k, ct, iterations, init):
    stamps, ll = [], None
    for snap in iter_em(X, k, covariance_type=ct, tol=0.0, max_iter=iterations, **init):
        if snap.phase == "E":
            stamps.append(time.perf_counter())
            ll = snap.mean_log_likelihood
    return np.diff(stamps).tolist(), ll


def _peak(X, k, ct, init) -> int:
    gm = GaussianMixture(k, covariance_type=ct, tol=0.0, max_iter=2, **init)
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # max_iter=2 never converges
            gm.fit(X)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def run_case(n, d, k, ct, iterations, rounds):
    X64 = make_data(n, d, k)
    X32 = X64.astype(np.float32)
    w, m, p = initial_parameters(X64, k, ct)
    init = dict(weights_init=w, means_init=m, precisions_init=p)
    t64, t32 = [], []
    for _ in range(rounds):
        a, ll64 = _times(X64, k, ct, iterations, init)
        b, ll32 = _times(X32, k, ct, iterations, init)
        t64 += a
        t32 += b
    peak64, peak32 = _peak(X64, k, ct, init), _peak(X32, k, ct, init)
    return {
        "case": f"n{n:.0e}-d{d}-k{k}-{ct}".replace("+0", ""),
        "t64": float(np.median(t64)),
        "t32": float(np.median(t32)),
        "peak64": peak64,
        "peak32": peak32,
        "data64": X64.nbytes,
        "ll_gap": abs(ll32 - ll64) / abs(ll64),
    }


def render(rows, header) -> str:
    lines = [
        "# gmmcore: float32 data against float64 data",
        "",
        header,
        "",
        "| case | float64 ms/iter | float32 ms/iter | time 32/64 | float64 peak MB | "
        "float32 peak MB | memory 32/64 | float64 data MB | ll gap (rel.) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['case']} | {1e3 * r['t64']:.1f} | {1e3 * r['t32']:.1f} | "
            f"{r['t32'] / r['t64']:.2f} | {r['peak64'] / 2**20:.1f} | {r['peak32'] / 2**20:.1f} "
            f"| {r['peak32'] / r['peak64']:.2f} | {r['data64'] / 2**20:.1f} | "
            f"{r['ll_gap']:.1e} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", default=str(Path(__file__).parent / "float32-results.md"))
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    rows = []
    for n, d, k, types, iterations, rounds in QUICK if args.quick else CASES:
        for ct in types:
            rows.append(run_case(n, d, k, ct, iterations, rounds))
            print(rows[-1], flush=True)
    header = (
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"numpy {np.__version__}; load average {load:.2f} before, "
        f"{os.getloadavg()[0]:.2f} after."
    )
    Path(args.output).write_text(render(rows, header), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
