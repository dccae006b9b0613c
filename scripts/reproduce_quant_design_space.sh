#!/usr/bin/env bash
# Reproduces results/quant_design_space: both embedded generators x bits {8, 6, 4} (W = A)
# x weight granularity {per_tensor, per_channel} x activation observer {minmax,
# percentile, mse}: 36 PTQ runs, 500 samples each, plus the FP32 reference of each model.
set -euo pipefail
cd "$(dirname "$0")/.."
make install
sweep=$(mktemp -d)
common="metrics.n_samples=500 bench.repeats=2 logger=none"
.venv/bin/genq -m model=dcgan_digits,ddpm_digits quant=w8a8,w6a6,w4a4 \
  quant.granularity=per_tensor,per_channel quant.observer=minmax,percentile,mse \
  $common hydra.sweep.dir="$sweep/ptq"
.venv/bin/genq -m model=dcgan_digits,ddpm_digits quant=fp32 $common hydra.sweep.dir="$sweep/fp"
out=results/quant_design_space
rm -rf "$out/records"
.venv/bin/python -m genq.report.tables "$sweep" "$out"
.venv/bin/python -m genq.report.figures "$out/records" "$out/quality_vs_bits.png"
cat "$out/table.md"
