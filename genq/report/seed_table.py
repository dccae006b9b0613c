"""Tables of seed-aggregated rows (genq.report.aggregate): one row per setting, each metric
cell "mean ± half-width of the 95% t-interval over seeds" (just the mean with one seed,
and "(k=..)" where fewer seeds than the row's have the metric), the number of seeds k, and
a "vs best <metric>" column: the row's verdict against the best row of its model on the
ranking metric (genq.report.compare). The CSV has the numbers apart: ``<metric>``,
``<metric>_ci95_low``, ``<metric>_ci95_high``, ``<metric>_sd``, ``n_seeds`` and ``seeds``."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from genq.report.aggregate import AggregatedRow, MetricSummary
from genq.report.columns import KEY_COLUMNS, METRICS, TAIL_COLUMNS
from genq.report.compare import vs_best


def _metrics(rows: list[AggregatedRow]) -> list[tuple[str, str]]:
    """(header, key) of each metric of METRICS that some row has."""
    return [(name, key) for name, key in METRICS if any(key in r.metrics for r in rows)]


def table(rows: list[AggregatedRow], rank_metric: str = "fid") -> tuple[list[str], list[list[Any]]]:
    """Header and cells of the aggregated table. A metric cell is (MetricSummary, the row's
    number of seeds) or None where no seed has the metric; the other cells plain values."""
    metrics = _metrics(rows)
    head = ([name for name, _ in KEY_COLUMNS] + [name for name, _ in metrics]
            + [f"vs best {rank_metric}", "k"] + [name for name, _ in TAIL_COLUMNS])
    verdicts = vs_best(rows, rank_metric)
    body = []
    for row, verdict in zip(rows, verdicts):
        cells: list[Any] = [get(row.record) for _, get in KEY_COLUMNS]
        cells += [(row.metrics[key], row.n_seeds) if key in row.metrics else None for _, key in metrics]
        cells += [verdict, row.n_seeds] + [get(row.record) for _, get in TAIL_COLUMNS]
        body.append(cells)
    return head, body


def format_cell(v: Any, pm: str = "±") -> str:
    """4 significant digits; "mean ± half-width" for a metric with an interval; "-" for None."""
    if v is None:
        return "-"
    if isinstance(v, tuple) and isinstance(v[0], MetricSummary):
        summary, n_seeds = v
        text = f"{summary.mean:.4g}"
        if summary.half_width is not None:
            text += f" {pm} {summary.half_width:.4g}"
        if summary.k != n_seeds:
            text += f" (k={summary.k})"
        return text
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def aggregated_markdown(rows: list[AggregatedRow], rank_metric: str = "fid") -> str:
    """The aggregated table in Markdown."""
    head, body = table(rows, rank_metric)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(format_cell(v) for v in cells) + " |" for cells in body]
    return "\n".join(lines) + "\n"


def _seeds(row: AggregatedRow) -> str:
    return json.dumps([list(s) for s in row.seeds], default=str)


def write_aggregated_csv(rows: list[AggregatedRow], path: str | Path, rank_metric: str = "fid") -> None:
    """The aggregated table as CSV, each metric as its mean, interval ends and sd."""
    metrics = _metrics(rows)
    head = [name for name, _ in KEY_COLUMNS]
    for _, key in metrics:
        head += [key, f"{key}_ci95_low", f"{key}_ci95_high", f"{key}_sd"]
    head += [f"vs best {rank_metric}"] + [name for name, _ in TAIL_COLUMNS] + ["n_seeds", "seeds"]
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(head)
        for row, verdict in zip(rows, vs_best(rows, rank_metric)):
            cells: list[Any] = [get(row.record) for _, get in KEY_COLUMNS]
            for _, key in metrics:
                s = row.metrics.get(key)
                ci = s.ci95 if s else None
                cells += [s.mean if s else None, ci[0] if ci else None, ci[1] if ci else None,
                          s.sd if s else None]
            cells += [verdict] + [get(row.record) for _, get in TAIL_COLUMNS] + [row.n_seeds, _seeds(row)]
            writer.writerow(cells)
