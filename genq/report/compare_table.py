"""``compare.md`` and ``compare.csv``: within each model, every pair of seed-aggregated rows
compared (genq.report.compare) on the ranking metric, qFID and LPIPS vs FP: both means
with their 95% t-intervals, the mean paired difference A − B over the shared seeds, its
paired t-interval, the test and the verdict. Pairs where a row lacks the metric are left out."""

from __future__ import annotations

import csv
from collections import Counter
from itertools import combinations
from pathlib import Path
from typing import Any

from genq.report.aggregate import AggregatedRow
from genq.report.compare import Comparison, compare

PAIRED_METRICS = ("qfid", "lpips_vs_fp")


def labels(rows: list[AggregatedRow]) -> list[str]:
    """A name per row, unique within its model: the recipe, then the weight granularity and
    activation observer where the recipe is not enough, then a number."""
    names = [r.quant["recipe"] for r in rows]
    seen = Counter((r.model, n) for r, n in zip(rows, names))
    names = [f"{n} {r.quant.get('granularity')}/{r.quant.get('observer')}" if seen[(r.model, n)] > 1
             else n for r, n in zip(rows, names)]
    seen, count = Counter((r.model, n) for r, n in zip(rows, names)), Counter()
    out = []
    for r, n in zip(rows, names):
        count[(r.model, n)] += 1
        out.append(f"{n} #{count[(r.model, n)]}" if seen[(r.model, n)] > 1 else n)
    return out


def comparisons(rows: list[AggregatedRow], rank_metric: str = "fid"
                ) -> list[tuple[str, str, str, Comparison]]:
    """(model, label A, label B, comparison) for every pair of rows of a model, on the
    ranking metric, qFID and LPIPS vs FP, where both rows have the metric."""
    metrics = list(dict.fromkeys((rank_metric, *PAIRED_METRICS)))
    names = labels(rows)
    out = []
    for model in dict.fromkeys(r.model for r in rows):
        mine = [(r, n) for r, n in zip(rows, names) if r.model == model]
        for metric in metrics:
            for (a, na), (b, nb) in combinations(mine, 2):
                if a.mean(metric) is not None and b.mean(metric) is not None:
                    out.append((model, na, nb, compare(a, b, metric)))
    return out


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:.4g}"


def _mean_ci(mean: float | None, ci: tuple[float, float] | None) -> str:
    if mean is None:
        return "-"
    return _num(mean) if ci is None else f"{_num(mean)} [{_num(ci[0])}, {_num(ci[1])}]"


def compare_markdown(rows: list[AggregatedRow], rank_metric: str = "fid") -> str:
    """compare.md: one table per model."""
    lines = ["# Pairwise comparisons over seeds", "",
             f"Metrics: {', '.join(dict.fromkeys((rank_metric, *PAIRED_METRICS)))}. Means with "
             "their 95% t-interval over seeds; A − B is the mean difference over the seeds both "
             "rows share (same seed and quant seed) with its paired 95% t-interval.",
             "Verdict: separate = the rows' own intervals do not overlap; paired = they overlap "
             "but the paired interval of A − B excludes 0; overlap = neither; n/a = no interval "
             "(one seed).", ""]
    by_model: dict[str, list] = {}
    for model, na, nb, c in comparisons(rows, rank_metric):
        by_model.setdefault(model, []).append((na, nb, c))
    for model, items in by_model.items():
        lines += [f"## {model}", "", "| metric | A | B | A mean [95% CI] | B mean [95% CI] | A − B "
                  "| A − B 95% CI | test | verdict |", "|---|---|---|---|---|---|---|---|---|"]
        for na, nb, c in items:
            ci = "-" if c.diff_ci95 is None else f"[{_num(c.diff_ci95[0])}, {_num(c.diff_ci95[1])}]"
            lines.append(f"| {c.metric} | {na} | {nb} | {_mean_ci(c.mean_a, c.ci_a)} | "
                         f"{_mean_ci(c.mean_b, c.ci_b)} | {_num(c.diff)} | {ci} | {c.test} | {c.verdict} |")
        lines.append("")
    if not by_model:
        lines.append("No pair of rows of one model to compare.")
    return "\n".join(lines) + "\n"


def write_compare_csv(rows: list[AggregatedRow], path: str | Path, rank_metric: str = "fid") -> None:
    """compare.csv: one line per comparison, the numbers apart."""
    def ends(ci: tuple[float, float] | None) -> list[Any]:
        return [None, None] if ci is None else list(ci)

    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["model", "a", "b", "metric", "mean_a", "ci95_low_a", "ci95_high_a", "mean_b",
                         "ci95_low_b", "ci95_high_b", "n_shared", "diff", "diff_ci95_low",
                         "diff_ci95_high", "test", "verdict"])
        for model, na, nb, c in comparisons(rows, rank_metric):
            writer.writerow([model, na, nb, c.metric, c.mean_a, *ends(c.ci_a), c.mean_b, *ends(c.ci_b),
                             c.n_shared, c.diff, *ends(c.diff_ci95), c.test, c.verdict])
