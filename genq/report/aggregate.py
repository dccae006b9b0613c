"""Seed aggregation: result records that differ only in their seeds (``seed``, the sampling
noise bank; ``quant.seed``, what the quantizer draws) make one row, and each numeric metric
of the row is summarised over the seeds by its count k, mean, sample standard deviation
and 95% t-interval ``mean ± t_{0.975, k-1} · sd / sqrt(k)``. One seed gives no standard
deviation and no interval (never a made-up one). The per-seed values are kept, keyed by
(seed, quant seed), for paired comparisons (genq.report.compare)."""

from __future__ import annotations

import copy
import json
import math
import statistics
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from scipy.stats import t as student_t

# (seed, quant seed); the quant seed is None in records written before ``quant.seed``.
SeedKey = tuple[Any, Any]


def t_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float] | None:
    """The t-interval ``mean ± t_{(1+level)/2, k-1} · sd / sqrt(k)`` of the mean of
    ``values`` (sd the sample standard deviation); None with fewer than two values."""
    k = len(values)
    if k < 2:
        return None
    mean = statistics.fmean(values)
    half = float(student_t.ppf((1 + level) / 2, k - 1)) * statistics.stdev(values) / math.sqrt(k)
    return (mean - half, mean + half)


@dataclass(frozen=True)
class MetricSummary:
    """One metric of a row over its seeds: ``values`` per (seed, quant seed), their mean,
    sample standard deviation (None with one seed) and 95% t-interval (None with one seed)."""

    values: dict[SeedKey, float]
    mean: float
    sd: float | None
    ci95: tuple[float, float] | None

    @property
    def k(self) -> int:
        """The number of seeds that have this metric."""
        return len(self.values)

    @property
    def half_width(self) -> float | None:
        return None if self.ci95 is None else (self.ci95[1] - self.ci95[0]) / 2

    @classmethod
    def of(cls, values: dict[SeedKey, float]) -> MetricSummary:
        xs = list(values.values())
        return cls(values=dict(values), mean=statistics.fmean(xs),
                   sd=statistics.stdev(xs) if len(xs) > 1 else None, ci95=t_interval(xs))


@dataclass
class AggregatedRow:
    """The runs of one setting over its seeds. ``record`` is a representative run (the
    lowest seed): its model, quant, speed and metric settings (n_samples...) describe the
    row. ``metrics`` holds every metric that is numeric in at least one run."""

    record: dict[str, Any]
    seeds: list[SeedKey]
    metrics: dict[str, MetricSummary]
    records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def n_seeds(self) -> int:
        return len(self.seeds)

    @property
    def model(self) -> str:
        return self.record["model"]

    @property
    def quant(self) -> dict[str, Any]:
        return self.record["quant"]

    def mean(self, metric: str) -> float | None:
        s = self.metrics.get(metric)
        return None if s is None else s.mean

    def sd(self, metric: str) -> float | None:
        s = self.metrics.get(metric)
        return None if s is None else s.sd

    def ci95(self, metric: str) -> tuple[float, float] | None:
        s = self.metrics.get(metric)
        return None if s is None else s.ci95

    def values(self, metric: str) -> dict[SeedKey, float]:
        s = self.metrics.get(metric)
        return {} if s is None else dict(s.values)

    def cell(self, metric: str) -> str:
        """``metric`` as a table cell: ``mean ± half-width`` of the 95% t-interval (3 and 2
        significant digits), the mean alone for one seed, ``-`` when no run measured it."""
        s = self.metrics.get(metric)
        if s is None:
            return "-"
        return f"{s.mean:.3g}" + (f" ± {s.half_width:.2g}" if s.half_width else "")


def seed_key(record: dict[str, Any]) -> SeedKey:
    """(seed, quant seed) of a record; the config's values where the record lacks them."""
    config = record.get("config") or {}
    seed = record.get("seed", config.get("seed"))
    quant_seed = record.get("quant", {}).get("seed", (config.get("quant") or {}).get("seed"))
    return (seed, quant_seed)


def group_key(record: dict[str, Any], ignore: Iterable[tuple[str, ...]] = ()) -> str:
    """What a row is, as canonical JSON: the resolved config without ``seed`` and
    ``quant.seed`` (and the config paths in ``ignore``); for records without a config, the
    model and the quant section without its seed."""
    config = record.get("config")
    if config:
        rest = copy.deepcopy(config)
        rest.pop("seed", None)
        if isinstance(rest.get("quant"), dict):
            rest["quant"].pop("seed", None)
        for path in ignore:
            _drop(rest, path)
        return json.dumps({"config": rest}, sort_keys=True, default=str)
    quant = {k: v for k, v in record.get("quant", {}).items() if k != "seed"}
    return json.dumps({"model": record.get("model"), "quant": quant}, sort_keys=True, default=str)


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _order(key: SeedKey) -> tuple:
    return tuple((s is None, s if _number(s) else 0, str(s)) for s in key)


def _row(records: list[dict[str, Any]]) -> AggregatedRow:
    by_seed: dict[SeedKey, dict[str, Any]] = {}
    for r in records:
        key = seed_key(r)
        if key in by_seed:
            print(f"genq-report: two runs of {r.get('run_id', r.get('model'))} with seeds {key}; "
                  "the second is left out of the aggregate", file=sys.stderr)
            continue
        by_seed[key] = r
    seeds = sorted(by_seed, key=_order)
    names: list[str] = []
    for s in seeds:
        names += [n for n, v in by_seed[s].get("metrics", {}).items() if _number(v) and n not in names]
    metrics = {n: MetricSummary.of({s: float(by_seed[s]["metrics"][n]) for s in seeds
                                    if _number(by_seed[s]["metrics"].get(n))}) for n in names}
    return AggregatedRow(record=by_seed[seeds[0]], seeds=seeds, metrics=metrics,
                         records=[by_seed[s] for s in seeds])


def _drop(config: dict[str, Any], path: tuple[str, ...]) -> None:
    """Remove ``path`` from ``config``, and the sections it leaves empty."""
    node = config.get(path[0])
    if len(path) == 1:
        config.pop(path[0], None)
    elif isinstance(node, dict):
        _drop(node, path[1:])
        if not node:
            config.pop(path[0])


def _leaves(d: dict[str, Any], prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    out: dict[tuple[str, ...], Any] = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(_leaves(v, prefix + (k,)))
        else:
            out[prefix + (k,)] = json.dumps(v, sort_keys=True, default=str)
    return out


def schema_additions(records: Sequence[dict[str, Any]]) -> set[tuple[str, ...]]:
    """Config paths that some records lack and that hold one value wherever present: options
    added to the schema after the older records were written (e.g. ``bench.conv_zero_point``),
    which the older runs ran at what is now the default. Left in the key, they would split
    one setting's seeds into two rows. (A path whose values differ between records is a real
    difference and stays in the key.)"""
    leaves = [_leaves(r["config"]) for r in records if r.get("config")]
    if len(leaves) < 2:
        return set()
    values: dict[tuple[str, ...], set[str]] = {}
    for leaf in leaves:
        for path, v in leaf.items():
            values.setdefault(path, set()).add(v)
    return {path for path, vs in values.items()
            if len(vs) == 1 and any(path not in leaf for leaf in leaves)}


def aggregate(records: Iterable[dict[str, Any]]) -> list[AggregatedRow]:
    """One row per setting (``group_key``, ignoring :func:`schema_additions`), in the order
    each setting first appears in ``records``; the row's metrics summarised over the seeds of
    its runs. Schema additions are found per model, because a model-specific option (say
    ``model.train.r1_gamma``) holds different values in different models' records."""
    records = list(records)
    by_model: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        by_model.setdefault(str(r.get("model")), []).append(r)
    ignore = {model: schema_additions(rs) for model, rs in by_model.items()}
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault(group_key(r, ignore[str(r.get("model"))]), []).append(r)
    return [_row(group) for group in groups.values()]


def as_rows(items: Sequence[dict[str, Any] | AggregatedRow]) -> list[AggregatedRow]:
    """``items`` as aggregated rows: rows as they are, records aggregated."""
    kinds = {isinstance(i, AggregatedRow) for i in items}
    if kinds == {True, False}:
        raise TypeError("as_rows: a mix of records and aggregated rows")
    return list(items) if kinds == {True} else aggregate(items)  # type: ignore[arg-type]
