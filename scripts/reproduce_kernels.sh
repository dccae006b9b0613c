#!/usr/bin/env bash
# Real-kernel study (issue 5): both embedded models x recipes {w8a8, w4a8, w8a8_dynamic,
# w4a4} on bench=cpu_int8, each timed round-robin with FP32 eager, FP32 torch.compile and
# bf16 autocast in the same process; writes results/kernels/{kernels.md,kernels.csv,
# coverage_*.md,pareto.png,records/}. Recipes the int8 backend cannot run are recorded as
# refused, with the layers named. About 15-25 minutes on 2 idle cores (Inductor compiles).
#
#   GENQ_SHARED_MACHINE=no scripts/reproduce_kernels.sh            # say whether others ran
#   scripts/reproduce_kernels.sh bench.threads=2 bench.repeats=9   # extra Hydra overrides
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
export GENQ_SHARED_MACHINE=${GENQ_SHARED_MACHINE:-unknown}
"$PY" scripts/bench_kernels.py --models dcgan_digits ddpm_digits \
    --recipes w8a8 w4a8 w8a8_dynamic w4a4 --bench cpu_int8 --out results/kernels "$@"
echo "wrote results/kernels (kernels.md, kernels.csv, coverage_*.md, pareto.png, records/)"
