"""Every property-based test draws the same cases every run, so a run of the suite is
reproducible; ``WAFERSIM_FUZZ_RANDOM=1`` draws new ones for an exploratory run."""

import os

from hypothesis import settings

settings.register_profile("wafersim", derandomize=not os.environ.get("WAFERSIM_FUZZ_RANDOM"), database=None)
settings.load_profile("wafersim")
