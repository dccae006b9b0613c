"""Classifier vs generator on seeds (results/diagnostics, finding 1, restated for issue 15).

The fraction of FP quality each model keeps under the same min-max PTQ recipe: the digits
classifier's accuracy_Q / accuracy_FP on the 360 held-out digits, calibrated on 256 training
digits drawn with each seed; each generator's FID_FP / FID_Q from the seed-varied records of
results/digits_bits/seeds (1,000 samples, seed = quant.seed = s). Mean and 95% t-interval
over the seeds.

    python scripts/classifier_vs_generator_seeds.py --records results/digits_bits/seeds/records \
        --out results/diagnostics/classifier_vs_generator_seeds
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from genq.analysis.classifier_vs_generator import classifier_kept
from genq.analysis.cli import write_rows
from genq.config import compose_config
from genq.data import load_digits
from genq.metrics import load_feature_extractor
from genq.report.aggregate import t_interval
from genq.tracking.record import finished_records


def _summary(values: list[float]) -> dict[str, float | int | None]:
    ci = t_interval(values)
    return {"k": len(values), "mean": sum(values) / len(values),
            "ci95_low": None if ci is None else ci[0], "ci95_high": None if ci is None else ci[1]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--records", type=Path, required=True)
    p.add_argument("--recipes", nargs="+", default=["w8a8", "w4a8", "w4a4"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--calib", type=int, default=256)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args()
    classifier = load_feature_extractor("digits_classifier").classifier
    train, test = load_digits("train"), load_digits("test")
    per_seed, rows = [], []
    for recipe in args.recipes:
        quant = compose_config(f"quant={recipe}").quant
        kept = []
        for seed in args.seeds:
            pick = torch.randperm(len(train.images), generator=torch.Generator().manual_seed(seed))[:args.calib]
            c = classifier_kept(classifier, quant, train.images[pick], test.images, test.labels)
            per_seed.append({"model": "digits_classifier", "recipe": recipe, "seed": seed, **c})
            kept.append(c["quality_kept"])
        rows.append({"model": "digits_classifier", "recipe": recipe, "measure": "accuracy_Q / accuracy_FP",
                     **_summary(kept)})
    by_model: dict[tuple[str, str], list[float]] = {}
    for _, r in finished_records(args.records):
        if r["quant"]["recipe"] in args.recipes and r["seed"] in args.seeds:
            m = r["metrics"]
            per_seed.append({"model": r["model"], "recipe": r["quant"]["recipe"], "seed": r["seed"],
                             "fid_fp": m["fid_fp"], "fid_q": m["fid"], "quality_kept": m["fid_fp"] / m["fid"]})
            by_model.setdefault((r["model"], r["quant"]["recipe"]), []).append(m["fid_fp"] / m["fid"])
    for (model, recipe), kept in sorted(by_model.items()):
        rows.append({"model": model, "recipe": recipe, "measure": "FID_FP / FID_Q", **_summary(kept)})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_rows(rows, args.out)
    write_rows(per_seed, args.out.with_name(args.out.name + "_per_seed"))
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
