#!/usr/bin/env bash
# Reproduces results/foundation: the embedded default study. Both embedded generators,
# FP32 and W8A8 (min-max PTQ), 1000 samples each, scored with the digits-classifier
# features; the FP | W8A8 sample grids show what the models generate.
set -euo pipefail
cd "$(dirname "$0")/.."
make install
sweep=$(mktemp -d)
.venv/bin/genq -m model=dcgan_digits,ddpm_digits quant=fp32,w8a8 logger=none hydra.sweep.dir="$sweep"
rm -rf results/foundation/records
.venv/bin/python -m genq.report.tables "$sweep" results/foundation
cat results/foundation/table.md
