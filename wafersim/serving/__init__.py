"""Requests over time on a deployment: arrivals and traces, a continuous-batching
scheduler, latency percentiles and goodput under SLOs (``wafersim serve``).

The layer sits above the engines: it asks a deployment (:mod:`.deployment`) for its KV
capacity and step times and never branches on the kind of system.  Modules:
:mod:`.workload` (arrival processes, length distributions), :mod:`.traces` (trace
files), :mod:`.steptable` (step times asked of the engine once and interpolated),
:mod:`.scheduler` (the scheduler's settings and its wrapper around the Numba loop in
:mod:`._kernels`), :mod:`.metrics` (percentiles, goodput), :mod:`.api` (``serve``,
``find_rate``), :mod:`.output` (text, JSON, HDF5), :mod:`.pools` (copies of a
deployment, KV moved between them), :mod:`.disagg` and :mod:`.disagg_output` (prefill
and decode on separate pools) and :mod:`.points` (a serving run as one point of a
sweep or a search)::

    from wafersim.serving.api import serve
    result = serve("dgx-h100", "llama-3.1-8b", arrivals="poisson:4", requests=500, slo="ttft=2s,tpot=50ms")
    result.summary["ttft_s"]["p90"], result.summary["goodput_requests_per_s"]
"""
