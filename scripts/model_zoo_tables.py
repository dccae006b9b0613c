"""Tables and figure of the model-zoo study (issue 17) from the sweeps of
scripts/reproduce_model_zoo.sh: copies every finished record (plus those of ``--with`` folders,
filtered to the study's recipes) to ``<out>/records``, and writes ``summary.md``/``summary.csv``
(per model and recipe: FID, qFID and LPIPS vs FP as mean ± half-width of the 95% t-interval
over seeds, FID over the model's FP FID), ``guidance.md`` (the DiT against guidance scale) and
``qfid_by_model.png``.

    python scripts/model_zoo_tables.py multirun/model_zoo --out results/model_zoo \
        --with results/digits_bits/seeds/records/ddpm_ptq results/ptq_methods/seeds/records/ddpm_ptq \
               results/qat/seeds/records/ddpm_qat
"""

from __future__ import annotations

import argparse
import csv
import re
import shutil
from pathlib import Path
from typing import Any

from genq.report.aggregate import AggregatedRow, aggregate
from genq.tracking.record import finished_records

MODELS = ("ddpm_digits", "dit_digits", "dcgan_digits", "stylegan_digits")
METRICS = (("FID", "fid"), ("qFID", "qfid"), ("LPIPS vs FP", "lpips_vs_fp"))
NAIVE = ("fp32", "w8a8", "w4a8", "w4a4")
#: the recipes taken from ``--with`` folders (the sweeps' own records are all taken)
RECIPES = NAIVE + ("w8a8_qdiffusion", "w4a8_qdiffusion", "w4a4_qdiffusion", "qat_lsq_w4a4",
                   "qat_lora_w4a4")


def recipe(record: dict[str, Any]) -> str:
    return record["quant"].get("recipe") or record["quant"].get("method", "?")


def guidance(record: dict[str, Any]) -> float | None:
    """Classifier-free guidance scale of a class-conditional model's run; None for the
    unconditional ones (whose config still holds the schema's default)."""
    if record.get("model") != "dit_digits":
        return None
    return record.get("guidance_scale", ((record.get("config") or {}).get("model") or {}).get("guidance_scale"))


def kind(name: str) -> str:
    """FP, naive min-max, best PTQ (a reconstruction recipe) or QAT, from the recipe label."""
    if name == "fp32":
        return "FP"
    return "naive" if name in NAIVE else "QAT" if name.startswith("qat") else "best PTQ"


def bits(name: str) -> str:
    """The WxAy head of a recipe label (FP32 for fp32)."""
    found = re.search(r"w\d+a\d+", name)
    return "FP32" if name == "fp32" or not found else found.group(0).upper()


def _order(row: AggregatedRow) -> tuple:
    name = recipe(row.record)
    return (MODELS.index(row.model) if row.model in MODELS else 9, guidance(row.record) or 1,
            ("FP", "naive", "best PTQ", "QAT").index(kind(name)),
            ("FP32", "W8A8", "W4A8", "W4A4").index(bits(name)) if bits(name) in ("FP32", "W8A8", "W4A8", "W4A4") else 9,
            name, switches(row.record))


def switches(record: dict[str, Any]) -> str:
    """The reconstruction settings an ablation varies, as ``key=value`` pairs."""
    rec = (record["quant"].get("reconstruction") or {})
    config = (((record.get("config") or {}).get("quant") or {}).get("reconstruction") or {})
    keys = ("learn_act_scale", "bn_reestimate", "bias_correction")
    return ", ".join(f"{k}={config[k]}" for k in keys if k in config and rec) or "-"


def summary(rows: list[AggregatedRow], guided: bool,
            settings: bool = False) -> tuple[str, list[dict[str, Any]]]:
    """Markdown and CSV rows: one line per (model, recipe[, guidance]) with the FID ratio to the
    FP row of the same model and guidance; ``settings`` adds the reconstruction switches."""
    fp = {(r.model, guidance(r.record)): r.mean("fid") for r in rows if recipe(r.record) == "fp32"}
    head = ["model"] + (["guidance"] if guided else []) + ["recipe"] + (["settings"] if settings else []) \
        + ["kind", "bits", "k seeds"] \
        + [name for name, _ in METRICS] + ["FID / FP FID"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    table = []
    for row in sorted(rows, key=_order):
        name = recipe(row.record)
        base = fp.get((row.model, guidance(row.record)))
        ratio = None if base in (None, 0) or row.mean("fid") is None else row.mean("fid") / base
        cells = [row.model] + ([f"{guidance(row.record):g}"] if guided else []) + \
            [name] + ([switches(row.record)] if settings else []) + \
            [kind(name), bits(name), str(row.n_seeds)] + [row.cell(m) for _, m in METRICS] + \
            ["-" if ratio is None else f"{ratio:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
        entry = {"model": row.model, "guidance_scale": guidance(row.record), "recipe": name,
                 "kind": kind(name), "bits": bits(name), "n_seeds": row.n_seeds,
                 "fid_over_fp_fid": ratio}
        for _, m in METRICS:
            s = row.metrics.get(m)
            entry[m] = None if s is None else s.mean
            entry[f"{m}_ci95"] = None if s is None or s.ci95 is None else list(s.ci95)
        table.append(entry)
    return "\n".join(lines) + "\n", table


def figure(rows: list[AggregatedRow], path: Path) -> None:
    """qFID (mean, 95% t-interval over seeds) per bits, one panel per model, naive vs best vs QAT."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = [m for m in MODELS if any(r.model == m for r in rows)]
    fig, axes = plt.subplots(1, len(models), figsize=(4.2 * len(models), 3.8), squeeze=False)
    order = ["W8A8", "W4A8", "W4A4"]
    style = {"naive": ("o", -0.12), "best PTQ": ("s", 0.0), "QAT": ("^", 0.12)}
    for ax, model in zip(axes[0], models):
        for row in (r for r in rows if r.model == model and (guidance(r.record) or 1) == 1):
            name = recipe(row.record)
            m = row.metrics.get("qfid")
            if m is None or kind(name) == "FP" or bits(name) not in order:
                continue
            mk, dx = style[kind(name)]
            err = None if m.ci95 is None else [[m.mean - m.ci95[0]], [m.ci95[1] - m.mean]]
            ax.errorbar(order.index(bits(name)) + dx, m.mean, yerr=err, fmt=mk, capsize=2,
                        color={"naive": "C0", "best PTQ": "C1", "QAT": "C2"}[kind(name)])
        ax.set_xticks(range(3), order)
        ax.set_yscale("log")
        ax.set_title(model)
        ax.set_ylabel("qFID vs FP (mean, 95% CI over seeds)")
        for k, (mk, _) in style.items():
            ax.plot([], [], mk, color={"naive": "C0", "best PTQ": "C1", "QAT": "C2"}[k], label=k)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweeps", help="the sweep folder of scripts/reproduce_model_zoo.sh")
    parser.add_argument("--with", dest="extra", nargs="*", default=[],
                        help="further record folders (committed seed records of the same protocol)")
    parser.add_argument("--out", default="results/model_zoo")
    args = parser.parse_args()
    out = Path(args.out)
    shutil.rmtree(out / "records", ignore_errors=True)
    # each --with folder keeps its own subfolder (named after its path: two folders may share a name)
    roots = [(Path(args.sweeps), "")] + [(Path(p), "_".join(Path(p).parts[-4:])) for p in args.extra]
    n = 0
    for root, prefix in roots:
        for path, record in finished_records(root):
            if prefix and recipe(record) not in RECIPES or record.get("model") not in MODELS:
                continue
            dest = out / "records" / prefix / path.parent.relative_to(root)
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest / path.name)
            n += 1
    print(f"{n} records")
    found = list(finished_records(out / "records"))
    records = [r for p, r in found if "ablation" not in p.parts]
    main_rows = aggregate(r for r in records if (guidance(r) or 1) == 1)
    text, table = summary(main_rows, guided=False)
    (out / "summary.md").write_text(text)
    with open(out / "summary.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)
    guided = aggregate(r for r in records if r.get("model") == "dit_digits" and
                       recipe(r) in ("fp32", "w8a8", "w4a8") and guidance(r) is not None)
    gtext, _ = summary(guided, guided=True)
    (out / "guidance.md").write_text(gtext)
    ablated = [r for p, r in found if "ablation" in p.parts]
    if ablated:  # the W8A8 ablations next to the naive and full-method W8A8 rows of their models
        models = {r.get("model") for r in ablated}
        ref = [r for r in records if r.get("model") in models and bits(recipe(r)) in ("FP32", "W8A8")
               and (guidance(r) or 1) == 1]
        atext, _ = summary(aggregate(ref + ablated), guided=False, settings=True)
        (out / "ablation.md").write_text(atext)
        print(atext)
    figure(main_rows, out / "qfid_by_model.png")
    print(text)
    print(gtext)


if __name__ == "__main__":
    main()
