"""Benchmark: the compiled E-step (numba) against the NumPy one-chunk path, same process.

Run from the repository root::

    python -m bench.compiled                  # writes bench/compiled-results.md (~1 min)
    python -m bench.compiled --output /tmp/c.md

For full, diag and tied covariances at D in {2, 4, 6, 10}, K in {3, 9} and n in {300, 1,000,
3,000, 6,000} (Gaussian rows, random parameters), one E-step (:func:`gmmcore.engine.estep.e_step`)
is timed with compiled kernels on and off (``compiled.disabled()``), alternating, best of three
repeats. The compiled path is forced on for every size here (``compiled.MAX_WORK`` raised for
the run) so that the table shows where it stops paying: ``MAX_WORK`` is chosen from it. The
last column is the largest relative difference of the statistics and log-likelihood between
the two paths. Without numba the benchmark says so and exits 0.
"""

from __future__ import annotations

import argparse
import platform
import sys
import timeit
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from gmmcore.engine import compiled, estep  # noqa: E402
from gmmcore.engine.covariance import get_structure  # noqa: E402


def _parameters(rng, covariance_type, k, d):
    if covariance_type == "full":
        prec = np.stack([np.triu(rng.normal(size=(d, d)) * 0.1) + np.eye(d) for _ in range(k)])
    elif covariance_type == "tied":
        prec = np.triu(rng.normal(size=(d, d)) * 0.1) + np.eye(d)
    else:
        prec = rng.uniform(0.5, 2.0, size=(k, d))
    return rng.normal(size=(k, d)), prec


def _gap(a, b) -> float:
    def rel(x, y):
        return float(np.abs(x - y).max() / max(np.abs(y).max(), 1e-300))

    gaps = [rel(a.S0, b.S0), rel(a.S1, b.S1)]
    if b.S2 is not None:
        gaps.append(rel(a.S2, b.S2))
    gaps.append(abs(a.log_likelihood - b.log_likelihood) / abs(b.log_likelihood))
    return max(gaps)


def run(output: Path) -> int:
    if compiled.kernels("estep") is None:
        print("numba is not installed (or GMMCORE_COMPILED=0): nothing to compare.")
        return 0
    rng = np.random.default_rng(0)
    rows = []
    limit, compiled.MAX_WORK = compiled.MAX_WORK, 10**12
    try:
        for ct in ("full", "diag", "tied"):
            structure = get_structure(ct)
            for d in (2, 4, 6, 10):
                for k in (3, 9):
                    for n in (300, 1000, 3000, 6000):
                        X = rng.normal(size=(n, d))
                        means, prec = _parameters(rng, ct, k, d)
                        lw = np.log(np.full((1, k), 1.0 / k))

                        def step(X=X, n=n, lw=lw, means=means, prec=prec, s=structure):
                            return estep.e_step(X, [(0, n)], lw, means, prec, s)

                        number = max(1, 30_000 // n)
                        fast = step()
                        t_fast = min(timeit.repeat(step, number=number, repeat=3)) / number
                        with compiled.disabled():
                            ref = step()
                            t_ref = min(timeit.repeat(step, number=number, repeat=3)) / number
                        work = n * k * d * (d + 3) // 2
                        rows.append((ct, d, k, n, work, t_fast, t_ref, _gap(fast, ref)))
                        print(f"{ct} D={d} K={k} n={n}: {t_fast / t_ref:.2f}x", flush=True)
    finally:
        compiled.MAX_WORK = limit
    lines = [
        "# Compiled E-step (numba) vs NumPy's one-chunk path",
        "",
        f"`python -m bench.compiled`; Python {platform.python_version()}, numpy "
        f"{np.__version__}, {platform.machine()}. One E-step, best of 3 repeats. "
        f"Work = n K D (D + 3) / 2; the E-step uses the compiled path up to "
        f"MAX_WORK = {limit:,}.",
        "",
        "| type | D | K | n | work | compiled (us) | NumPy (us) | ratio | max rel. diff |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for ct, d, k, n, work, tf, tr, gap in rows:
        mark = "" if work <= limit else " (not used)"
        lines.append(
            f"| {ct} | {d} | {k} | {n} | {work:,}{mark} | {tf * 1e6:.1f} | {tr * 1e6:.1f} "
            f"| {tf / tr:.2f} | {gap:.1e} |"
        )
    output.write_text("\n".join(lines) + "\n")
    print(f"wrote {output}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "compiled-results.md")
    return run(parser.parse_args(argv).output)


if __name__ == "__main__":
    raise SystemExit(main())
