"""Wafer designs: a core's parts, the wafer's dies, defects, power and cost, and the
system preset they give (``designs/``, ``wafersim design``)."""

from .figures import DesignFigures, derive
from .load import list_designs, load_design, value_sources
from .spec import WaferDesign
from .system import DesignedSystem, preset_text, reference_of, system_of, to_system

__all__ = ["WaferDesign", "DesignFigures", "DesignedSystem", "derive", "list_designs", "load_design",
           "value_sources", "preset_text", "reference_of", "system_of", "to_system"]
