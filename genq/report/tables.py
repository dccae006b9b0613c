"""Markdown and CSV tables of result records (one row per record), and a study folder
made from a sweep: records and sample grids copied under ``records/``, tables beside them."""

from __future__ import annotations

import csv
import shutil
import sys
from pathlib import Path
from typing import Any

from genq.tracking.record import finished_records

COLUMNS = (("model", lambda r: r["model"]), ("recipe", lambda r: r["quant"]["recipe"]),
           ("method", lambda r: r["quant"]["method"]),
           ("W", lambda r: r["quant"]["w_bits"] or "fp"), ("A", lambda r: r["quant"]["a_bits"] or "fp"),
           ("granularity", lambda r: r["quant"].get("granularity")),
           ("observer", lambda r: r["quant"].get("observer")),
           ("FID", lambda r: r["metrics"].get("fid")), ("FID FP", lambda r: r["metrics"].get("fid_fp")),
           ("KID", lambda r: r["metrics"].get("kid")), ("qFID", lambda r: r["metrics"].get("qfid")),
           ("LPIPS vs FP", lambda r: r["metrics"].get("lpips_vs_fp")),
           ("PSNR vs FP", lambda r: r["metrics"].get("psnr_vs_fp")),
           ("n", lambda r: r["metrics"].get("n_samples")),
           ("ms/img", lambda r: r["speed"].get("latency_ms_per_image")),
           ("ms/img FP", lambda r: r["speed"].get("latency_ms_per_image_fp")),
           ("backend", lambda r: r["speed"].get("backend")),
           ("bytes", lambda r: r["speed"].get("model_bytes")))


def sort_key(record: dict[str, Any]) -> tuple:
    """Tables list records by model, FP first, then recipe, granularity and observer."""
    q = record["quant"]
    return (record["model"], q["method"] != "fp", q["recipe"], str(q.get("granularity")),
            str(q.get("observer")))


def rows(records: list[dict[str, Any]]) -> list[list[Any]]:
    return [[get(r) for _, get in COLUMNS] for r in records]


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def markdown_table(records: list[dict[str, Any]]) -> str:
    head = [name for name, _ in COLUMNS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows(records)]
    return "\n".join(lines) + "\n"


def write_csv(records: list[dict[str, Any]], path: Path) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([name for name, _ in COLUMNS])
        writer.writerows(rows(records))


def collect(sweep_dirs: list[str], out: str | Path) -> list[dict[str, Any]]:
    """Copy every record (and its samples.png) below ``sweep_dirs`` into ``out/records`` and
    write ``out/table.md`` and ``out/table.csv``."""
    out = Path(out)
    records = []
    for root in sweep_dirs:
        for path, record in finished_records(root):
            records.append(record)
            _copy_run(path, out / "records" / path.parent.relative_to(root))
    records.sort(key=sort_key)
    (out / "table.md").write_text(markdown_table(records))
    write_csv(records, out / "table.csv")
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
