"""The layers of ARCHITECTURE.md, enforced: imports point down only.

app.py, pages/, ui/   Streamlit, no numerics (no numpy.linalg, scipy, EM loops).
gmmcore.viz           Plotly figures, no streamlit.
gmmcore (the rest)    numpy/scipy numerics, no streamlit, no plotly, no scikit-learn.

Inside gmmcore the packages are layered too (imports point down only):

gmmcore.cli           the command line: may use everything below but viz
gmmcore.io            model file and tables: engine and estimators
estimators            mixture, model, multitask, selection, datasets, preprocessing: engine
gmmcore.engine        validation, kernels, E-step, covariance structures, EM: nothing above
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GMMCORE = sorted((ROOT / "gmmcore").rglob("*.py"))
APP_LAYER = sorted([ROOT / "app.py", *(ROOT / "pages").rglob("*.py"), *(ROOT / "ui").rglob("*.py")])


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def attribute_chains(path: Path) -> set[str]:
    """Dotted names used in the file, e.g. 'np.linalg.inv'."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    chains = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            parts = []
            cur = node
            while isinstance(cur, ast.Attribute):
                parts.append(cur.attr)
                cur = cur.value
            if isinstance(cur, ast.Name):
                parts.append(cur.id)
                chains.add(".".join(reversed(parts)))
    return chains


def _rel(p: Path) -> str:
    return str(p.relative_to(ROOT))


@pytest.mark.parametrize("path", GMMCORE, ids=_rel)
def test_gmmcore_never_imports_streamlit_or_sklearn(path):
    """The engine runs without the dashboard and without scikit-learn."""
    bad = {m for m in imported_modules(path) if m.split(".")[0] in {"streamlit", "sklearn"}}
    assert not bad, f"{_rel(path)} imports {bad}"


@pytest.mark.parametrize("path", [p for p in GMMCORE if "viz" not in p.parts], ids=_rel)
def test_only_viz_imports_plotly(path):
    """Figures live in gmmcore.viz; the numerics stay plotting-free."""
    bad = {m for m in imported_modules(path) if m.split(".")[0] == "plotly"}
    assert not bad, f"{_rel(path)} imports {bad}"


@pytest.mark.parametrize("path", [p for p in APP_LAYER if p.exists()], ids=_rel)
def test_app_layer_has_no_numerics(path):
    """Pages stay thin: no scipy, no linear algebra, no EM loop of their own."""
    mods = imported_modules(path)
    assert not {m for m in mods if m.split(".")[0] in {"scipy", "sklearn"}}, mods
    chains = attribute_chains(path)
    linalg = {c for c in chains if ".linalg." in c or c.endswith(".linalg")}
    assert not linalg, f"{_rel(path)} uses {linalg}"
    assert "gmmcore.engine.estep" not in mods, "pages must go through iter_em / GaussianMixture"


def test_every_gmmcore_module_declares_all():
    """Every public module lists its exports."""
    missing = [
        _rel(p)
        for p in GMMCORE
        if not p.name.startswith("_")
        and p.name != "__main__.py"
        and "__all__" not in p.read_text(encoding="utf-8")
    ]
    assert not missing, missing


def test_no_pickle_anywhere():
    """The model file is JSON; nothing in the product unpickles."""
    offenders = [
        _rel(p)
        for p in [*GMMCORE, *APP_LAYER]
        if p.exists()
        and ({"pickle", "dill", "joblib"} & {m.split(".")[0] for m in imported_modules(p)})
    ]
    assert not offenders, offenders


def gmmcore_imports(path: Path) -> set[str]:
    """The gmmcore modules a gmmcore file imports, relative imports resolved."""
    package = list(path.relative_to(ROOT).with_suffix("").parts[:-1])
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("gmmcore"):
                out.add(target)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("gmmcore"))
    return out


# The layer of each gmmcore module, and the layers it may import from.
LAYERS = {"engine": 0, "estimators": 1, "io": 2, "viz": 2, "cli": 3}
MAY_IMPORT = {
    "engine": {"engine"},
    "estimators": {"engine", "estimators"},
    "io": {"engine", "estimators", "io"},
    "viz": {"engine", "estimators", "viz"},
    "cli": {"engine", "estimators", "io", "cli"},
}


def layer_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in LAYERS:
        return parts[1]
    return "estimators"  # gmmcore.mixture, gmmcore.model, gmmcore._version, ...


@pytest.mark.parametrize(
    "path",
    [
        p
        for p in GMMCORE
        if p.name not in ("__init__.py", "__main__.py") or p.parent.name != "gmmcore"
    ],
    ids=_rel,
)
def test_gmmcore_packages_import_down_only(path):
    """engine <- estimators <- io, viz <- cli: a module never imports a layer above its own
    (the package root re-exports, so nothing below it may import from ``gmmcore`` itself)."""
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    mine = layer_of(module)
    bad = {
        m for m in gmmcore_imports(path) if m == "gmmcore" or layer_of(m) not in MAY_IMPORT[mine]
    }
    assert not bad, f"{_rel(path)} ({mine}) imports {sorted(bad)}"
