"""Progress: a bar with points done, failed, left, rate and ETA on a terminal; nothing when
stderr is not one; a ticker for a single run that takes more than its delay."""

from __future__ import annotations

import io
import time

from wafersim.sweep.progress import Progress, Ticker, format_seconds


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_bar_counts_rate_and_eta_against_a_fake_clock():
    now = [100.0]
    bar = Progress(10, already=2, stream=Terminal(), clock=lambda: now[0], interval=0)
    now[0] = 102.0
    for ok in (True, False, True, True):
        bar.update(ok)
    # 4 fresh points in 2 s: 2 points/s; 4 left: 2 s; 6/10 of a 24-wide bar: 14 marks
    assert bar.line() == "[" + "#" * 14 + "." * 10 + "] 6/10 done, 1 failed, 4 left, 2 points/s, ETA 2 s"
    assert bar.stream.getvalue().count("\r") == 4


def test_bar_is_quiet_when_not_a_terminal():
    out = io.StringIO()
    bar = Progress(3, stream=out)
    for _ in range(3):
        bar.update()
    bar.close()
    assert out.getvalue() == ""


def test_ticker_shows_elapsed_time_only_after_its_delay():
    term = Terminal()
    with Ticker("wse3 running llama", stream=term, delay=0.05, interval=0.02):
        time.sleep(0.2)
    text = term.getvalue()
    assert "wse3 running llama ... 0 s" in text and text.endswith("\r\x1b[K")
    quick = Terminal()
    with Ticker("fast", stream=quick, delay=5):
        pass
    assert quick.getvalue() == ""
    piped = io.StringIO()
    with Ticker("slow", stream=piped, delay=0.0, interval=0.01):
        time.sleep(0.05)
    assert piped.getvalue() == ""


def test_format_seconds():
    assert [format_seconds(s) for s in (0.4, 59, 61, 3725, float("inf"))] == \
        ["0 s", "59 s", "1 min 01 s", "1 h 02 min", "?"]


def test_run_and_compare_tick_for_every_simulation_they_wait_on(monkeypatch, capsys):
    """`run` ticks while its run works, `compare` while each side works, `--frontier` while
    each side's batch sweep works (a line after 2 s on a terminal; here the labels only)."""
    import wafersim.sweep.progress as progress
    from wafersim.cli import main

    labels = []

    class Recording(Ticker):
        def __init__(self, label, **kw):
            labels.append(label)
            super().__init__(label, **kw)

    monkeypatch.setattr(progress, "Ticker", Recording)
    assert main(["run", "wse3", "llama-3.1-8b", "--json"]) == 0
    assert main(["compare", "wse3", "dgx-h100", "llama-3.1-8b", "--json"]) == 0
    assert main(["compare", "mini-wafer", "dgx-h100", "llama-3.1-8b", "--frontier", "fixed", "--json"]) == 0
    assert main(["compare", "mini-wafer", "dgx-h100", "llama-3.1-8b", "--frontier", "--json"]) == 0
    capsys.readouterr()
    assert labels == ["wse3 running llama-3.1-8b", "wse3 running llama-3.1-8b", "dgx-h100 running llama-3.1-8b",
                      "mini-wafer sweeping the batch for llama-3.1-8b", "dgx-h100 sweeping the batch for llama-3.1-8b",
                      "mini-wafer searching its deployments for llama-3.1-8b",
                      "dgx-h100 searching its deployments for llama-3.1-8b"]
