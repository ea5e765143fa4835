"""The command line: ``python -m gmmcore fit | select | predict``.

Every bad input ends in ONE line on stderr, ``error: <what is wrong>; <how to fix it>``, and
exit status 2, never a traceback. Results go to stdout; progress and notes go to stderr.

Files are read by :mod:`gmmcore.io.tables`, the same reader as the dashboard: UTF-8 (with or
without BOM) then Latin-1; comma, tab, semicolon or pipe delimiters; decimal commas in
semicolon-, tab- and pipe-separated files; ``NA``, ``N/A``, ``NaN``, ``?``, ``null`` and empty
cells are missing values. Features default to every numeric column that varies, except the task
column. Rows with a missing value in a used column are skipped with a note on stderr
(``--on-missing error`` makes them an error instead); ``predict`` keeps such rows in its output,
with an empty label and empty probabilities, so output row i is always input row i.

Modules: :mod:`.parser` (arguments and help), :mod:`.common` (reading the data, one-line errors),
:mod:`.formatting` (the tables ``select`` prints) and one module per command (:mod:`.fit`,
:mod:`.select`, :mod:`.predict`).
"""

from __future__ import annotations

from collections.abc import Sequence

from .common import CLI_PROG, CliError, print_error, run_command
from .parser import build_parser

__all__ = ["CliError", "build_parser", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2, already printed)
        return exc.code if isinstance(exc.code, int) else 0
    if getattr(args, "func", None) is None:
        print_error(f"choose a command: fit, select or predict; see '{CLI_PROG} --help'")
        return 2
    return run_command(args.func, args)
