#!/usr/bin/env bash
# Benchmark: wall time of a 4-run sweep, sequential (basic launcher) vs
# hydra/launcher=joblib, on this machine. Prints both for two sweeps:
#   smoke: the issue's 4-run smoke sweep (runs of 0.2-0.5 s; each joblib worker re-imports
#          torch/diffusers/metrics, about 4 s, which sequential pays once);
#   real:  the embedded models, 200 samples per run (runs of 5-20 s).
# and a 1-run smoke sweep (sequential): a floor for any launcher on the smoke sweep, since
# every launcher must at least start a process, import the stack and finish one run. Also
# prints the smoke runs' own work (the records' wall_s) and the time to import the stack.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
declare -A sweeps=(
  [smoke]="experiment=smoke model=dcgan_digits,ddpm_digits quant=w8a8,w4a8 logger=none"
  [real]="model=dcgan_digits,ddpm_digits quant=w8a8,w4a8 metrics.n_samples=200 logger=none"
)
for name in smoke real; do
  for launcher in basic joblib; do
    start=$(date +%s.%N)
    .venv/bin/genq -m hydra/launcher=$launcher ${sweeps[$name]} hydra.sweep.dir="$tmp/$name-$launcher" \
      > "$tmp/$name-$launcher.log" 2>&1
    echo "$name $launcher: $(echo "$(date +%s.%N) - $start" | bc) s"
  done
done
start=$(date +%s.%N)
.venv/bin/genq -m experiment=smoke model=dcgan_digits quant=w8a8 logger=none hydra.sweep.dir="$tmp/one" > "$tmp/one.log" 2>&1
echo "smoke, 1 run (floor for any launcher): $(echo "$(date +%s.%N) - $start" | bc) s"
.venv/bin/python - "$tmp/smoke-basic" <<'PY'
import json, pathlib, sys
walls = [json.loads(p.read_text())["wall_s"] for p in pathlib.Path(sys.argv[1]).glob("*/result.json")]
print(f"smoke runs' own work (sum of the records' wall_s): {sum(walls):.2f} s over {len(walls)} runs")
PY
start=$(date +%s.%N)
.venv/bin/python -c "import genq.run, genq.models, genq.metrics, genq.tracking, genq.bench.speed, genq.quant.pipeline"
echo "python start + importing the stack: $(echo "$(date +%s.%N) - $start" | bc) s"
