"""What quantizing an adapter returns, whatever the method (PTQ, QAT)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from genq.models.base import GeneratorAdapter
from genq.quant.report import QuantReport


@dataclass
class QuantOutcome:
    """The quantized adapter, its coverage report and what the record's ``quant`` section
    gains (calibration, reconstruction, timings, ...)."""

    model: GeneratorAdapter
    report: QuantReport
    info: dict[str, Any] = field(default_factory=dict)
