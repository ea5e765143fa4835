"""Benchmarks of gmmcore against scikit-learn (``python -m bench.run``); not part of the
runtime package and not run by the test suite."""
