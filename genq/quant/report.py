"""The coverage report of ``quantize_``: every module with parameters, quantized with what,
or skipped and why."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field


@dataclass
class LayerReport:
    name: str
    type: str
    status: str                     # "quantized" | "skipped"
    weight: str | None = None       # e.g. "int8 sym PerChannel"
    activation: str | None = None
    reason: str = ""
    outlier: str | None = None      # outlier method (smooth, rotate, svd), genq.quant.outliers


@dataclass
class QuantReport:
    layers: list[LayerReport] = field(default_factory=list)

    def counts(self) -> dict[str, object]:
        """Counts for result.json: quantized/skipped in total and by layer type."""
        by_status = Counter(layer.status for layer in self.layers)
        by_type: dict[str, dict[str, int]] = {}
        for layer in self.layers:
            by_type.setdefault(layer.type, {"quantized": 0, "skipped": 0})[layer.status] += 1
        return {"quantized": by_status.get("quantized", 0), "skipped": by_status.get("skipped", 0),
                "by_type": by_type}

    def rows(self) -> list[dict[str, object]]:
        return [asdict(layer) for layer in self.layers]

    def table(self) -> str:
        lines = [f"{'module':48s} {'type':16s} {'status':9s} {'weight':22s} {'activation':22s} reason"]
        for r in self.layers:
            lines.append(f"{r.name:48s} {r.type:16s} {r.status:9s} {r.weight or '-':22s} "
                         f"{r.activation or '-':22s} {r.reason}")
        return "\n".join(lines)
