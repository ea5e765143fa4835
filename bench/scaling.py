"""Scaling table (issue 11): threads, dask workers, a streamed file, online EM.

    python -m bench.scaling                 # everything, ~10 min on 2 cores; bench/scaling-results.md
    python -m bench.scaling --quick         # rows <= 1e6, no 4e7 file, ~2 min
    python -m bench.scaling --cases threads-1e6 online-1e6

Every case runs in a fresh subprocess (``--case NAME``), so that its peak RSS
(``ru_maxrss``) is its own: data, interpreter and libraries included (~100 MB of it is the
interpreter with numpy/scipy/pandas/pyarrow imported; measured by the ``baseline`` case).
Times: the median interval between consecutive "E" snapshots (one iteration: M-step + E-step)
with a fixed start and ``tol=0`` (the same trajectory for every engine), alternating engines
is not possible across processes, so the header records the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
FILE_ROWS = 40_000_000
PARQUET = Path(tempfile.gettempdir()) / "gmmcore-bench-4e7x4.parquet"


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _blobs(n, d, k, seed=0):
    """K blobs with known parameters, generated in pieces (no (n, K) temporaries)."""
    r = np.random.default_rng(123)
    mu = r.normal(0, 4, (k, d))
    rng = np.random.default_rng(seed)
    z = rng.integers(0, k, n)
    X = rng.normal(size=(n, d))
    X += mu[z]
    return X, mu


def _start(X, k, mu):
    d = X.shape[1]
    return dict(
        weights_init=np.full(k, 1 / k),
        means_init=mu[:k] + 0.5,
        precisions_init=np.repeat(np.eye(d)[None], k, 0),
    )


def _iteration_times(snaps, limit):
    stamps = []
    last = None
    for s in snaps:
        if s.phase == "E":
            stamps.append(time.perf_counter())
            last = s
            if len(stamps) > limit:
                break
    snaps.close()
    return float(np.median(np.diff(stamps))), last


def case_baseline():
    import pandas  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    import gmmcore  # noqa: F401

    return {}


def case_threads(n, n_jobs, d=10, k=8):
    from gmmcore.engine.em import iter_em

    X, mu = _blobs(n, d, k)
    snaps = iter_em(X, k, tol=0, max_iter=50, n_jobs=n_jobs, **_start(X, k, mu))
    t, last = _iteration_times(snaps, 4)
    return {"iteration_s": t, "mean_ll": last.mean_log_likelihood}


def case_dask(n, workers, d=10, k=8):
    import dask.array as da
    from dask.distributed import Client, LocalCluster

    from gmmcore.engine.blockem import iter_em_blocks
    from gmmcore.scale.dask import dask_statistics

    _, mu = _blobs(10, d, k)
    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster),
    ):
        rs = da.random.RandomState(0)
        z = rs.randint(0, k, size=n, chunks=125_000)
        X = (rs.normal(size=(n, d), chunks=(125_000, d)) + da.from_array(mu)[z]).persist()
        sample = X[:100_000].compute()
        box = {}
        snaps = iter_em_blocks(
            dask_statistics(X, lambda: box["shift"]), sample, n, k, tol=0, max_iter=50,
            on_shift=lambda s: box.__setitem__("shift", s), **_start(sample, k, mu),
        )  # fmt: skip
        t, last = _iteration_times(snaps, 4)
    return {"iteration_s": t, "mean_ll": last.mean_log_likelihood, "note": "client RSS"}


def _write_parquet(n=FILE_ROWS, d=4, k=3):
    import pyarrow as pa
    import pyarrow.parquet as pq

    if PARQUET.exists() and pq.ParquetFile(PARQUET).metadata.num_rows == n:
        return
    r = np.random.default_rng(123)
    mu = r.normal(0, 4, (k, d))
    rng = np.random.default_rng(0)
    schema = pa.schema([(f"x{j}", pa.float64()) for j in range(d)])
    with pq.ParquetWriter(PARQUET, schema) as w:
        for _ in range(n // 1_000_000):
            X = rng.normal(size=(1_000_000, d)) + mu[rng.integers(0, k, 1_000_000)]
            w.write_table(pa.table({f"x{j}": X[:, j] for j in range(d)}, schema=schema))


def case_file(kind, n_jobs=-1, k=3):
    """The 4e7 x 4 Parquet file: streamed (``kind="stream"``) or loaded then fitted."""
    from gmmcore.engine.em import iter_em
    from gmmcore.scale import ParquetSource, iter_em_source

    r = np.random.default_rng(123)
    mu = r.normal(0, 4, (k, 4))
    start = _start(np.zeros((1, 4)), k, mu)
    t0 = time.perf_counter()
    if kind == "stream":
        snaps = iter_em_source(ParquetSource(PARQUET), k, tol=0, max_iter=50, n_jobs=n_jobs,
                               **start)  # fmt: skip
    else:
        import pandas as pd

        X = pd.read_parquet(PARQUET).to_numpy()
        snaps = iter_em(X, k, tol=0, max_iter=50, n_jobs=n_jobs, **start)
    t, last = _iteration_times(snaps, 3)
    return {"iteration_s": t, "mean_ll": last.mean_log_likelihood,
            "total_s": time.perf_counter() - t0}  # fmt: skip


def case_online(n, batches=200, k=5, d=3):
    from gmmcore import GaussianMixture

    def mixture(m, seed):
        r = np.random.default_rng(123)
        mu = r.normal(0, 4, (k, d))
        A = r.normal(0, 1, (k, d, d)) * 0.5 + np.eye(d)
        g = np.random.default_rng(seed)
        z = g.integers(0, k, m)
        return mu[z] + np.einsum("nd,nde->ne", g.normal(size=(m, d)), A[z])

    X, H = mixture(n, 1), mixture(200_000, 2)
    t0 = time.perf_counter()
    batch = GaussianMixture(k, random_state=0, n_jobs=-1).fit(X)
    t_batch = time.perf_counter() - t0
    online = GaussianMixture(k, random_state=0, n_jobs=-1)
    t0 = time.perf_counter()
    for B in np.array_split(X, batches):
        online.partial_fit(B)
    t_online = time.perf_counter() - t0
    return {"batch_s": t_batch, "batch_iters": batch.n_iter_, "online_s": t_online,
            "held_out_gap": batch.score(H) - online.score(H)}  # fmt: skip


CASES = {"baseline": case_baseline}
for _n in (100_000, 1_000_000, 4_000_000):
    for _j in (1, 2):
        CASES[f"threads-{_n:.0e}-j{_j}".replace("+0", "")] = (case_threads, _n, _j)
for _w in (1, 2):
    CASES[f"dask-1e6-w{_w}"] = (case_dask, 1_000_000, _w)
for _kind in ("memory", "stream"):
    for _j in (1, 2):
        CASES[f"file-4e7-{_kind}-j{_j}"] = (case_file, _kind, _j)
CASES["online-2e5"] = (case_online, 200_000)
CASES["online-1e6"] = (case_online, 1_000_000)
QUICK = [c for c in CASES if "4e6" not in c and "4e7" not in c]


_PROBE = (
    "import time, numpy as np; A = np.random.rand(80, 20000); o = np.empty_like(A); "
    "t = time.perf_counter(); [np.exp(A, out=o) for _ in range(300)]; "
    "print(time.perf_counter() - t)"
)


def free_cores() -> float:
    """Cores this process can actually get now: 2 x (time of one CPU-bound process alone) /
    (time of two at once). ~2 on an idle 2-core machine, ~1 when someone else holds a core;
    a thread-speedup ratio cannot exceed it."""

    def start():
        return subprocess.Popen([sys.executable, "-c", _PROBE], stdout=subprocess.PIPE, text=True)

    one = float(start().communicate()[0])
    pair = [start(), start()]
    two = max(float(p.communicate()[0]) for p in pair)
    return 2 * one / two


def _estep_chunk_rows(n=1_000_000, d=10, k=8) -> int:
    """Rows per chunk of the gated rounds' E-step (default chunking, full covariances)."""
    from gmmcore.engine import estep
    from gmmcore.engine.kernels import FeatureLayout

    rows = estep._chunk_rows(k, d, FeatureLayout(d, "outer").width + k * d)
    return estep._balanced(rows, n)


def gated_threads(seconds: float) -> list[str]:
    """The 1e6 x 10-D x K=8 (full) E-step with n_jobs 1 and 2, 3 alternating rounds each,
    repeated for ``seconds`` with the free cores probed before and after every round: on a
    shared machine only the rounds with ~2 free cores say what threads can do."""
    from gmmcore.engine.covariance import get_structure
    from gmmcore.engine.estep import e_step

    n, d, k = 1_000_000, 10, 8
    X, mu = _blobs(n, d, k)
    # Centered once, outside the timing (iter_em centers once per fit): centering inside it
    # timed 80 MB of fresh memory per round too (~10 ms, the same for both n_jobs).
    center = np.median(X[:1000], axis=0)
    Xc, mu = X - center, mu - center
    del X
    structure, prec = get_structure("full"), np.repeat(np.eye(d)[None], k, 0)
    lw = np.log(np.full((1, k), 1 / k))
    rows, end = [], time.time() + seconds
    while time.time() < end:
        before, t = free_cores(), {1: [], 2: []}
        for _ in range(3):
            for j in (1, 2):
                t0 = time.perf_counter()
                e_step(Xc, [(0, n)], lw, mu, prec, structure, n_jobs=j)
                t[j].append(time.perf_counter() - t0)
        after = free_cores()
        j1, j2 = min(t[1]), min(t[2])
        rows.append(f"| {before:.2f} / {after:.2f} | {j1:.3f} | {j2:.3f} | {j1 / j2:.2f} |")
        print(rows[-1], flush=True)
    return rows


def run_case(name):
    spec = CASES[name]
    fn, args = (spec, ()) if callable(spec) else (spec[0], spec[1:])
    if name.startswith("file-"):
        _write_parquet()
    t0 = time.perf_counter()
    out = fn(*args)
    out.update(case=name, wall_s=time.perf_counter() - t0, peak_rss_mb=_rss_mb())
    print(json.dumps(out))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--case")
    p.add_argument("--cases", nargs="*")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--output", default=str(HERE / "scaling-results.md"))
    p.add_argument("--gated", type=float, metavar="SECONDS",
                   help="only the free-core-gated thread rounds, appended to --output")  # fmt: skip
    p.add_argument("--chunk-bytes", type=int, metavar="B",
                   help="with --gated: GMMCORE_CHUNK_BYTES for the rounds (default 2 MiB; "
                        "chunks keep >= GMMCORE_CHUNK_MIN_ROWS rows, default 6144)")  # fmt: skip
    a = p.parse_args(argv)
    if a.chunk_bytes:  # read by gmmcore.engine.estep at import, which happens after this
        os.environ["GMMCORE_CHUNK_BYTES"] = str(a.chunk_bytes)
    if a.case:
        return run_case(a.case)
    if a.gated:
        head = [
            "",
            f"## E-step threads, gated on free cores (`--gated {a.gated:g}"
            + (f" --chunk-bytes {a.chunk_bytes}`)" if a.chunk_bytes else "`)"),
            "",
            f"1e6 x 10-D x K=8 (full), one E-step ({_estep_chunk_rows():,}-row chunks), minimum "
            "of 3 alternating rounds per row.",
            "",
            "| free cores before / after | n_jobs=1 (s) | n_jobs=2 (s) | ratio |",
            "|---|---|---|---|",
        ]
        rows = gated_threads(a.gated)
        with open(a.output, "a") as out:
            out.write("\n".join(head + rows) + "\n")
        return None
    names = a.cases or (QUICK if a.quick else list(CASES))
    load0 = os.getloadavg()
    cores0 = free_cores()
    if any(n.startswith("file-") for n in names):
        subprocess.run([sys.executable, "-c", "import bench.scaling as s; s._write_parquet()"],
                       check=True)  # fmt: skip
    rows = []
    for name in names:
        proc = subprocess.run([sys.executable, "-m", "bench.scaling", "--case", name],
                              capture_output=True, text=True)  # fmt: skip
        if proc.returncode:
            rows.append({"case": name, "error": proc.stderr.strip().splitlines()[-1]})
        else:
            rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    cores = (cores0, free_cores())
    Path(a.output).write_text(render(rows, load0, os.getloadavg(), cores))


def render(rows, load0, load1, cores=(float("nan"),) * 2) -> str:
    by = {r["case"]: r for r in rows}
    lines = [
        "# Scaling (issue 11): `python -m bench.scaling`",
        "",
        f"Load average before {load0[0]:.1f}, after {load1[0]:.1f} (2 shared cores); free "
        f"cores (two CPU-bound processes against one, see free_cores) before {cores[0]:.2f}, "
        f"after {cores[1]:.2f}: a thread or worker speedup cannot exceed them.",
        "",
        "| case | time per iteration (s) | ratio | peak RSS (MB) | notes |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        name = r["case"]
        if "error" in r:
            lines.append(f"| {name} | error | | | {r['error']} |")
            continue
        it = r.get("iteration_s")
        ratio = ""
        base = by.get(name.replace("-j2", "-j1").replace("-w2", "-w1"))
        if it and base and base is not r and base.get("iteration_s"):
            ratio = f"{base['iteration_s'] / it:.2f} (time of {base['case']} / this)"
        notes = ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in r.items()
            if k not in ("case", "iteration_s", "peak_rss_mb")
        )
        t = f"{it:.3f}" if it else ""
        lines.append(f"| {name} | {t} | {ratio} | {r['peak_rss_mb']:.0f} | {notes} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
