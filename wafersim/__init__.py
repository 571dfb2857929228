"""wafersim: wafer-scale chips against multi-GPU systems for LLM inference.

The public API::

    import wafersim
    system = wafersim.load_system("wse3")          # or a path to a TOML file
    model = wafersim.load_model("llama-3.1-8b")
    result = wafersim.simulate(system, model, batch=4, prompt_tokens=32768)
    result.summary["tokens_per_s_per_user"]
    wafersim.write_results("out.h5", result)
"""

from ._version import __version__
from .config import ConfigError
from .mapping.options import MappingOptions
from .presets import list_presets, load_model, load_system
from .results.hdf5 import read_run, read_summaries, write_results
from .results.run_result import RunResult
from .runner import simulate
from .workload.scenario import Scenario

__all__ = ["__version__", "ConfigError", "load_system", "load_model", "list_presets", "simulate",
           "RunResult", "Scenario", "MappingOptions", "write_results", "read_summaries", "read_run"]
