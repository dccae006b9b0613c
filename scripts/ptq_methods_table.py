"""methods.md / methods.csv of results/ptq_methods: one row per record with the PTQ method's
calibration and reconstruction settings, quality vs real data and vs FP, and PTQ time.

    python scripts/ptq_methods_table.py RECORDS_DIR OUT_DIR
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from genq.tracking.record import finished_records


def _calib(q: dict) -> str:
    c = q.get("calibration") or {}
    if not c:
        return "-"
    parts = [f"{c.get('sampler')}({c.get('pairs')} pairs)"]
    if c.get("shortcut_split"):
        parts.append(f"split x{c['shortcut_split']}")
    if c.get("timestep_buckets"):
        parts.append(f"{c['timestep_buckets']} t-buckets")
    return ", ".join(parts)


def _recon(q: dict) -> str:
    r = q.get("reconstruction") or {}
    parts = []
    if r.get("method"):
        parts.append(f"{r['method']} {r['iters']} it" + (" +act" if r.get("learn_act_scale") else ""))
    if r.get("bn_reestimated"):
        parts.append("BN re-est")
    if r.get("bias_correction"):
        parts.append("bias corr")
    return ", ".join(parts) or "-"


def main(records_dir: str, out_dir: str) -> None:
    records = sorted((rec for _, rec in finished_records(records_dir)),
                     key=lambda r: (r["model"], r["quant"]["method"] != "fp", r["quant"]["a_bits"] or 99,
                                    r["quant"]["w_bits"] or 99, r["quant"].get("ptq_s") or 0))
    head = ["model", "recipe", "W", "A", "calibration", "reconstruction", "FID", "FID FP", "KID", "qFID",
            "LPIPS vs FP", "PSNR vs FP", "n", "calib s", "recon s"]
    rows = []
    for r in records:
        q, m = r["quant"], r["metrics"]
        rows.append([r["model"], q["recipe"], q["w_bits"] or "fp", q["a_bits"] or "fp", _calib(q), _recon(q),
                     m.get("fid"), m.get("fid_fp"), m.get("kid"), m.get("qfid"), m.get("lpips_vs_fp"),
                     m.get("psnr_vs_fp"), m.get("n_samples"), q.get("calibration_s"), q.get("reconstruction_s")])
    fmt = lambda v: "-" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    out = Path(out_dir)
    (out / "methods.md").write_text("\n".join(lines) + "\n")
    with open(out / "methods.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(head)
        w.writerows(rows)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
