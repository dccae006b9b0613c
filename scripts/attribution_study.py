"""Collect the attribution study (scripts/reproduce_attribution.sh) into results/<study>/:

- ``attribution_validation.json``: per model and metric, the held-out Spearman of every
  seed, their mean and t-interval, and the held-out configurations per seed (``n_configs``);
- ``pareto.csv`` / ``pareto.md``: per model, the allocator (``quant=auto``) at each budget
  and every uniform recipe, with ``effective_w_bits``, ``fid``, ``qfid``, ``lpips_vs_fp``
  (mean over seeds) and their ``_ci95`` (t-interval over seeds; with one seed the run's own
  bootstrap interval), and for each allocator row whether it beats every uniform recipe of
  equal or larger effective weight bits on qFID with separated intervals;
- ``maps.md``: per model and seed, the fitted qFID effects summed per block and per window;
- ``views.md``: per class (class-conditional models) or latent-norm quartile (GANs), the LPIPS
  and the cells that matter most (``genq.analysis.attribution.views``);
- the attribution maps and held-out scatter plots of seed 0, and ``records/``.

    python scripts/attribution_study.py <sweep dir> --out results/attribution
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from genq.report.aggregate import t_interval
from genq.tracking.record import finished_records

METRICS = ("fid", "qfid", "lpips_vs_fp")
Attributions = dict[str, dict[str, dict[str, Any]]]     # model -> seed folder -> attribution.json


def attribution_files(sweep: Path) -> list[Path]:
    return sorted(sweep.glob("attribution/seed*/*/attribution.json"))


def load_attributions(sweep: Path) -> Attributions:
    """Every seed's attribution.json, by model and seed folder (each model's own file: a seed's
    attribution_validation.json holds only the models of the last genq-analyze call that
    wrote into that folder)."""
    out: Attributions = defaultdict(dict)
    for path in attribution_files(sweep):
        out[path.parent.name][path.parent.parent.name] = json.loads(path.read_text())
    return dict(sorted(out.items()))


def validation(attributions: Attributions) -> list[dict[str, Any]]:
    per: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for per_seed in attributions.values():
        for att in per_seed.values():
            for metric, v in sorted(att["validation"].items()):
                per[(att["model"], metric)].append({"seed": att["seed"], **v})
    out = []
    for (model, metric), rows in sorted(per.items()):
        rho = [r["spearman"] for r in rows if r["spearman"] is not None]
        ci = t_interval(rho)
        out.append({"model": model, "metric": metric,
                    "spearman": statistics.fmean(rho) if rho else None,
                    "spearman_ci95": list(ci) if ci else None,
                    "spearman_per_seed": {str(r["seed"]): r["spearman"] for r in rows},
                    "n_configs": min(r["n_configs"] for r in rows), "n_seeds": len(rows)})
    return out


def _key(record: dict[str, Any]) -> tuple[str, str, float | None]:
    q = record["quant"]
    alloc = q.get("allocator")
    if alloc:
        return record["model"], "auto", float(alloc["budget"]["value"])
    return record["model"], q["recipe"], None


def pareto(sweep: Path) -> list[dict[str, Any]]:
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for _, record in finished_records(sweep / "pareto"):
        groups[_key(record)].append(record)
    rows = []
    for (model, recipe, budget), records in sorted(groups.items(), key=lambda kv: (kv[0][0], str(kv[0][1]), kv[0][2] or 0)):
        bits = statistics.fmean(r["quant"]["effective_w_bits"] for r in records)
        row: dict[str, Any] = {"model": model, "budget": budget if budget is not None else round(bits, 4),
                               "recipe": recipe, "n_seeds": len(records), "effective_w_bits": round(bits, 4)}
        for m in METRICS:
            values = [r["metrics"][m] for r in records if r["metrics"].get(m) is not None]
            row[m] = statistics.fmean(values) if values else None
            ci = t_interval(values) if len(values) > 1 else (
                records[0]["metrics"].get(f"{m}_ci95") if values else None)
            row[f"{m}_ci95"] = list(ci) if ci else None
        if recipe == "auto":
            row["predicted_qfid"] = statistics.fmean(r["quant"]["allocator"].get("predicted_qfid", float("nan"))
                                                     for r in records)
        rows.append(row)
    for row in rows:
        if row["recipe"] != "auto" or row["qfid_ci95"] is None:
            continue
        rivals = [r for r in rows if r["model"] == row["model"] and r["recipe"] != "auto"
                  and r["recipe"] != "fp32" and r["effective_w_bits"] >= row["effective_w_bits"]]
        row["uniform_rivals"] = " ".join(r["recipe"] for r in rivals)
        row["beats_all_separated"] = all(r["qfid_ci95"] is not None and row["qfid_ci95"][1] < r["qfid_ci95"][0]
                                         for r in rivals) if rivals else None
    return rows


def write(rows: list[dict[str, Any]], out: Path) -> None:
    cols = list(dict.fromkeys(k for r in rows for k in r))
    with open(out.with_suffix(".csv"), "w", newline="") as f:
        w = csv.DictWriter(f, cols, restval="")
        w.writeheader()
        for r in rows:
            w.writerow({k: json.dumps(v) if isinstance(v, list) else v for k, v in r.items()})

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        if isinstance(v, list):
            return "[" + ", ".join(f"{x:.4g}" for x in v) + "]"
        return "-" if v is None else str(v)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in cols) + " |" for r in rows]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")


def maps(attributions: Attributions) -> str:
    """Markdown: per model and seed, the fitted qFID effects of the first quantized option summed
    per group (block or layer) and per window, as values and as shares of the total."""
    lines = []
    for model_dir, per_seed in attributions.items():
        first = next(iter(per_seed.values()))
        option = first["options"][1]
        lines += [f"## {model_dir}: qFID effect of keeping a cell FP, option {option}", "",
                  "| group or window | " + " | ".join(per_seed) + " |", "|---|" + "---|" * len(per_seed)]
        sums: dict[str, list[float]] = defaultdict(list)
        totals = []
        for a in per_seed.values():
            by: dict[str, float] = defaultdict(float)
            for cell, effect in zip(a["cells"], a["effects"]["qfid"]["effects"]):
                by[cell["group"]] += effect[1]
                by[f"window [{cell['start']},{cell['end']})"] += effect[1]
            totals.append(sum(e[1] for e in a["effects"]["qfid"]["effects"]))
            for k in by:
                sums[k].append(by[k])
        for k, values in sums.items():
            lines.append(f"| {k} | " + " | ".join(f"{v:.2f} ({v / t:.0%})" for v, t in zip(values, totals)) + " |")
        other = [sum(e[2] for e in a["effects"]["qfid"]["effects"]) for a in per_seed.values()]
        lines += ["| total | " + " | ".join(f"{t:.2f}" for t in totals) + " |",
                  f"| total, option {first['options'][2]} | " + " | ".join(f"{t:.3f}" for t in other) + " |", ""]
    return "\n".join(lines)


def views(attributions: Attributions) -> str:
    """Markdown: per model with a per-class or per-latent view, each group's LPIPS under the
    first quantized option (mean over seeds), its held-out Spearman and the cells with the
    largest effects (per seed), from each seed's ``views``."""
    lines = []
    for model_dir, per_seed in attributions.items():
        per_seed = {k: a for k, a in per_seed.items() if (a.get("views") or {}).get("groups")}
        if not per_seed:
            continue
        first = next(iter(per_seed.values()))
        option = first["options"][1]
        lines += [f"## {model_dir}: {first['views']['kind']} view, LPIPS vs FP, option {option}", "",
                  "| group | samples | LPIPS at uniform " + option + " (mean over seeds) | held-out Spearman per seed "
                  "| top cells per seed (effect) |", "|---|---|---|---|---|"]
        for group in first["views"]["groups"]:
            gs = [a["views"]["groups"].get(group, {}) for a in per_seed.values()]
            lpips = [g["uniform_lpips"]["1"] for g in gs if g.get("uniform_lpips")]
            rho = " / ".join(f"{g['heldout_spearman']:.2f}" if g.get("heldout_spearman") is not None else "-" for g in gs)
            tops = " / ".join(", ".join(f"{t['cell']} ({t['effect']:.3f})" for t in g.get("top_cells", [])[:2]) or "-"
                              for g in gs)
            n = "/".join(str(g.get("n_samples", "-")) for g in gs)
            lines.append(f"| {group} | {n} | {statistics.fmean(lpips):.3f} | {rho} | {tops} |" if lpips else
                         f"| {group} | {n} | - | {rho} | {tops} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("sweep", type=Path)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    attributions = load_attributions(args.sweep)
    (args.out / "attribution_validation.json").write_text(json.dumps(validation(attributions), indent=2) + "\n")
    write(pareto(args.sweep), args.out / "pareto")
    (args.out / "maps.md").write_text(maps(attributions))
    (args.out / "views.md").write_text(views(attributions))
    for png in sorted(args.sweep.glob("attribution/seed0/*/attribution*.png")):
        shutil.copy(png, args.out / f"{png.parent.name}_{png.name}")
    # what the tables were made of: each seed's fitted attribution and every finished run's record
    shutil.rmtree(args.out / "records", ignore_errors=True)
    for src in attribution_files(args.sweep):
        dest = args.out / "records" / "attribution" / src.parent.parent.name / src.parent.name
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, dest / src.name)
    for path, _ in finished_records(args.sweep / "pareto"):
        dest = args.out / "records" / "pareto" / path.parent.relative_to(args.sweep / "pareto")
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, dest / path.name)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
