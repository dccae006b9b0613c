"""Figures from result records: quality against bits, one line per (granularity, observer)
and one panel per model and metric."""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from genq.tracking.record import find_records, read_record  # noqa: E402


def _bits(record: dict[str, Any]) -> int | None:
    q = record["quant"]
    return q["w_bits"] if q["w_bits"] == q["a_bits"] else None


def plot_quality_vs_bits(records: list[dict[str, Any]], out: str | Path,
                         metrics: tuple[str, ...] = ("qfid", "lpips_vs_fp")) -> Path:
    """Lines of ``metrics`` against W=A bits; records with W != A are left out."""
    models = sorted({r["model"] for r in records})
    fig, axes = plt.subplots(len(metrics), len(models), figsize=(4.2 * len(models), 3.2 * len(metrics)),
                             squeeze=False)
    for col, model in enumerate(models):
        lines: dict[str, list[tuple[int, dict]]] = defaultdict(list)
        for r in records:
            if r["model"] == model and r["quant"]["method"] == "ptq" and _bits(r):
                label = f"{r['quant'].get('granularity')} / {r['quant'].get('observer')}"
                lines[label].append((_bits(r), r["metrics"]))
        for row, metric in enumerate(metrics):
            ax = axes[row][col]
            for label, points in sorted(lines.items()):
                points.sort(key=lambda p: p[0])
                ys = [p[1].get(metric) for p in points]
                ax.plot([p[0] for p in points], [y if y is not None else float("nan") for y in ys],
                        marker="o", label=label)
            ax.set_title(f"{model}: {metric}")
            ax.set_xlabel("bits (W = A)")
            ax.set_yscale("log")
            ax.invert_xaxis()
            ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7, title="weights / activation observer", title_fontsize=7)
    fig.tight_layout()
    out = Path(out)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m genq.report.figures RECORDS_DIR OUT_PNG")
    plot_quality_vs_bits([read_record(p) for p in find_records(sys.argv[1])], sys.argv[2])
