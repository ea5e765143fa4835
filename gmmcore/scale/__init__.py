"""Scale: files larger than memory, dask collections, and the sources of row blocks.

Every fit here is :func:`gmmcore.engine.blockem.iter_em_blocks`: statistics summed over blocks
of rows, then one M-step. Importing this package imports neither dask nor pyarrow: each is
imported by the function that needs it.
"""

from .sources import ArraySource, CsvSource, ParquetSource, open_source, sample_rows
from .stream import TextProgress, iter_em_source, source_statistics

__all__ = [
    "ArraySource",
    "CsvSource",
    "ParquetSource",
    "TextProgress",
    "iter_em_source",
    "open_source",
    "sample_rows",
    "source_statistics",
]
