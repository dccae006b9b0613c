#!/usr/bin/env bash
# Real-kernel study (issue 5): both embedded models x recipes {w8a8, w4a8, w8a8_dynamic,
# w4a4} on bench=cpu_int8, each timed round-robin with FP32 eager, FP32 torch.compile and
# bf16 autocast in the same process; writes results/kernels/{kernels.md,kernels.csv,
# coverage_*.md,pareto.png,records/}. Recipes the int8 backend cannot run are recorded as
# refused, with the layers named. About 15-25 minutes on 2 idle cores (Inductor compiles).
#
# The DCGAN generator is ~1.5 ms per batch of 32, too short to time reliably, so it is
# timed on batches of 256 (its own sampling batch is 500); the DDPM on batches of 32 through
# the whole 25-step DDIM sampler.
#
#   GENQ_SHARED_MACHINE=no scripts/reproduce_kernels.sh            # say whether others ran
#   scripts/reproduce_kernels.sh bench.threads=2 bench.repeats=9   # extra Hydra overrides (win)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
export GENQ_SHARED_MACHINE=${GENQ_SHARED_MACHINE:-unknown}
RECIPES="w8a8 w4a8 w8a8_dynamic w4a4"
OUT=results/kernels
"$PY" scripts/bench_kernels.py --models dcgan_digits --recipes $RECIPES --out $OUT \
    bench.batch_size=256 bench.repeats=15 "$@"
"$PY" scripts/bench_kernels.py --models ddpm_digits --recipes $RECIPES --out $OUT "$@"
"$PY" scripts/bench_kernels.py --models dcgan_digits ddpm_digits --recipes $RECIPES --out $OUT --tables-only
echo "wrote $OUT (kernels.md, kernels.csv, coverage_*.md, pareto.png, records/)"
