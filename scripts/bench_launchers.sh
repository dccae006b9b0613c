#!/usr/bin/env bash
# Benchmark: wall time of a 4-run smoke sweep, sequential (basic launcher) vs
# hydra/launcher=joblib, on this machine. Prints both; the ratio is what issue 10 asks for.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
sweep="experiment=smoke model=dcgan_digits,ddpm_digits quant=w8a8,w4a8 logger=none"
for launcher in basic joblib; do
  start=$(date +%s.%N)
  .venv/bin/genq -m hydra/launcher=$launcher $sweep hydra.sweep.dir="$tmp/$launcher" > "$tmp/$launcher.log" 2>&1
  echo "$launcher: $(echo "$(date +%s.%N) - $start" | bc) s"
done
