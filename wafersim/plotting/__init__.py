"""The figures of wafersim results, for the scripts in ``tools/`` and for notebooks.

:mod:`wafersim.plots` gathers the drawing functions; this package holds them by
figure (``cliff``, ``frontier``, ``validation``, ``sweep``), the words and units
every figure shares (``text``) and what the plot scripts share (``tool``).
Matplotlib is imported only when a figure is drawn.
"""
