"""Figures from result records, aggregated over seeds (genq.report.aggregate): quality
against bits (one line per (granularity, observer), one panel per model and metric) and the
quality-vs-latency Pareto front; each point is a setting's mean over its seeds, with its 95%
t-interval as an error bar (none for a single seed). The plots take records or rows."""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from genq.report.aggregate import AggregatedRow, as_rows  # noqa: E402
from genq.report.compare import lower_is_better  # noqa: E402
from genq.tracking.record import finished_records  # noqa: E402

Rows = Sequence[dict[str, Any] | AggregatedRow]


def _bits(record: dict[str, Any]) -> int | None:
    q = record["quant"]
    return q["w_bits"] if q["w_bits"] == q["a_bits"] else None


def _errorbars(ax: Any, rows: list[AggregatedRow], xs: list[float], metric: str, color: Any) -> None:
    """Error bars of the rows' 95% t-intervals of ``metric`` at ``xs``; rows without one
    (a single seed) get none."""
    pts = [(x, r.mean(metric), r.ci95(metric)) for x, r in zip(xs, rows) if r.ci95(metric) is not None]
    if pts:
        ax.errorbar([p[0] for p in pts], [p[1] for p in pts],
                    yerr=[[p[1] - p[2][0] for p in pts], [p[2][1] - p[1] for p in pts]],
                    fmt="none", ecolor=color, elinewidth=1, capsize=3)


def plot_quality_vs_bits(records: Rows, out: str | Path,
                         metrics: tuple[str, ...] = ("qfid", "lpips_vs_fp")) -> Path:
    """Lines of ``metrics`` (means over seeds, with 95% t-interval bars) against W=A bits;
    settings with W != A are left out."""
    rows = as_rows(records)
    models = sorted({r.model for r in rows})
    fig, axes = plt.subplots(len(metrics), len(models), figsize=(4.2 * len(models), 3.2 * len(metrics)),
                             squeeze=False)
    for col, model in enumerate(models):
        lines: dict[str, list[tuple[int, AggregatedRow]]] = defaultdict(list)
        for r in rows:
            if r.model == model and r.quant["method"] == "ptq" and _bits(r.record):
                label = f"{r.quant.get('granularity')} / {r.quant.get('observer')}"
                lines[label].append((_bits(r.record), r))
        for row, metric in enumerate(metrics):
            ax = axes[row][col]
            for label, points in sorted(lines.items()):
                points.sort(key=lambda p: p[0])
                ys = [p[1].mean(metric) for p in points]
                (line,) = ax.plot([p[0] for p in points], [y if y is not None else float("nan") for y in ys],
                                  marker="o", label=label)
                _errorbars(ax, [p[1] for p in points], [p[0] for p in points], metric, line.get_color())
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


def plot_pareto(records: Rows, out: str | Path, metric: str = "fid") -> Path:
    """Quality (``metric``, mean over seeds with its 95% t-interval bar)
    against per-image latency (the lowest seed's run), one panel per model, the Pareto front
    of the means drawn; each point labelled with its recipe and timing backend."""
    rows = as_rows(records)
    models = sorted({r.model for r in rows})
    fig, axes = plt.subplots(1, len(models), figsize=(5 * len(models), 3.8), squeeze=False)
    for ax, model in zip(axes[0], models):
        pts = [(r.record["speed"]["latency_ms_per_image"], r.mean(metric), r.quant["recipe"],
                r.record["speed"]["backend"], r) for r in rows
               if r.model == model and r.mean(metric) is not None]
        for backend in sorted({p[3] for p in pts}):
            sel = [p for p in pts if p[3] == backend]
            dots = ax.scatter([p[0] for p in sel], [p[1] for p in sel], label=backend)
            _errorbars(ax, [p[4] for p in sel], [p[0] for p in sel], metric, dots.get_facecolor()[0])
        for x, y, recipe, *_ in pts:
            ax.annotate(recipe, (x, y), fontsize=6, xytext=(2, 2), textcoords="offset points")
        front, best, sign = [], float("inf"), 1 if lower_is_better(metric) else -1
        for x, y, *_ in sorted(pts, key=lambda p: (p[0], sign * p[1])):
            if sign * y < best:
                front.append((x, y))
                best = sign * y
        if front:
            ax.plot(*zip(*front), color="grey", lw=1, ls="--", label="Pareto front")
        ax.set_xscale("log")
        ax.set_xlabel("ms / image (fake-quant timings are overheads, not speedups)", fontsize=7)
        ax.set_ylabel(metric)
        ax.set_title(model)
        ax.grid(alpha=0.3)
        if pts:
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


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m genq.report.figures RECORDS_DIR OUT_PNG")
    plot_quality_vs_bits([record for _, record in finished_records(sys.argv[1])], sys.argv[2])
