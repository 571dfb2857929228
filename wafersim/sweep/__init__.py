"""Design-space sweeps: a TOML spec of axes, its points run on a local pool or a Dask
cluster, one HDF5 collection per sweep, resumable after the sweep is killed.

::

    from wafersim.sweep import run_sweep, open_dataset
    run_sweep("sweeps/sram-batch.toml", "sweep.h5", jobs=2)
    ds = open_dataset("sweep.h5")          # xarray.Dataset on the sweep's axes

The names below are imported on first use, so that ``wafersim run`` does not pay for them.
"""

from typing import Any

__all__ = ["run_sweep", "SweepReport", "load_spec", "parse_spec", "plan", "write_collection", "read_collection",
           "summary_digest", "open_dataset", "read_journal", "journal_path", "read_point"]

_WHERE = {"run_sweep": "run", "SweepReport": "run", "load_spec": "spec", "parse_spec": "spec", "plan": "points",
          "write_collection": "collection", "read_collection": "collection", "summary_digest": "collection",
          "open_dataset": "collection", "read_journal": "journal", "journal_path": "journal",
          "read_point": "arrays"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
