"""Result records: ``result.json`` written atomically (temporary file, fsync, rename), so
that an interrupted run never leaves a half-written record behind."""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
RESULT_FILE = "result.json"


def _clean(value: Any) -> Any:
    """JSON-safe values: non-finite floats become null (never a made-up number)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def write_json_atomic(path: str | os.PathLike, data: dict[str, Any]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(_clean(data), f, indent=2, sort_keys=False, allow_nan=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_record(path: str | os.PathLike) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def find_records(*roots: str | os.PathLike) -> list[Path]:
    """Every result.json below ``roots``, sorted."""
    return sorted(p for root in roots for p in Path(root).rglob(RESULT_FILE))


def finished_records(*roots: str | os.PathLike) -> list[tuple[Path, dict[str, Any]]]:
    """(path, record) of every finished run below ``roots``; failed runs are named on
    stderr and left out."""
    out = []
    for path in find_records(*roots):
        record = read_record(path)
        if record.get("status", "ok") == "ok":
            out.append((path, record))
        else:
            print(f"skipped failed run {path.parent}: {record.get('error', '')}", file=sys.stderr)
    return out
