"""The argument parser of ``python -m gmmcore``: argument types that say what a good value looks
like, the option blocks the commands share, and every help text and example.

A usage error (unknown option, bad value) is one line on stderr and exit status 2, like every
other bad input.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable

import numpy as np

from ..engine.covariance import covariance_aliases, covariance_types, get_structure
from ..engine.em import CONVERGENCE_RULES
from ..engine.initialization import INIT_METHODS
from ..selection import GRID_DEFAULTS
from .common import CLI_PROG
from .fit import MODE_HELP, cmd_fit
from .predict import cmd_predict
from .select import cmd_select

__all__ = ["build_parser", "parse_components", "parse_covariance_types"]


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's own usage errors: one line, exit 2
        message = " ".join(str(message).split())
        self.exit(2, f"error: {message}; see '{self.prog} --help'\n")


# -- argument types -----------------------------------------------------------------------------
def _checked(name: str, convert: Callable, ok: Callable, requirement: str) -> Callable:
    """An argparse type: ``convert(text)``, then ``ok(value)``, else say what ``name`` must be."""
    noun = "a whole number" if convert is int else "a number"

    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be {noun}, got {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"{name} must be {requirement}, got {text.strip()}")
        return value

    return parse


def _positive_int(name: str) -> Callable[[str], int]:
    return _checked(name, int, lambda v: v >= 1, ">= 1")


def _non_negative_float(name: str) -> Callable[[str], float]:
    return _checked(name, float, lambda v: np.isfinite(v) and v >= 0, "a finite number >= 0")


_fraction = _checked(
    "--test-size", float, lambda v: 0 < v < 1, "a fraction strictly between 0 and 1"
)
_seed = _checked("--seed", int, lambda v: 0 <= v < 2**32, "between 0 and 2**32 - 1")


def parse_components(text: str) -> list[int]:
    """``"1-9"`` -> [1..9]; ``"3"`` -> [3]; ``"2,4,6"`` -> [2, 4, 6]."""
    hint = "use a range like 1-9, a number like 3, or a list like 2,4,6 (all >= 1)"
    ks: list[int] = []
    for part in text.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)\s*-\s*(\d+)", part)
        if m:
            lo, hi = int(m.group(1)), int(m.group(2))
            if lo > hi:
                raise argparse.ArgumentTypeError(
                    f"bad --components {text!r}: the range {part} runs backwards; {hint}"
                )
            new = list(range(lo, hi + 1))
        elif part.isdigit():
            new = [int(part)]
        else:
            raise argparse.ArgumentTypeError(f"bad --components {text!r}; {hint}")
        if min(new) < 1:
            raise argparse.ArgumentTypeError(f"bad --components {text!r}: K must be >= 1; {hint}")
        ks.extend(k for k in new if k not in ks)
    return ks


def _known(text: str) -> str | None:
    """The registered name of a covariance type or alias (``VVV`` -> ``full``), or None."""
    try:
        return get_structure(text).name
    except ValueError:
        return None


def _choices_text() -> str:
    aliases = ", ".join(f"{a}={n}" for a, n in covariance_aliases().items())
    return f"{', '.join(covariance_types())} (aliases: {aliases})"


def parse_covariance_types(text: str) -> list[str]:
    """``"full,tied"`` -> ["full", "tied"]: known types (mclust's aliases resolved, ``VVV`` ->
    ``full``), each once, in the order given; ``"all"`` -> None (every type offered for the
    data's number of features)."""
    if text.strip() == "all":
        return None
    types = [t.strip() for t in text.split(",") if t.strip()]
    bad = [t for t in types if _known(t) is None]
    if bad or not types:
        raise argparse.ArgumentTypeError(
            f"unknown covariance type {bad[0] if bad else text!r}; choose from {_choices_text()}"
        )
    return list(dict.fromkeys(_known(t) for t in types))


def _covariance_type(text: str) -> str:
    name = _known(text)
    if name is None:
        raise argparse.ArgumentTypeError(
            f"unknown covariance type {text!r}; choose one of {_choices_text()}"
        )
    return name


# -- option blocks ------------------------------------------------------------------------------
def _add_data_options(p, *, task_help: str | None):
    p.add_argument(
        "data",
        metavar="DATA",
        help="CSV/TSV file with a header row (comma, tab, semicolon or pipe "
        "separated; decimal commas are read in semicolon, tab and pipe files), an Excel "
        "workbook (.xlsx) or a Parquet file; the format is told from the content.",
    )
    p.add_argument(
        "--sheet",
        metavar="NAME",
        help="Excel workbooks: the sheet to read (default: the first sheet).",
    )
    p.add_argument(
        "--columns",
        metavar="A,B,...",
        help="Feature columns, comma-separated. Default: every numeric column that "
        "varies (except the task column).",
    )
    p.add_argument(
        "--standardize",
        action="store_true",
        help="Standardize each feature (subtract the mean, divide by the standard "
        "deviation) before fitting; fit stores the standardization in the model "
        "file so predict applies it to raw data.",
    )
    if task_help:
        p.add_argument("--task-column", metavar="COL", help=task_help)
    p.add_argument(
        "--on-missing",
        choices=("skip", "error"),
        default="skip",
        help="Rows with a missing value (NA, NaN, ?, empty) in a used column: skip "
        "them with a note on stderr (default), or stop with an error.",
    )


def _add_fit_options(
    p, *, seed_default, tol_default=1e-3, max_iter_default=100, convergence_default="mean"
):
    p.add_argument(
        "--n-init",
        type=_positive_int("--n-init"),
        default=1,
        metavar="N",
        help="EM restarts; the best log-likelihood is kept (default: 1).",
    )
    p.add_argument(
        "--seed",
        type=_seed,
        default=seed_default,
        metavar="S",
        help=f"Random seed, for reproducible results (default: {seed_default}).",
    )
    p.add_argument(
        "--tol",
        type=_non_negative_float("--tol"),
        default=tol_default,
        help="Stop when the log-likelihood changes by less than this, measured as "
        f"--convergence says (default: {tol_default:g}).",
    )
    p.add_argument(
        "--convergence",
        choices=CONVERGENCE_RULES,
        default=convergence_default,
        help="How --tol is measured: 'mean', the change of the mean log-likelihood per row "
        "(scikit-learn's rule), or 'relative', the change of the log-likelihood L over "
        f"1 + |L| (mclust's rule) (default: {convergence_default}).",
    )
    p.add_argument(
        "--reg-covar",
        type=_non_negative_float("--reg-covar"),
        default=1e-6,
        help="Added to the diagonal of every covariance to keep it positive "
        "definite (default: 1e-6).",
    )
    p.add_argument(
        "--max-iter",
        type=_positive_int("--max-iter"),
        default=max_iter_default,
        metavar="N",
        help=f"Most EM iterations per restart (default: {max_iter_default}).",
    )
    p.add_argument(
        "--prior",
        choices=("none", "default"),
        default="none",
        help="'default': mclust's conjugate prior (defaultPrior), which keeps components "
        "from collapsing onto a few points; BIC stays mclust's. Not for VEE, EVE, VVE, EVV "
        "(select leaves them out). Default: none.",
    )


# -- the parser ---------------------------------------------------------------------------------
_FMT = argparse.RawDescriptionHelpFormatter
_PENGUIN_COLUMNS = "      --columns bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g \\\n"


def _add_fit_command(sub) -> None:
    fit = sub.add_parser(
        "fit",
        formatter_class=_FMT,
        help="fit a mixture and save it as a JSON model file",
        description="Fit a Gaussian mixture to the numeric columns of a CSV file and save it as a "
        "JSON model file (see docs/model-format.md). A short summary goes to stdout.",
        epilog="Examples:\n"
        f"  {CLI_PROG} fit sample_data/faithful.csv --components 3 --covariance-type tied "
        "--n-init 5 --seed 1 --output faithful.json\n"
        f"  {CLI_PROG} fit sample_data/penguins.csv --components 3 --standardize \\\n"
        f"{_PENGUIN_COLUMNS}"
        "      --task-column island --output penguins.json\n"
        f"  {CLI_PROG} fit sample_data/penguins.csv --components 3 --standardize \\\n"
        f"{_PENGUIN_COLUMNS}"
        "      --task-column island --mode separate --output penguins-separate.json\n\n"
        "With --task-column the default mode is shared; the model file records the "
        "mode,\nthe task names and the per-task weights (docs/model-format.md).",
    )
    _add_data_options(
        fit,
        task_help="Column naming each row's task (e.g. island): fits a "
        "multi-task mixture (see --mode).",
    )
    fit.add_argument(
        "--components",
        "-k",
        type=_positive_int("--components"),
        required=True,
        metavar="K",
        help="Number of mixture components (required).",
    )
    fit.add_argument(
        "--covariance-type",
        type=_covariance_type,
        default="full",
        metavar="T",
        help=f"One of {_choices_text()} (default: full). E and V are for one feature.",
    )
    fit.add_argument(
        "--init", choices=INIT_METHODS, default="kmeans", help="Initialization (default: kmeans)."
    )
    fit.add_argument(
        "--mode",
        choices=tuple(MODE_HELP),
        default=None,
        help="With --task-column, how tasks are modelled: "
        + "; ".join(f"{m}: {MODE_HELP[m]}" for m in MODE_HELP)
        + f" (default: {next(iter(MODE_HELP))}). '{CLI_PROG} select "
        "--task-column COL' compares them.",
    )
    _add_fit_options(fit, seed_default=0)
    fit.add_argument(
        "--n-jobs",
        type=int,
        default=-1,
        metavar="N",
        help="Threads for the E-step: -1 every core (default), 1 one; results are identical "
        "for every value.",
    )
    fit.add_argument(
        "--stream",
        action="store_true",
        help="Read a Parquet or CSV file in row blocks on every EM pass instead of loading it "
        "(files larger than memory; bounded memory, a progress bar per pass on stderr). The "
        "start comes from a uniform sample of 100,000 rows (each of --n-init restarts starts "
        "from it and reads the file again on every pass); rows with missing values are "
        "an error; no --standardize, --task-column or --prior.",
    )
    fit.add_argument(
        "--output",
        "-o",
        required=True,
        metavar="MODEL.json",
        help="Where to write the model file (required).",
    )
    fit.set_defaults(func=cmd_fit)


_SELECT_DESCRIPTION = (
    "Fit one mixture per (K, covariance type) and print BIC, AIC and ICL (lower is better; the "
    "lowest BIC is marked *). Progress goes to stderr.\n\n"
    "With --task-column COL, compare the three ways to fit data with tasks for each K and\n"
    "covariance type: pooled (one mixture, task ignored), separate (one mixture per task)\n"
    "and shared (shared components, per-task weights). Each row of the table is one\n"
    "(mode, K, type) with its parameter count, log-likelihood, BIC, AIC and ICL on all rows\n"
    "(same N for every mode, so they compare fairly) and the held-out log-likelihood per\n"
    "row: fitted on the rest of each task's rows, evaluated on a seeded --test-size share\n"
    "of each task (overall and per task; higher is better). The lowest BIC is marked *,\n"
    "and a sentence per (K, type) says which mode wins and by how much. A mode that\n"
    "cannot be fitted (e.g. separate with a task smaller than K) shows its reason in the\n"
    "error column; the other modes still run."
)


def _add_select_command(sub) -> None:
    sel = sub.add_parser(
        "select",
        formatter_class=_FMT,
        help="compare K and covariance types by BIC, AIC and ICL",
        description=_SELECT_DESCRIPTION,
        epilog="Examples:\n"
        f"  {CLI_PROG} select sample_data/faithful.csv --components 1-9\n"
        f"  {CLI_PROG} select sample_data/faithful.csv --components 2,3,4 "
        "--covariance-types full,tied --n-init 5 --csv > grid.csv\n"
        f"  {CLI_PROG} select sample_data/penguins.csv --task-column island \\\n"
        f"{_PENGUIN_COLUMNS}"
        "      --standardize --components 3",
    )
    _add_data_options(
        sel,
        task_help="Column naming each row's task (e.g. island): compare "
        "pooled, separate and shared mixtures instead of single "
        "ones.",
    )
    sel.add_argument(
        "--components",
        "-k",
        type=parse_components,
        default=parse_components("1-9"),
        metavar="RANGE",
        help="Numbers of components to try: a range (1-9, the default), a number "
        "(3) or a list (2,4,6).",
    )
    sel.add_argument(
        "--covariance-types",
        type=parse_covariance_types,
        default=None,
        metavar="T1,T2",
        help="Comma-separated covariance types, or 'all' (the default): every model that "
        "applies to the data, i.e. mclust's E and V for one feature, the fourteen others "
        f"otherwise. Known: {_choices_text()}.",
    )
    # select's EM settings are model_grid's defaults (mclust's way: its hierarchical start, EM
    # run close to convergence); fit keeps scikit-learn's (tol 1e-3, max_iter 100, k-means).
    _add_fit_options(
        sel,
        seed_default=0,
        tol_default=GRID_DEFAULTS["tol"],
        max_iter_default=GRID_DEFAULTS["max_iter"],
        convergence_default=GRID_DEFAULTS["convergence"],
    )
    sel.add_argument(
        "--init",
        choices=INIT_METHODS,
        default=GRID_DEFAULTS["init_params"],
        help=f"Initialization of every fit (default: {GRID_DEFAULTS['init_params']}, mclust's "
        "model-based hierarchical clustering, computed once and shared by every cell).",
    )
    sel.add_argument(
        "--n-jobs",
        type=int,
        default=-1,
        metavar="N",
        help="Processes fitting the grid's cells: -1 every core (default), 1 one; the table is "
        "identical for every value.",
    )
    sel.add_argument(
        "--test-size",
        type=_fraction,
        default=None,
        metavar="F",
        help="With --task-column: the share of each task's rows held out for the "
        "held-out log-likelihood (default: 0.25; the split is seeded by "
        "--seed).",
    )
    sel.add_argument(
        "--csv",
        action="store_true",
        help="Print the grid as CSV (full precision) instead of a table. With "
        "--task-column: one row per (mode, K, type), columns mode, "
        "n_components, covariance_type, n_parameters, log_likelihood, bic, "
        "aic, icl, heldout_log_likelihood (total), heldout_per_sample, "
        "heldout[TASK] (per row), error, best.",
    )
    sel.add_argument("--quiet", "-q", action="store_true", help="No progress on stderr.")
    sel.set_defaults(func=cmd_select)


_PREDICT_DESCRIPTION = (
    "Write, for every row of DATA.csv in order, the most probable component (label, 0-based) "
    "and the probability of each component (p0, p1, ...) as CSV on stdout. Columns are matched "
    "by the names stored in the model; the model's standardization is applied. Rows with a "
    "missing value get an empty label and probabilities (note on stderr).\n\n"
    "Multi-task models (every mode): the task of each row is read from the task column the "
    "model was fitted\nwith (or --task-column). shared: each task's weights; separate: each "
    "task's own mixture\n(component j of one task is unrelated to component j of another); "
    "pooled: the task is\nignored. A task not seen in fitting is an error; --unknown-task pooled "
    "predicts it with the\npooled weights (shared models; a separate model has nothing to fall "
    "back on)."
)


def _add_predict_command(sub) -> None:
    pred = sub.add_parser(
        "predict",
        formatter_class=_FMT,
        help="label rows with a saved model (CSV on stdout)",
        description=_PREDICT_DESCRIPTION,
        epilog="Examples:\n"
        f"  {CLI_PROG} predict faithful.json sample_data/faithful.csv > labels.csv\n"
        f"  {CLI_PROG} predict penguins.json sample_data/penguins.csv --with-input",
    )
    pred.add_argument("model", metavar="MODEL.json", help="A model file written by 'fit'.")
    pred.add_argument(
        "data",
        metavar="DATA",
        help="CSV/TSV, Excel (.xlsx) or Parquet file with the model's columns (read as for fit).",
    )
    pred.add_argument(
        "--sheet",
        metavar="NAME",
        help="Excel workbooks: the sheet to read (default: the first sheet).",
    )
    pred.add_argument(
        "--task-column",
        metavar="COL",
        help="Multi-task models: the column naming each row's task (default: the "
        "task column the model was fitted with).",
    )
    pred.add_argument(
        "--unknown-task",
        choices=("error", "pooled"),
        default="error",
        help="A task the model has not seen: stop with an error (default), or use "
        "the pooled weights.",
    )
    pred.add_argument(
        "--with-input", action="store_true", help="Prefix the output with the input's columns."
    )
    pred.add_argument(
        "--on-missing",
        choices=("skip", "error"),
        default="skip",
        help="Rows with a missing value in a used column: leave their label and "
        "probabilities empty (default), or stop with an error.",
    )
    pred.set_defaults(func=cmd_predict)


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m gmmcore``; each command sets ``func`` to its ``cmd_*``."""
    parser = _Parser(
        prog=CLI_PROG,
        formatter_class=_FMT,
        description="Gaussian mixtures by EM: fit one, choose K and the covariance type, "
        "predict with a saved model.",
        epilog="Examples:\n"
        f"  {CLI_PROG} select sample_data/faithful.csv --components 1-6\n"
        f"  {CLI_PROG} fit sample_data/faithful.csv --components 3 --covariance-type tied "
        "--output model.json\n"
        f"  {CLI_PROG} predict model.json sample_data/faithful.csv > labels.csv\n"
        f"  {CLI_PROG} select sample_data/penguins.csv --task-column island --standardize "
        "--components 3\n\n"
        "Run a command with --help for its options.",
    )
    sub = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND")
    _add_fit_command(sub)
    _add_select_command(sub)
    _add_predict_command(sub)
    return parser
