"""``genq-report SWEEP_DIR... --out DIR``: tables (Markdown, CSV, LaTeX) and figures
(quality vs bits, quality-vs-speed Pareto front, a montage of sample grids) from every
``result.json`` below the given folders. Failed runs are listed, not tabulated."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from genq.report.figures import plot_pareto, plot_quality_vs_bits, sample_montage
from genq.report.latex import latex_table
from genq.report.tables import markdown_table, write_csv
from genq.tracking.record import find_records, read_record


def build_report(dirs: list[str], out: str | Path) -> dict[str, Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    records, grids, failed = [], [], []
    for path in find_records(*dirs):
        record = read_record(path)
        if record.get("status", "ok") != "ok":
            failed.append((path, record.get("error", "")))
            continue
        records.append(record)
        if (path.parent / "samples.png").exists():
            grids.append((f"{record['model']} {record['quant']['recipe']} ({path.parent.name})",
                          path.parent / "samples.png"))
    for path, error in failed:
        print(f"genq-report: skipped failed run {path.parent}: {error}", file=sys.stderr)
    if not records:
        raise SystemExit(f"genq-report: no finished result.json under {' '.join(dirs)}")
    records.sort(key=lambda r: (r["model"], r["quant"]["method"] != "fp", r["quant"]["recipe"]))
    written = {"md": out / "table.md", "csv": out / "table.csv", "tex": out / "table.tex"}
    written["md"].write_text(markdown_table(records))
    write_csv(records, written["csv"])
    written["tex"].write_text(latex_table(records))
    written["bits"] = plot_quality_vs_bits(records, out / "quality_vs_bits.png")
    written["pareto"] = plot_pareto(records, out / "pareto.png")
    montage = sample_montage(grids, out / "samples_montage.png")
    if montage:
        written["montage"] = montage
    print(f"genq-report: {len(records)} runs ({len(failed)} failed) -> {out}")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="genq-report", description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="+", help="sweep or run folders holding result.json files")
    parser.add_argument("--out", required=True, help="folder for the tables and figures")
    args = parser.parse_args(argv)
    build_report(args.dirs, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
