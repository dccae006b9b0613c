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


def plot_pareto(records: list[dict[str, Any]], out: str | Path, metric: str = "fid") -> Path:
    """Quality (``metric``, lower is better) against per-image latency, one panel per model,
    the Pareto front drawn; each point labelled with its recipe and timing backend."""
    models = sorted({r["model"] for r in records})
    fig, axes = plt.subplots(1, len(models), figsize=(5 * len(models), 3.8), squeeze=False)
    for ax, model in zip(axes[0], models):
        pts = [(r["speed"]["latency_ms_per_image"], r["metrics"].get(metric), r["quant"]["recipe"],
                r["speed"]["backend"]) for r in records
               if r["model"] == model and r["metrics"].get(metric) is not None]
        for backend in sorted({p[3] for p in pts}):
            sel = [p for p in pts if p[3] == backend]
            ax.scatter([p[0] for p in sel], [p[1] for p in sel], label=backend)
        for x, y, recipe, _ in pts:
            ax.annotate(recipe, (x, y), fontsize=6, xytext=(2, 2), textcoords="offset points")
        front, best = [], float("inf")
        for x, y, *_ in sorted(pts):
            if y < best:
                front.append((x, y))
                best = y
        if front:
            ax.plot(*zip(*front), color="grey", lw=1, ls="--", label="Pareto front")
        ax.set_xscale("log")
        ax.set_xlabel("ms / image (fake-quant timings are overheads, not speedups)", fontsize=7)
        ax.set_ylabel(metric)
        ax.set_title(model)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    out = Path(out)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def sample_montage(grids: list[tuple[str, Path]], out: str | Path, columns: int = 3) -> Path | None:
    """The runs' FP | quantized sample grids side by side, titled by run."""
    if not grids:
        return None
    rows_n = (len(grids) + columns - 1) // columns
    fig, axes = plt.subplots(rows_n, columns, figsize=(4.5 * columns, 2.6 * rows_n), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (title, path) in zip(axes.flat, grids):
        ax.imshow(plt.imread(str(path)))
        ax.set_title(title, fontsize=7)
    fig.tight_layout()
    out = Path(out)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
