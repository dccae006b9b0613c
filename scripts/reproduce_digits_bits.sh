#!/usr/bin/env bash
# Reproduces results/digits_bits: `genq paper=digits_bits` (both embedded models x
# FP32/W8A16/W8A8/W6A6/W4A16/W4A8/W4A4/W2A8, min-max PTQ, 1,000 samples each), then
# genq-report. About 15 minutes on 2 CPU cores.
set -euo pipefail
cd "$(dirname "$0")/.."
make install
out=results/digits_bits
sweep=$(mktemp -d)/digits_bits
.venv/bin/genq paper=digits_bits logger=none hydra.sweep.dir="$sweep"
rm -rf "$out/records"
mkdir -p "$out/records"
for run in "$sweep"/*/; do                 # result.json + sample grid of every run
  name=$(basename "$run"); mkdir -p "$out/records/$name"
  cp "$run/result.json" "$out/records/$name/"
  [ -f "$run/samples.png" ] && cp "$run/samples.png" "$out/records/$name/"
done
.venv/bin/genq-report "$out/records" --out "$out"
cat "$out/table.md"
