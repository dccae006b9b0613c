"""Markdown and CSV tables of result records, and a study folder made from a sweep: records
and sample grids copied under ``records/``, tables beside them. ``table.md``/``table.csv``
are aggregated over seeds (genq.report.seed_table, one row per setting); ``records.csv``
keeps one row per record (run), with its seeds."""

from __future__ import annotations

import csv
import shutil
import sys
from pathlib import Path
from typing import Any

from genq.report.aggregate import aggregate, seed_key
from genq.report.columns import ALWAYS_SHOWN, KEY_COLUMNS, METRICS, TAIL_COLUMNS, Column, metric_getter
from genq.report.seed_table import aggregated_markdown, write_aggregated_csv
from genq.tracking.record import finished_records

# The record-level columns every table had before seed aggregation.
COLUMNS: tuple[Column, ...] = (KEY_COLUMNS
                               + tuple((name, metric_getter(key)) for name, key in METRICS
                                       if key in ALWAYS_SHOWN)
                               + TAIL_COLUMNS)
SEED_COLUMNS: tuple[Column, ...] = (("seed", lambda r: seed_key(r)[0]),
                                    ("quant seed", lambda r: seed_key(r)[1]))


def record_columns(records: list[dict[str, Any]]) -> tuple[Column, ...]:
    """COLUMNS with the other metrics of METRICS that some record has, then each record's
    seed and quant seed."""
    metrics = tuple((name, metric_getter(key)) for name, key in METRICS if key in ALWAYS_SHOWN
                    or any(r["metrics"].get(key) is not None for r in records))
    return KEY_COLUMNS + metrics + TAIL_COLUMNS + SEED_COLUMNS


def sort_key(record: dict[str, Any]) -> tuple:
    """Tables list records by model, FP first, then recipe, granularity, observer and seeds."""
    q = record["quant"]
    seeds = tuple((s is None, s if isinstance(s, (int, float)) else 0, str(s)) for s in seed_key(record))
    return (record["model"], q["method"] != "fp", q["recipe"], str(q.get("granularity")),
            str(q.get("observer")), seeds)


def rows(records: list[dict[str, Any]], columns: tuple[Column, ...] = COLUMNS) -> list[list[Any]]:
    return [[get(r) for _, get in columns] for r in records]


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def markdown_table(records: list[dict[str, Any]], columns: tuple[Column, ...] | None = None) -> str:
    """One row per record; ``columns`` default to ``record_columns(records)``."""
    columns = columns or record_columns(records)
    head = [name for name, _ in columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows(records, columns)]
    return "\n".join(lines) + "\n"


def write_csv(records: list[dict[str, Any]], path: Path, columns: tuple[Column, ...] | None = None) -> None:
    """One row per record; ``columns`` default to ``record_columns(records)``."""
    columns = columns or record_columns(records)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([name for name, _ in columns])
        writer.writerows(rows(records, columns))


def collect(sweep_dirs: list[str], out: str | Path, rank_metric: str = "fid") -> list[dict[str, Any]]:
    """Copy every record (and its samples.png) below ``sweep_dirs`` into ``out/records`` and
    write ``out/table.md`` and ``out/table.csv`` (aggregated over seeds, rows ranked on
    ``rank_metric``) and ``out/records.csv`` (one row per record); return the records."""
    out = Path(out)
    records = []
    for root in sweep_dirs:
        for path, record in finished_records(root):
            records.append(record)
            _copy_run(path, out / "records" / path.parent.relative_to(root))
    records.sort(key=sort_key)
    out.mkdir(parents=True, exist_ok=True)
    aggregated = aggregate(records)
    (out / "table.md").write_text(aggregated_markdown(aggregated, rank_metric))
    write_aggregated_csv(aggregated, out / "table.csv", rank_metric)
    write_csv(records, out / "records.csv")
    return records


def _copy_run(path: Path, dest: Path) -> None:
    """Copy a run's result.json and samples.png to ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(path, dest / path.name)
    if (path.parent / "samples.png").exists():
        shutil.copy2(path.parent / "samples.png", dest / "samples.png")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: python -m genq.report.tables SWEEP_DIR... OUT_DIR")
    collect(sys.argv[1:-1], sys.argv[-1])
