"""QAT of an adapter: prepare (PTQ-initialised fake quantizers) -> train -> convert."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genq.errors import GenqError
from genq.models.base import GeneratorAdapter


def run_qat(fp: GeneratorAdapter, q: Any, seed: int, run_dir: str | Path | None = None):
    raise GenqError("quant.method=qat is not implemented yet; accepted: fp, ptq.")
