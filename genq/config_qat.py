"""Schema of quantization-aware training (``quant.qat.*``, used when ``quant.method=qat``).

Kept apart from :mod:`genq.config` so QAT owns its settings in one file.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class QATConfig:
    """Learned-step-size QAT with distillation from the frozen FP teacher."""

    steps: int = 0
