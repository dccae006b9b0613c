#!/usr/bin/env bash
# Reproduces results/digits_ptq_vs_qat: `genq paper=digits_ptq_vs_qat` (both embedded
# models x FP32 and W4A8/W4A4/W2A8 as min-max PTQ, BRECQ PTQ and LSQ+ QAT; 500 samples
# each), then genq-report. About 30 minutes on 2 CPU cores; one thread per process, as
# the QAT study found two threads mostly spin on 2 shared cores.
set -euo pipefail
cd "$(dirname "$0")/.."
make install
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
out=results/digits_ptq_vs_qat
sweep=$(mktemp -d)/digits_ptq_vs_qat
.venv/bin/genq paper=digits_ptq_vs_qat logger=none hydra.sweep.dir="$sweep"
rm -rf "$out/records"
mkdir -p "$out/records"
for run in "$sweep"/*/; do                 # result.json + sample grid of every run
  name=$(basename "$run"); mkdir -p "$out/records/$name"
  cp "$run/result.json" "$out/records/$name/"
  [ -f "$run/samples.png" ] && cp "$run/samples.png" "$out/records/$name/"
done
.venv/bin/genq-report "$out/records" --out "$out"
cat "$out/table.md"
