"""genq-report on a folder of hand-made result.json files: aggregated tables, records.csv,
compare.md/csv and figures with error bars."""

from __future__ import annotations

import csv
import json

import pytest
from report_records import make_record, write_records

from genq.report.cli import build_report, main
from genq.report.figures import plot_quality_vs_bits
from genq.report.tables import collect


def _sweep(root):
    records = (
        [make_record(seed=s, quant_seed=s, metrics={"fid": f, "kid": k, "qfid": q, "lpips_vs_fp": l})
         for s, f, k, q, l in [(0, 1.0, 0.01, 0.1, 0.01), (1, 1.1, 0.012, 0.12, 0.011),
                                (2, 0.9, 0.011, 0.11, 0.012)]]
        + [make_record(seed=s, quant_seed=s, recipe="w4a4", w_bits=4, a_bits=4,
                       metrics={"fid": f, "kid": 0.3, "qfid": q, "lpips_vs_fp": 0.5})
           for s, f, q in [(0, 5.0, 4.0), (1, 5.2, 4.1), (2, 4.9, 3.9)]]
        + [make_record(seed=0, quant_seed=0, recipe="fp32", w_bits=None, a_bits=None,
                       metrics={"fid": 1.5, "kid": 0.005})]
        + [make_record(seed=0, quant_seed=0, model="dcgan_digits", metrics={"fid": 4.0, "precision": 0.7})])
    write_records(root, records)
    (root / "broken").mkdir()
    (root / "broken" / "result.json").write_text(json.dumps(
        {"status": "failed", "error": "boom", "model": "ddpm_digits", "quant": {"recipe": "w2a8"}}))
    return records


def test_build_report_writes_aggregated_tables_comparisons_and_figures(tmp_path):
    _sweep(tmp_path / "runs")
    written = build_report([str(tmp_path / "runs")], tmp_path / "report")
    for key in ("md", "csv", "tex", "records", "compare", "compare_csv", "bits", "pareto"):
        assert written[key].exists() and written[key].stat().st_size > 0, key
    assert {p.name for p in (tmp_path / "report").iterdir()} >= {
        "table.md", "table.csv", "table.tex", "records.csv", "compare.md", "compare.csv",
        "quality_vs_bits.png", "pareto.png"}

    md = written["md"].read_text().splitlines()
    head = [c.strip() for c in md[0].strip("|").split("|")]
    assert len(md) == 2 + 4                       # four settings, not eight runs
    assert {"FID", "KID", "qFID", "LPIPS vs FP", "precision", "vs best fid", "k", "n"} <= set(head)
    assert "recall" not in head and "PSNR vs FP" not in head   # no record has them
    cells = {(r[0], r[1]): r for r in ([c.strip() for c in line.strip("|").split("|")] for line in md[2:])}
    w8 = dict(zip(head, cells[("ddpm_digits", "w8a8")]))
    assert w8["FID"].startswith("1 ± ") and w8["k"] == "3"
    fp32 = dict(zip(head, cells[("ddpm_digits", "fp32")]))
    assert fp32["FID"] == "1.5" and fp32["k"] == "1"           # one seed: the mean only
    assert w8["vs best fid"] == "best"
    assert dict(zip(head, cells[("ddpm_digits", "w4a4")]))["vs best fid"] == "separate"
    assert fp32["vs best fid"] == "n/a"                        # no interval with one seed
    assert dict(zip(head, cells[("ddpm_digits", "w4a4")]))["qFID"].startswith("4 ± ")
    assert "w2a8" not in written["md"].read_text()

    table = list(csv.DictReader(written["csv"].open()))
    assert len(table) == 4
    row = next(r for r in table if r["recipe"] == "w8a8" and r["model"] == "ddpm_digits")
    assert float(row["fid"]) == pytest.approx(1.0) and float(row["fid_sd"]) == pytest.approx(0.1)
    assert float(row["fid_ci95_low"]) < 1.0 < float(row["fid_ci95_high"])
    assert row["n_seeds"] == "3" and json.loads(row["seeds"]) == [[0, 0], [1, 1], [2, 2]]
    fp = next(r for r in table if r["recipe"] == "fp32")
    assert fp["fid_ci95_low"] == "" and fp["qfid"] == ""

    records = list(csv.DictReader(written["records"].open()))
    assert len(records) == 8 and {r["seed"] for r in records} == {"0", "1", "2"}

    compare_md = written["compare"].read_text()
    assert "## ddpm_digits" in compare_md and "paired t over 3 shared seeds" in compare_md
    comparisons = list(csv.DictReader(written["compare_csv"].open()))
    ddpm = [c for c in comparisons if c["model"] == "ddpm_digits"]
    # fid: 3 pairs; qfid and lpips_vs_fp: only w8a8 vs w4a4 (fp32 has neither)
    assert sorted(c["metric"] for c in ddpm) == ["fid"] * 3 + ["lpips_vs_fp", "qfid"]
    assert all(c["verdict"] == "separate" for c in ddpm if {c["a"], c["b"]} == {"w8a8", "w4a4"})
    assert "\\begin{tabular}" in written["tex"].read_text() and "$\\pm$" in written["tex"].read_text()


def test_cli_rank_metric(tmp_path, capsys):
    _sweep(tmp_path / "runs")
    assert main([str(tmp_path / "runs"), "--out", str(tmp_path / "report"), "--rank-metric", "kid"]) == 0
    assert "| vs best kid |" in (tmp_path / "report" / "table.md").read_text()
    assert "8 finished runs in 4 rows" in capsys.readouterr().out
    assert "metric | A | B" in (tmp_path / "report" / "compare.md").read_text()
    metrics = {r["metric"] for r in csv.DictReader((tmp_path / "report" / "compare.csv").open())}
    assert metrics == {"kid", "qfid", "lpips_vs_fp"}


def test_collect_writes_the_aggregated_table_and_records_csv(tmp_path):
    records = _sweep(tmp_path / "sweep")
    out = collect([str(tmp_path / "sweep")], tmp_path / "study")
    assert len(out) == len(records)
    assert (tmp_path / "study" / "records" / "0" / "result.json").exists()
    assert len((tmp_path / "study" / "table.md").read_text().splitlines()) == 2 + 4
    assert len(list(csv.DictReader((tmp_path / "study" / "records.csv").open()))) == 8


def test_figures_take_records_too(tmp_path):
    records = _sweep(tmp_path / "runs")
    assert plot_quality_vs_bits(records, tmp_path / "bits.png").stat().st_size > 0
