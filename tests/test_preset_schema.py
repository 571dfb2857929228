"""docs/preset-schema.md is generated from the field metadata and kept current."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_preset_schema_doc_is_current():
    spec = importlib.util.spec_from_file_location("preset_schema", ROOT / "tools" / "preset_schema.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (ROOT / "docs" / "preset-schema.md").read_text() == module.render(), \
        "run: python tools/preset_schema.py"
