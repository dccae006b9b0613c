"""The committed studies restated on seeds: pick, from the sweeps of
scripts/reproduce_seeds.sh, the rows each study's findings rest on, copy their records to
results/<study>/seeds/records and write the seed-aggregated report there (genq-report:
mean and 95% t-interval over seeds, pairwise comparisons in compare.md).

    python scripts/seed_studies.py multirun/seeds --out results
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from genq.report.aggregate import aggregate
from genq.report.cli import build_report
from genq.tracking.record import finished_records

BITS = ("fp32", "w8a16", "w8a8", "w6a6", "w4a16", "w4a8", "w4a4", "w2a8")
MSE = "mse"          # a row spec (recipe, "mse"): the recipe with MSE-searched weight and activation ranges
MSE_ACT = "mse_act"  # (recipe, "mse_act"): MSE-searched activation ranges, min-max weights
LABELS = {MSE: "MSE weight + act. ranges", MSE_ACT: "MSE act. ranges"}

# study -> model -> rows, each a recipe (min-max observers as in the recipe) or (recipe, "mse")
STUDIES: dict[str, dict[str, tuple]] = {
    "digits_bits": {"ddpm_digits": BITS, "dcgan_digits": BITS},
    "ptq_methods": {
        "ddpm_digits": ("fp32", "w4a8", "w4a8_last", "w4a8_qdiff_calib", "w4a8_brecq", "w4a8_qdiffusion",
                        "w4a4", ("w4a4", MSE), ("w4a4", MSE_ACT), "w4a4_tdq", "w4a4_qdiffusion"),
        "dcgan_digits": ("fp32", "w4a8", "w4a4", "w4a8_gan_brecq", "w4a4_gan_brecq")},
    "qat": {
        "ddpm_digits": ("fp32", "w4a4", ("w4a4", MSE), ("w4a4", MSE_ACT), "w4a4_tdq", "w4a4_qdiffusion",
                        "qat_lsq_w4a4", "qat_lora_w4a4",
                        "w2a8", ("w2a8", MSE), "qat_lsq_w2a8"),
        "dcgan_digits": ("fp32", "w4a4", ("w4a4", MSE), "w4a4_gan_brecq", "qat_lsq_w4a4",
                         "w2a8", ("w2a8", MSE), "qat_lsq_w2a8")},
}


def row_of(record: dict) -> tuple[str, str | tuple[str, str]]:
    """(model, row spec) of a record: MSE rows are PTQ runs whose weight and activation
    observers were both switched to ``mse`` on the command line (MSE_ACT: the activation
    observer only)."""
    q = record["quant"]
    # labels derived from the settings (genq.config.label) name the observers; older records do not
    recipe = q["recipe"].removesuffix("_a_mse").removesuffix("_mse")
    if q["method"] == "ptq" and q.get("observer") == MSE and q.get("w_observer") == MSE:
        return record["model"], (recipe, MSE)
    if q["method"] == "ptq" and q.get("observer") == MSE and q.get("w_observer") == "minmax" and recipe in BITS:
        return record["model"], (recipe, MSE_ACT)
    return record["model"], recipe


SUMMARY = (("FID", "fid"), ("KID", "kid"), ("qFID", "qfid"), ("LPIPS vs FP", "lpips_vs_fp"),
           ("precision", "precision"), ("recall", "recall"), ("coverage", "coverage"))


def summary_markdown(study: str, rows: list) -> str:
    """The compact table the study's README quotes: per row, mean ± half-width of the 95%
    t-interval over seeds (k seeds) of the quality metrics, rows in the study's order."""
    order = {key: i for i, key in enumerate((model, spec) for model, specs in STUDIES[study].items()
                                            for spec in specs)}
    head = "| model | row | k | " + " | ".join(name for name, _ in SUMMARY) + " |"
    lines = [head, "|" + "---|" * (3 + len(SUMMARY))]
    for row in sorted(rows, key=lambda r: order.get(row_of(r.record), len(order))):
        model, spec = row_of(row.record)
        label = spec if isinstance(spec, str) else f"{spec[0]} ({LABELS[spec[1]]})"
        cells = [row.cell(metric) for _, metric in SUMMARY]
        lines.append(f"| {model} | {label} | {row.n_seeds} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def bootstrap_vs_seeds(rows: list, metric: str = "fid") -> str:
    """Per row: the sd of ``metric`` between seeds against the sd one run's bootstrap
    interval implies (its 95% width / 3.92), averaged over the seeds: how much of the seed
    spread is the draw of the n samples alone."""
    lines = [f"| model | row | k | {metric} sd between seeds | bootstrap sd within a run (mean) |",
             "|---|---|---|---|---|"]
    for row in rows:
        m = row.metrics.get(metric)
        widths = [r["metrics"][f"{metric}_ci95"] for r in row.records if r["metrics"].get(f"{metric}_ci95")]
        if m is None or m.sd is None or not widths:
            continue
        model, spec = row_of(row.record)
        label = spec if isinstance(spec, str) else f"{spec[0]} ({LABELS[spec[1]]})"
        boot = sum((hi - lo) / 3.92 for lo, hi in widths) / len(widths)
        lines.append(f"| {model} | {label} | {row.n_seeds} | {m.sd:.3g} | {boot:.3g} |")
    return "\n".join(lines) + "\n"


BEGIN, END = "<!-- seeds-summary -->", "<!-- /seeds-summary -->"


def paste_summary(readme: Path, summary: str) -> None:
    """Put ``summary`` between the README's seeds-summary markers (regenerated, not typed)."""
    if not readme.exists():
        return
    text = readme.read_text()
    if BEGIN in text and END in text:
        before, rest = text.split(BEGIN, 1)
        readme.write_text(before + BEGIN + "\n" + summary + rest[rest.index(END):])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweeps", help="the sweep folder of scripts/reproduce_seeds.sh")
    parser.add_argument("--out", default="results", help="the results folder")
    parser.add_argument("--rank-metric", default="fid")
    args = parser.parse_args()
    finished = finished_records(args.sweeps)
    for study, models in STUDIES.items():
        dest = Path(args.out) / study / "seeds"
        shutil.rmtree(dest / "records", ignore_errors=True)
        copied = 0
        for path, record in finished:
            model, spec = row_of(record)
            if spec in models.get(model, ()):
                run = path.parent.relative_to(args.sweeps)
                (dest / "records" / run).mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, dest / "records" / run / path.name)
                copied += 1
        print(f"{study}: {copied} records")
        if copied:
            build_report([str(dest / "records")], dest, rank_metric=args.rank_metric)
            rows = aggregate(record for _, record in finished_records(dest / "records"))
            summary = summary_markdown(study, rows)
            (dest / "summary.md").write_text(summary)
            (dest / "bootstrap_vs_seeds.md").write_text(bootstrap_vs_seeds(rows))
            paste_summary(dest.parent / "README.md", summary)


if __name__ == "__main__":
    main()
