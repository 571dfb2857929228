"""Requests over time: when they arrive and how long their prompts and outputs are.

An arrival process is written ``poisson:RATE`` (exponential gaps, RATE requests per
second), ``gamma:RATE:cvC`` (gamma-distributed gaps of the same mean and coefficient of
variation C: C = 1 is Poisson, C > 1 bursty, C < 1 more regular than Poisson) or
``trace:FILE`` (a trace file, :mod:`wafersim.serving.traces`; the lengths come from it).

A length distribution is written ``N`` or ``fixed:N`` (every request N tokens),
``uniform:LO:HI`` (integers LO to HI, each as likely), ``lognormal:MEDIAN:SIGMA`` (the
logarithm of the length normal with median MEDIAN tokens and standard deviation SIGMA,
rounded to the nearest token, at least 1) or ``empirical:N1,N2,...`` (one of the listed
lengths, each as likely).  Every draw comes from one ``numpy.random.Generator`` seeded
by the run's seed, in a fixed order (gaps, then prompts, then outputs), so a seed fixes
the requests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
import numpy as np

from ..config import ConfigError

__all__ = ["Requests", "ArrivalSpec", "LengthSpec", "parse_arrivals", "parse_lengths", "draw", "RATE_MAX"]

#: the highest arrival rate a spec takes (requests per second), as the scenario's --request-rate
RATE_MAX = 1e9
#: the largest coefficient of variation of a gamma process: gaps become almost all zero beyond it
CV_MAX = 100.0
#: the most values an empirical length list takes
EMPIRICAL_MAX = 100_000
#: longest length a distribution may name (tokens); the model's context bounds each request later
LENGTH_MAX = 2**24


@dataclass(frozen=True)
class Requests:
    """Requests as arrays, in arrival order: arrival time (s from the first), prompt and
    output tokens, and a priority (lower is served first under the priority policy)."""
    arrival_s: np.ndarray
    prompt_tokens: np.ndarray
    output_tokens: np.ndarray
    priority: np.ndarray = field(default=None)        # type: ignore[assignment]

    def __post_init__(self) -> None:
        n = len(self.arrival_s)
        pr = np.zeros(n, np.int64) if self.priority is None else np.asarray(self.priority, np.int64)
        object.__setattr__(self, "arrival_s", np.asarray(self.arrival_s, np.float64))
        object.__setattr__(self, "prompt_tokens", np.asarray(self.prompt_tokens, np.int64))
        object.__setattr__(self, "output_tokens", np.asarray(self.output_tokens, np.int64))
        object.__setattr__(self, "priority", pr)
        if not (len(self.prompt_tokens) == len(self.output_tokens) == len(pr) == n):
            raise ValueError("requests: every column needs one value per request")

    def __len__(self) -> int:
        return len(self.arrival_s)

    @property
    def max_context(self) -> int:
        """The longest prompt + output of any request (tokens)."""
        return int((self.prompt_tokens + self.output_tokens).max()) if len(self) else 1


@dataclass(frozen=True)
class ArrivalSpec:
    """An arrival process: ``kind`` poisson, gamma or trace; ``rate`` per second; ``cv`` of the
    gaps (gamma); ``path`` and ``time_unit`` of a trace."""
    kind: str
    rate: float = 0.0
    cv: float = 1.0
    path: str = ""
    time_unit: str = "s"

    def text(self) -> str:
        if self.kind == "trace":
            return f"trace:{self.path}" + (f":{self.time_unit}" if self.time_unit != "s" else "")
        return f"poisson:{self.rate:g}" if self.kind == "poisson" else f"gamma:{self.rate:g}:cv{self.cv:g}"

    def at_rate(self, rate: float) -> "ArrivalSpec":
        return ArrivalSpec(self.kind, rate, self.cv, self.path, self.time_unit)


@dataclass(frozen=True)
class LengthSpec:
    """A length distribution: ``kind`` fixed, uniform, lognormal or empirical, and its numbers."""
    kind: str
    values: tuple[float, ...]

    def text(self) -> str:
        if self.kind == "empirical":
            return "empirical:" + ",".join(f"{v:g}" for v in self.values)
        return f"{self.kind}:" + ":".join(f"{v:g}" for v in self.values)

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        k, v = self.kind, self.values
        if k == "fixed":
            out = np.full(n, v[0])
        elif k == "uniform":
            out = rng.integers(int(v[0]), int(v[1]) + 1, size=n)
        elif k == "lognormal":
            out = np.rint(np.exp(rng.normal(math.log(v[0]), v[1], size=n)))
        else:
            out = np.asarray(v)[rng.integers(0, len(v), size=n)]
        return np.clip(out, 1, LENGTH_MAX).astype(np.int64)


def _number(text: str, what: str, flag: str, low: float, high: float) -> float:
    try:
        value = float(text) if len(text) <= 40 else math.nan
    except ValueError:
        value = math.nan
    if not low <= value <= high:
        raise ConfigError(flag, "", f"expected {what} from {low:g} to {high:g}; got {text[:40]!r}")
    return value


def parse_arrivals(text: str, flag: str = "--arrivals") -> ArrivalSpec:
    """``poisson:RATE``, ``gamma:RATE:cvC`` or ``trace:FILE[:ms]``, as the module says."""
    kind, _, rest = str(text).partition(":")
    if kind == "trace":
        path, unit = rest, "s"
        for suffix in ("ms", "us", "s"):
            if rest.endswith(":" + suffix):
                path, unit = rest[: -len(suffix) - 1], suffix
                break
        if not path:
            raise ConfigError(flag, "", "expected trace:FILE (a CSV or JSONL trace, :ms or :us after it when its "
                                        "times are not seconds)")
        return ArrivalSpec("trace", path=path, time_unit=unit)
    parts = rest.split(":")
    if kind == "poisson" and len(parts) == 1:
        return ArrivalSpec("poisson", _number(parts[0], "requests per second", flag, 1e-9, RATE_MAX))
    if kind == "gamma" and len(parts) == 2 and parts[1].startswith("cv"):
        rate = _number(parts[0], "requests per second", flag, 1e-9, RATE_MAX)
        return ArrivalSpec("gamma", rate, _number(parts[1][2:], "a coefficient of variation", flag, 1e-3, CV_MAX))
    raise ConfigError(flag, "", f"expected poisson:RATE, gamma:RATE:cvC or trace:FILE; got {str(text)[:60]!r}")


def parse_lengths(text: str, flag: str) -> LengthSpec:
    """``N``, ``fixed:N``, ``uniform:LO:HI``, ``lognormal:MEDIAN:SIGMA`` or ``empirical:N1,N2,...``."""
    text = str(text).strip()
    kind, _, rest = text.partition(":")
    if not rest and kind.isdigit():
        kind, rest = "fixed", kind
    parts = rest.split(":")
    tokens = "a length in tokens"
    if kind == "fixed" and len(parts) == 1:
        return LengthSpec("fixed", (float(int(_number(parts[0], tokens, flag, 1, LENGTH_MAX))),))
    if kind == "uniform" and len(parts) == 2:
        lo, hi = (int(_number(p, tokens, flag, 1, LENGTH_MAX)) for p in parts)
        if lo > hi:
            raise ConfigError(flag, "", f"uniform:LO:HI needs LO <= HI; got {text[:60]!r}")
        return LengthSpec("uniform", (float(lo), float(hi)))
    if kind == "lognormal" and len(parts) == 2:
        return LengthSpec("lognormal", (_number(parts[0], "a median in tokens", flag, 1, LENGTH_MAX),
                                        _number(parts[1], "a log standard deviation", flag, 0, 10)))
    if kind == "empirical" and len(parts) == 1 and parts[0]:
        items = parts[0].split(",", EMPIRICAL_MAX)
        if len(items) > EMPIRICAL_MAX:
            raise ConfigError(flag, "", f"an empirical list takes at most {EMPIRICAL_MAX} lengths")
        return LengthSpec("empirical", tuple(float(int(_number(p.strip(), tokens, flag, 1, LENGTH_MAX)))
                                             for p in items))
    raise ConfigError(flag, "", "expected N, fixed:N, uniform:LO:HI, lognormal:MEDIAN:SIGMA or "
                                f"empirical:N1,N2,...; got {text[:60]!r}")


def gaps(spec: ArrivalSpec, rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` gaps between arrivals of a Poisson or gamma process (the first from time 0)."""
    mean = 1.0 / spec.rate
    if spec.kind == "poisson":
        return rng.exponential(mean, size=n)
    shape = 1.0 / (spec.cv * spec.cv)
    return rng.gamma(shape, mean / shape, size=n)


def draw(spec: ArrivalSpec, prompt: LengthSpec, output: LengthSpec, n: int, seed: int) -> Requests:
    """``n`` requests of a Poisson or gamma process with lengths drawn from ``prompt`` and
    ``output``; the first arrives at 0."""
    rng = np.random.default_rng(seed)
    g = gaps(spec, rng, n)
    arrival = np.concatenate(([0.0], np.cumsum(g[1:]))) if n else np.zeros(0)
    return Requests(arrival, prompt.draw(rng, n), output.draw(rng, n))
