"""Comparing two seed-aggregated rows on one metric. Verdicts:

- ``separate``: the two rows' own 95% t-intervals over their seeds do not overlap;
- ``paired``: they overlap, but the paired t-interval of the difference over the seeds the
  rows share (the same (seed, quant seed), so the same noise bank) excludes 0;
- ``overlap``: neither;
- ``n/a``: no interval at all to judge by (one seed on a side and fewer than two shared).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from genq.report.aggregate import AggregatedRow, t_interval

# Metrics where higher is better; every other one (FID, KID, qFID, LPIPS...) lower.
HIGHER_IS_BETTER = frozenset(
    name + suffix for name in ("psnr_vs_fp", "ssim_vs_fp", "is", "precision", "recall", "density",
                               "coverage") for suffix in ("", "_fp"))


def lower_is_better(metric: str) -> bool:
    return metric not in HIGHER_IS_BETTER


@dataclass(frozen=True)
class Comparison:
    """Row A against row B on ``metric``. ``diff`` is the mean over the ``n_shared`` shared
    seeds of A − B, ``diff_ci95`` its paired t-interval (None under two shared seeds)."""

    metric: str
    mean_a: float | None
    mean_b: float | None
    ci_a: tuple[float, float] | None
    ci_b: tuple[float, float] | None
    n_shared: int
    diff: float | None
    diff_ci95: tuple[float, float] | None
    verdict: str

    @property
    def test(self) -> str:
        """The test behind ``diff_ci95``, named for the tables."""
        return f"paired t over {self.n_shared} shared seed{'s' if self.n_shared != 1 else ''}"


def _disjoint(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[1] < b[0] or b[1] < a[0]


def compare(row_a: AggregatedRow, row_b: AggregatedRow, metric: str, level: float = 0.95) -> Comparison:
    """Row A against row B on ``metric``: both rows' intervals, and the paired difference
    over the (seed, quant seed) pairs both rows have the metric for."""
    va, vb = row_a.values(metric), row_b.values(metric)
    shared = [s for s in va if s in vb]
    diffs = [va[s] - vb[s] for s in shared]
    ci_a, ci_b = row_a.ci95(metric), row_b.ci95(metric)
    diff_ci = t_interval(diffs, level) if diffs else None
    if ci_a is not None and ci_b is not None and _disjoint(ci_a, ci_b):
        verdict = "separate"
    elif diff_ci is not None and (diff_ci[0] > 0 or diff_ci[1] < 0):
        verdict = "paired"
    elif (ci_a is not None and ci_b is not None) or diff_ci is not None:
        verdict = "overlap"
    else:
        verdict = "n/a"
    return Comparison(metric=metric, mean_a=row_a.mean(metric), mean_b=row_b.mean(metric), ci_a=ci_a,
                      ci_b=ci_b, n_shared=len(shared), diff=statistics.fmean(diffs) if diffs else None,
                      diff_ci95=diff_ci, verdict=verdict)


def best_row(rows: Sequence[AggregatedRow], metric: str) -> AggregatedRow | None:
    """The row with the best mean of ``metric`` (None when no row has it)."""
    have = [r for r in rows if r.mean(metric) is not None]
    if not have:
        return None
    sign = 1 if lower_is_better(metric) else -1
    return min(have, key=lambda r: sign * r.mean(metric))


def vs_best(rows: Sequence[AggregatedRow], metric: str) -> list[str | None]:
    """For each row, against the best row of its model on ``metric``: "best" for that row,
    else the verdict of ``compare(row, best, metric)``; None where the row lacks the metric."""
    best = {m: best_row([r for r in rows if r.model == m], metric) for m in {r.model for r in rows}}
    out: list[str | None] = []
    for r in rows:
        b = best[r.model]
        if r.mean(metric) is None or b is None:
            out.append(None)
        else:
            out.append("best" if r is b else compare(r, b, metric).verdict)
    return out
