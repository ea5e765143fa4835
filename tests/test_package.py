"""`pip install .` gives a working gmmcore: the wheel is built from pyproject.toml, installed
into a fresh virtual environment outside the repository, and the `gmmcore` console script fits
and predicts from there."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

import gmmcore

ROOT = Path(__file__).resolve().parent.parent
FAITHFUL = ROOT / "sample_data" / "faithful.csv"

pytest.importorskip("hatchling", reason="the build backend (requirements-dev.txt) is missing")


def _run(cmd, *, cwd, env=None, timeout=300):
    result = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, f"{cmd}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from the repository, with the backend already installed (no network)."""
    out = tmp_path_factory.mktemp("wheel")
    _run(
        [sys.executable, "-m", "pip", "wheel", ROOT, "--no-deps", "--no-build-isolation",
         "--no-cache-dir", "-q", "-w", out],
        cwd=out,
    )  # fmt: skip
    (path,) = out.glob("gmmcore-*.whl")
    return path


def test_wheel_has_the_version_the_schema_and_the_console_script(wheel):
    assert wheel.name == f"gmmcore-{gmmcore.__version__}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        info = f"gmmcore-{gmmcore.__version__}.dist-info"
        entry_points = z.read(f"{info}/entry_points.txt").decode()
        metadata = z.read(f"{info}/METADATA").decode()
    assert "gmmcore/io/schema/model-v1.schema.json" in names
    assert "gmmcore/io/tables.py" in names and "gmmcore/cli/__init__.py" in names
    assert not any(n.startswith(("tests/", "ui/", "pages/")) or n.endswith(".pyc") for n in names)
    assert re.search(r"^gmmcore = gmmcore\.cli:main$", entry_points, re.M)
    assert f"Version: {gmmcore.__version__}" in metadata
    for requirement in ("numpy", "scipy", "pandas", "jsonschema", "threadpoolctl", "openpyxl"):
        assert f"Requires-Dist: {requirement}" in metadata
    assert "Provides-Extra: dashboard" in metadata and "Provides-Extra: scale" in metadata
    assert "extra == 'dashboard'" in metadata and "dask[distributed]" in metadata


@pytest.mark.slow
def test_installed_wheel_fits_and_predicts_through_the_console_script(wheel, tmp_path):
    """A fresh venv outside the repository; numpy & co. come from the project's environment
    (a .pth file, so nothing is downloaded), gmmcore only from the wheel."""
    env_dir = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", env_dir], cwd=tmp_path)
    bindir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / ("python.exe" if os.name == "nt" else "python")
    site = Path(
        _run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            cwd=tmp_path,
        ).stdout.strip()
    )
    # After the venv's own site-packages: the wheel's gmmcore wins over anything found there.
    (site / "zz_project_env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    # Installing with dependencies and no index also checks that every runtime dependency is
    # declared under the name the project environment has it.
    _run(
        [sys.executable, "-m", "pip", "--python", python, "install", "--no-index", "-q", wheel],
        cwd=tmp_path,
        env=env,
    )
    where = _run(
        [python, "-c", "import gmmcore, sys; from gmmcore.io import SCHEMA_PATH; "
         "import gmmcore.cli; print(gmmcore.__file__); print(SCHEMA_PATH.is_file() and "
         "len(gmmcore.load_sample('Old Faithful')) == 272); "
         "print(gmmcore.__version__); print('streamlit' in sys.modules, 'plotly' in sys.modules)"],
        cwd=tmp_path,
        env=env,
    ).stdout.split("\n")  # fmt: skip
    module_file = Path(where[0]).resolve()
    assert ROOT not in module_file.parents and env_dir.resolve() in module_file.parents
    assert where[1:4] == ["True", gmmcore.__version__, "False False"]

    script = bindir / ("gmmcore.exe" if os.name == "nt" else "gmmcore")
    model = tmp_path / "faithful.json"
    fit = _run(
        [script, "fit", FAITHFUL, "-k", "2", "--seed", "0", "-o", model], cwd=tmp_path, env=env
    )
    assert "Model written to" in fit.stdout and model.is_file()
    predict = _run([script, "predict", model, FAITHFUL], cwd=tmp_path, env=env)
    lines = predict.stdout.splitlines()
    assert lines[0].startswith("label") and len(lines) == 273
    usage = subprocess.run([script, "fit"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert usage.returncode == 2 and usage.stderr.startswith("error: ")
    # The installed command names itself as the user typed it in help and examples.
    helped = _run([script, "--help"], cwd=tmp_path, env=env).stdout
    assert helped.startswith("usage: gmmcore ") and "python -m gmmcore" not in helped
