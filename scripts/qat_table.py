"""QAT vs PTQ comparison table of a study folder's records.

    .venv/bin/python scripts/qat_table.py results/qat/records --out results/qat

For every (model, W, A) it lists the FP reference, each PTQ record and the QAT record, marks
the best PTQ (lowest FID vs real among PTQ records; ties: lower qFID) and says whether QAT
beats it on FID, KID, qFID and LPIPS vs FP. Writes ``comparison.md`` and ``comparison.csv``.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from genq.tracking.record import finished_records

METRICS = (("FID", "fid"), ("KID", "kid"), ("qFID", "qfid"), ("LPIPS vs FP", "lpips_vs_fp"))


def _fmt(v) -> str:
    if v is None:
        return "-"
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _variant(r: dict) -> str:
    q = r["quant"]
    if q["method"] == "qat":
        qat = q.get("qat") or {}
        return f"{q['recipe']} ({qat.get('steps')} steps)"
    obs = f"{q.get('w_observer') or '-'}/{q.get('observer') or '-'}"
    return f"{q['recipe']} (observers w/a {obs})"


def build(records: list[dict]) -> list[dict]:
    fp = {r["model"]: r for r in records if r["quant"]["method"] == "fp"}
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        q = r["quant"]
        if q["method"] != "fp":
            groups.setdefault((r["model"], q["w_bits"], q["a_bits"]), []).append(r)
    rows = []
    for (model, w, a), recs in sorted(groups.items(), key=lambda kv: (kv[0][0], -kv[0][1], -kv[0][2])):
        ptq = [r for r in recs if r["quant"]["method"] == "ptq"]
        qat = [r for r in recs if r["quant"]["method"] == "qat"]
        best = min(ptq, key=lambda r: (r["metrics"]["fid"], r["metrics"].get("qfid") or 0)) if ptq else None
        ref = fp.get(model)
        for r in ([ref] if ref else []) + sorted(ptq, key=lambda r: r["metrics"]["fid"]) + qat:
            m = r["metrics"]
            role = ("FP" if r is ref else "best PTQ" if r is best else
                    "QAT" if r["quant"]["method"] == "qat" else "PTQ")
            row = {"model": model, "bits": f"W{w}A{a}", "role": role,
                   "variant": "fp32" if r is ref else _variant(r),
                   **{name: m.get(key) for name, key in METRICS}, "n": m.get("n_samples")}
            if role == "QAT" and best is not None:
                wins = [name for name, key in METRICS
                        if m.get(key) is not None and best["metrics"].get(key) is not None
                        and m[key] < best["metrics"][key]]
                row["beats best PTQ on"] = ", ".join(wins) or "none"
                qinfo = r["quant"].get("qat") or {}
                row["QAT train s (wall / cpu)"] = f"{qinfo.get('train_s')} / {qinfo.get('train_cpu_s')}"
            rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    rows = build([r for _, r in finished_records(args.records)])
    cols = ["model", "bits", "role", "variant", *(n for n, _ in METRICS), "n",
            "beats best PTQ on", "QAT train s (wall / cpu)"]
    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / "comparison.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=cols)
        writer.writeheader()
        writer.writerows([{c: r.get(c) for c in cols} for r in rows])
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_fmt(r.get(c)) for c in cols) + " |" for r in rows]
    (args.out / "comparison.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
