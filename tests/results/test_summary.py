"""The typed summary: one declaration of every metric, read like a mapping, frozen,
and the schema document generated from it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import wafersim
from wafersim.results.summary import FIELDS, REQUIRED, Summary, field_info, fields_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "results-schema.md"


@pytest.fixture(scope="module")
def gpu():
    return wafersim.simulate("dgx-h100", "llama-3.1-8b", tp=2).summary


def test_a_summary_is_a_read_only_mapping_of_the_metrics_present(gpu):
    assert gpu["tp"] == 2 and gpu.tp == 2 and gpu.get("placement") is None and "placement" not in gpu
    assert list(gpu) == [k for k in FIELDS if getattr(gpu, k) is not None]
    assert len(gpu) == len(list(gpu)) and dict(gpu) == {k: getattr(gpu, k) for k in gpu}
    with pytest.raises(KeyError):
        gpu["placement"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        gpu.tpot_s = 1.0


def test_every_required_field_is_needed():
    values = {k: 1 for k in REQUIRED}
    Summary(**values)
    for missing in REQUIRED:
        with pytest.raises(TypeError, match=missing):
            Summary(**{k: v for k, v in values.items() if k != missing})


def test_round_trip_through_json_ignores_keys_that_are_not_fields(gpu):
    stored = {**gpu.to_dict(), "notes": ["x"], "measured": 3.0}
    assert Summary.from_mapping(stored) == gpu


def test_units_come_from_the_declaration():
    assert field_info("tpot_s") == ("s", "time per output token (mean decode step)")
    assert field_info("energy_hbm_j")[0] == "J" and field_info("no_such_key") == ("", "")


def test_the_schema_document_holds_the_generated_table():
    """docs/results-schema.md lists exactly the declared fields (regenerate with fields_markdown())."""
    assert fields_markdown() in DOC.read_text(), "docs/results-schema.md is out of date: paste fields_markdown()"
