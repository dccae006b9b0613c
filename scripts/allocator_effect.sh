#!/usr/bin/env bash
# Why bench.pin_allocator exists: the DDPM W8A8 on bench=cpu_int8 with the study's baselines
# (FP32 eager, FP32 compiled, bf16), timed in RUNS separate processes with glibc's default
# malloc (bench.pin_allocator=false) and RUNS with it pinned (true). Prints each process's
# ms/image. About 20 minutes on 2 idle cores with RUNS=4.
#
#   RUNS=4 scripts/allocator_effect.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
RUNS=${RUNS:-4}
tmp=$(mktemp -d)
for pin in false true; do
  for i in $(seq "$RUNS"); do
    "$PY" scripts/bench_kernels.py --models ddpm_digits --recipes w8a8 --out "$tmp/k" \
        bench.kernel_profile=false bench.pin_allocator=$pin 2>/dev/null | tail -1 |
      "$PY" -c "import json, sys; ms = {r['backend']: r['ms_per_image'] for r in json.loads(sys.stdin.read()) if r.get('ms_per_image')}; print('pin_allocator=$pin process $i ms/image:', ms)"
  done
done
