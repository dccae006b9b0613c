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

from genq.report.cli import build_report
from genq.tracking.record import finished_records

BITS = ("fp32", "w8a16", "w8a8", "w6a6", "w4a16", "w4a8", "w4a4", "w2a8")
MSE = "mse"          # a row spec (recipe, "mse"): the recipe with MSE-searched weight and activation ranges

# study -> model -> rows, each a recipe (min-max observers as in the recipe) or (recipe, "mse")
STUDIES: dict[str, dict[str, tuple]] = {
    "digits_bits": {"ddpm_digits": BITS, "dcgan_digits": BITS},
    "ptq_methods": {
        "ddpm_digits": ("fp32", "w4a8", "w4a8_last", "w4a8_qdiff_calib", "w4a8_brecq", "w4a8_qdiffusion",
                        "w4a4", ("w4a4", MSE), "w4a4_tdq", "w4a4_qdiffusion"),
        "dcgan_digits": ("fp32", "w4a8", "w4a4", "w4a8_gan_brecq", "w4a4_gan_brecq")},
    "qat": {
        "ddpm_digits": ("fp32", "w4a4", ("w4a4", MSE), "w4a4_qdiffusion", "qat_lsq_w4a4", "qat_lora_w4a4",
                        "w2a8", ("w2a8", MSE), "qat_lsq_w2a8"),
        "dcgan_digits": ("fp32", "w4a4", ("w4a4", MSE), "w4a4_gan_brecq", "qat_lsq_w4a4",
                         "w2a8", ("w2a8", MSE), "qat_lsq_w2a8")},
}


def row_of(record: dict) -> tuple[str, str | tuple[str, str]]:
    """(model, row spec) of a record: MSE rows are PTQ runs whose weight and activation
    observers were both switched to ``mse`` on the command line."""
    q = record["quant"]
    recipe = q["recipe"]
    if q["method"] == "ptq" and q.get("observer") == MSE and q.get("w_observer") == MSE:
        return record["model"], (recipe, MSE)
    return record["model"], recipe


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


if __name__ == "__main__":
    main()
