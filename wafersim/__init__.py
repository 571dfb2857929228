"""wafersim: wafer-scale chips against multi-GPU systems for LLM inference."""

__version__ = "0.1.0"

from .config import ConfigError  # noqa: E402
from .presets import list_presets, load_model, load_system  # noqa: E402

__all__ = ["__version__", "ConfigError", "load_system", "load_model", "list_presets"]
