"""wafersim: wafer-scale chips against multi-GPU systems for LLM inference.

The public API::

    import wafersim
    system = wafersim.load_system("wse3")          # or a path to a TOML file
    model = wafersim.load_model("llama-3.1-8b")
    result = wafersim.simulate(system, model, batch=4, prompt_tokens=32768)
    wafersim.simulate("dgx-h100", model, runtime="best-known")   # a serving-runtime profile
    result.summary["tokens_per_s_per_user"]
    wafersim.write_results("out.h5", result)
"""

from typing import Any

from ._version import __version__
from .config import ConfigError, InputError, WafersimError
from .mapping.options import MappingOptions
from .presets import list_presets, load_model, load_runtime, load_system
from .results.errors import ResultsFormatError
from .workload.scenario import Scenario

__all__ = ["__version__", "WafersimError", "ConfigError", "InputError", "ResultsFormatError", "load_system", "load_model", "load_runtime", "list_presets",
           "simulate", "RunResult", "Scenario", "MappingOptions", "write_results", "read_summaries", "read_run"]

#: name -> module that defines it, imported on first use: the HDF5 functions need h5py, and
#: ``simulate`` and ``RunResult`` NumPy, which commands like ``wafersim presets`` never touch
_LAZY = {"write_results": "results.hdf5", "read_summaries": "results.hdf5", "read_run": "results.hdf5",
         "simulate": "runner", "RunResult": "results.run_result"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'wafersim' has no attribute {name!r}")
