"""Writing benchmark figures: atomically, so an interrupted run keeps the last good file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from wafersim.atomic import atomic_path


def write_json(path: str | Path, data: Any) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return Path(path)
