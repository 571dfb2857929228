"""The journal keeps every whole frame and drops a torn tail, wherever the writer was killed."""

from __future__ import annotations

import pytest

from wafersim import ConfigError
from wafersim.sweep.journal import MAGIC, JournalWriter, read_journal
from wafersim.sweep.records import PointOutcome, encode


def _records(n):
    return [encode(PointOutcome(i, None, f"E: point {i}")) for i in range(n)]


def _write(path, recs):
    with JournalWriter(path, {"digest": "abc", "points": len(recs)}) as w:
        for r in recs:
            w.append(r)


def test_every_cut_keeps_the_whole_frames_before_it(tmp_path):
    path = tmp_path / "j"
    recs = _records(4)
    _write(path, recs)
    data = path.read_bytes()
    whole = read_journal(path)
    assert whole.header == {"digest": "abc", "points": 4} and sorted(whole.records) == [0, 1, 2, 3]
    assert whole.torn_bytes == 0 and whole.sound_bytes == len(data)
    ends = sorted({whole.sound_bytes - sum(len(r) + 17 for r in recs[k:]) for k in range(5)})
    for cut in range(len(data) + 1):          # the file as a kill at any byte would leave it
        path.write_bytes(data[:cut])
        j = read_journal(path)
        kept = sum(1 for e in ends[1:] if e <= cut)
        assert sorted(j.records) == list(range(kept)), cut
        assert j.sound_bytes + j.torn_bytes == cut


def test_a_corrupt_frame_ends_the_journal(tmp_path):
    path = tmp_path / "j"
    _write(path, _records(3))
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF                       # inside the last payload: its CRC no longer matches
    path.write_bytes(bytes(data))
    assert sorted(read_journal(path).records) == [0, 1]


def test_resume_truncates_the_torn_tail_before_appending(tmp_path):
    path = tmp_path / "j"
    recs = _records(3)
    _write(path, recs[:2])
    path.write_bytes(path.read_bytes() + recs[2][:10])      # a frame cut short
    j = read_journal(path)
    assert sorted(j.records) == [0, 1] and j.torn_bytes == 10
    w = JournalWriter(path, {"digest": "abc"}, resume=j)
    w.append(recs[2])
    w.close()
    j = read_journal(path)
    assert sorted(j.records) == [0, 1, 2] and j.torn_bytes == 0 and j.records[2] == recs[2]


def test_a_journal_cut_inside_its_first_line_resumes_from_nothing(tmp_path):
    path = tmp_path / "j"
    path.write_bytes(MAGIC[:7])
    j = read_journal(path)
    assert j.records == {} and j.header == {}
    w = JournalWriter(path, {"digest": "x"}, resume=j)
    w.append(_records(1)[0])
    w.close()
    j = read_journal(path)
    assert j.header == {"digest": "x"} and list(j.records) == [0]


def test_other_files_are_not_journals(tmp_path):
    path = tmp_path / "j"
    path.write_bytes(b"hello world, not a journal at all")
    with pytest.raises(ConfigError, match="not a wafersim sweep journal"):
        read_journal(path)
