"""The error a results file raises when it is not one this version can read (no h5py needed to catch it)."""

from ..config import WafersimError

__all__ = ["ResultsFormatError"]


class ResultsFormatError(WafersimError):
    """A file is not a wafersim results file this version can read."""
