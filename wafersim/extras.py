"""How to install what an optional feature needs, in words that work.

wafersim is installed from a checkout, not from a package index, so a hint that
asks pip for wafersim with an extra would ask the index for a package that is not
there.  Each hint names the packages themselves and the extra of ``setup.cfg`` that
installs them from a checkout.
"""

from __future__ import annotations

__all__ = ["EXTRAS", "install_hint"]

#: extra of setup.cfg -> what ``pip install`` needs to get its packages from an index
EXTRAS = {
    "plot": "matplotlib",
    "sweep": "xarray h5netcdf pandas",
    "dask": "'dask[distributed]'",
}


def install_hint(extra: str) -> str:
    """``pip install PACKAGES (or pip install -e '.[EXTRA]' in a wafersim checkout)``."""
    return f"pip install {EXTRAS[extra]} (or pip install -e '.[{extra}]' in a wafersim checkout)"
