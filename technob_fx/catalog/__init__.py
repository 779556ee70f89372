"""A music library: batch analysis and separation on Dask, a SQLite catalogue, DJ-software export.

* :mod:`~technob_fx.catalog.batch` -- :func:`run_batch` with :class:`AnalyzeJob` or
  :class:`SeparateJob` on a local or remote Dask cluster, resumable and incremental.
* :mod:`~technob_fx.catalog.db` -- :class:`Catalog`, ``CATALOG/catalog.sqlite`` (versioned schema).
* :mod:`~technob_fx.catalog.export` -- :func:`export_catalog` to rekordbox XML / Traktor NML.
"""

from .batch import AnalyzeJob, BatchProgress, BatchReport, SeparateJob, iter_inputs, run_batch
from .db import Catalog
from .export import export_catalog

__all__ = ["AnalyzeJob", "BatchProgress", "BatchReport", "Catalog", "SeparateJob", "export_catalog",
           "iter_inputs", "run_batch"]
