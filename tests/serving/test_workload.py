"""Arrival processes, length distributions and trace files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from wafersim.config import ConfigError
from wafersim.serving.traces import EXAMPLE_TRACE, read_trace
from wafersim.serving.workload import draw, parse_arrivals, parse_lengths


@pytest.mark.parametrize("cv", [0.5, 1.0, 3.0])
def test_gamma_gaps_have_the_rate_and_the_cv_asked(cv):
    r = draw(parse_arrivals(f"gamma:4:cv{cv}"), parse_lengths("8", "p"), parse_lengths("8", "o"), 200_000, 0)
    g = np.diff(r.arrival_s)
    assert abs(g.mean() * 4 - 1) < 0.02
    assert abs(g.std() / g.mean() / cv - 1) < 0.05


def test_lengths_follow_their_distributions():
    rng_n = 100_000
    ln = parse_lengths("lognormal:2048:0.5", "--prompt").draw(np.random.default_rng(0), rng_n)
    assert abs(np.median(ln) / 2048 - 1) < 0.02 and abs(np.log(ln).std() / 0.5 - 1) < 0.02
    u = parse_lengths("uniform:10:20", "--prompt").draw(np.random.default_rng(0), rng_n)
    assert u.min() == 10 and u.max() == 20 and abs(u.mean() - 15) < 0.05
    e = parse_lengths("empirical:5,7,7", "--prompt").draw(np.random.default_rng(0), rng_n)
    assert set(e) == {5, 7} and abs((e == 7).mean() - 2 / 3) < 0.01
    assert set(parse_lengths("300", "--output").draw(np.random.default_rng(0), 5)) == {300}


@pytest.mark.parametrize("text", ["poisson", "poisson:-1", "poisson:x", "gamma:4", "gamma:4:2", "uniform:4",
                                  "trace:", "burst:3"])
def test_bad_arrivals_name_the_flag(text):
    with pytest.raises(ConfigError, match="--arrivals"):
        parse_arrivals(text)


@pytest.mark.parametrize("text", ["0", "uniform:9:3", "lognormal:100", "empirical:", "normal:3:4", "fixed:1.5x"])
def test_bad_lengths_name_the_flag(text):
    with pytest.raises(ConfigError, match="--prompt"):
        parse_lengths(text, "--prompt")


def test_the_example_trace_reads():
    r = read_trace(EXAMPLE_TRACE)
    assert len(r) == 300 and r.arrival_s[0] == 0 and np.all(np.diff(r.arrival_s) >= 0)
    assert r.prompt_tokens.min() >= 1 and r.output_tokens.min() >= 1


def test_public_trace_columns_and_jsonl_read_alike(tmp_path):
    azure = tmp_path / "azure.csv"
    azure.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n"
                     "2023-11-16 18:15:46.6805900,374,44\n2023-11-16 18:15:46.1805900,396,109\n")
    r = read_trace(azure)
    assert list(r.prompt_tokens) == [396, 374] and r.arrival_s[1] == pytest.approx(0.5)
    mooncake = tmp_path / "mooncake.jsonl"
    mooncake.write_text("\n".join(json.dumps(x) for x in [{"timestamp": 0, "input_length": 6955, "output_length": 52},
                                                           {"timestamp": 2500, "input_length": 6472, "output_length": 26}]))
    m = read_trace(mooncake, "ms")
    assert list(m.arrival_s) == [0.0, 2.5] and list(m.output_tokens) == [52, 26]


def test_bad_trace_rows_name_the_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("arrival_s,prompt_tokens,output_tokens\n0,10,5\n1,0,5\n")
    with pytest.raises(ConfigError, match="bad.csv:3"):
        read_trace(bad)
    missing = tmp_path / "missing.csv"
    missing.write_text("arrival_s,prompt_tokens\n0,10\n")
    with pytest.raises(ConfigError, match="no output column"):
        read_trace(missing)
