"""Short terminal tables of result records: one run (FP next to quantized), or many."""

from __future__ import annotations

from typing import Any

ROWS = (("FID (vs real)", "fid_fp", "fid"), ("KID (vs real)", "kid_fp", "kid"),
        ("qFID (vs FP)", None, "qfid"), ("LPIPS vs FP", None, "lpips_vs_fp"),
        ("PSNR vs FP [dB]", None, "psnr_vs_fp"))


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def print_run_table(record: dict[str, Any]) -> None:
    m, s, q = record["metrics"], record["speed"], record["quant"]
    label = q["recipe"].upper() if q["method"] != "fp" else "FP32"
    # a user's own quant.recipe is shown with the label derived from the settings
    name = q["recipe"] if q.get("label", q["recipe"]) == q["recipe"] else f"{q['recipe']} [{q['label']}]"
    scoring = (f"{m['n_samples']} samples · features: {m['feature_extractor']}" if "n_samples" in m
               else m.get("scoring", "not scored"))
    print(f"\n{record['model']} · {name} ({q['method']}) · {scoring}")
    print(f"  {'':18s} {'FP32':>12s} {label:>12s}   {label + ' 95% CI (bootstrap)' if 'fid_ci95' in m else ''}")
    for name, fp_key, q_key in ROWS:
        ci = m.get(f"{q_key}_ci95")
        ci_text = f"   [{_fmt(ci[0])}, {_fmt(ci[1])}]" if ci else ""
        print(f"  {name:18s} {_fmt(m.get(fp_key) if fp_key else None):>12s} {_fmt(m.get(q_key)):>12s}{ci_text}")
    for name, a, b in (("precision / recall", "precision", "recall"), ("density / coverage", "density", "coverage")):
        if a in m:
            pair = lambda sfx: f"{_fmt(m.get(a + sfx), 3)} / {_fmt(m.get(b + sfx), 3)}"   # noqa: E731
            print(f"  {name:18s} {pair('_fp'):>12s} {pair(''):>12s}")
    print(f"  {'ms / image':18s} {_fmt(s['latency_ms_per_image_fp']):>12s} "
          f"{_fmt(s['latency_ms_per_image']):>12s}   ({s['backend']}, {s['device']})")
    print(f"  {'model bytes':18s} {s['model_bytes_fp']:>12d} {s['model_bytes']:>12d}")


def print_summary(records: list[dict[str, Any]]) -> None:
    """One line per record: model, recipe, quality and latency."""
    head = (f"{'model':14s} {'recipe':8s} {'FID fp':>8s} {'FID q':>8s} {'KID q':>9s} {'qFID':>8s} "
            f"{'LPIPS':>7s} {'PSNR':>6s} {'ms/img fp':>9s} {'ms/img q':>9s}  backend")
    print(head)
    print("-" * len(head))
    for r in records:
        m, s = r["metrics"], r["speed"]
        print(f"{r['model']:14s} {r['quant']['recipe']:8s} {_fmt(m.get('fid_fp')):>8s} "
              f"{_fmt(m.get('fid')):>8s} {_fmt(m.get('kid'), 3):>9s} {_fmt(m.get('qfid')):>8s} "
              f"{_fmt(m.get('lpips_vs_fp'), 3):>7s} {_fmt(m.get('psnr_vs_fp'), 3):>6s} "
              f"{_fmt(s['latency_ms_per_image_fp'], 3):>9s} {_fmt(s['latency_ms_per_image'], 3):>9s}  "
              f"{s['backend']}")
