#!/usr/bin/env bash
# GPU real-kernel study (issue 5): both embedded models on one CUDA GPU, timed round-robin in
# one process per model: FP32 eager (cuDNN's default TF32 convolutions), cuda_fp16 and
# cuda_bf16 autocast, cuda_fp8 and cuda_int8 (torchao, Linear layers; convolutions stay bf16,
# as the coverage tables say). The W8A8 simulated model is built too, for the real-vs-simulated
# agreement. Run eagerly, then with torch.compile (Inductor). The sampler loop runs on the GPU.
# Writes $OUT_DIR/{eager,compiled}/{kernels.md,kernels.csv,coverage_*.md,pareto.png,records/}.
#
#   scripts/reproduce_kernels_gpu.sh                       # both modes
#   MODES=eager MODELS=ddpm_digits scripts/reproduce_kernels_gpu.sh bench.repeats=5
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT_DIR=${OUT_DIR:-results/kernels_gpu}
MODES=${MODES:-"eager compiled"}
BASELINES='bench.baselines=[fp32_eager,cuda_fp16,cuda_bf16,cuda_fp8]'
MODELS=${MODELS:-"dcgan_digits ddpm_digits"}
for mode in $MODES; do
    compile=false; [ "$mode" = compiled ] && compile=true
    for model in $MODELS; do
        # The DCGAN generator is microseconds per image: timed on large batches.
        batch="bench.batch_size=256 bench.repeats=7"
        [ "$model" = dcgan_digits ] && batch="bench.batch_size=2048 bench.repeats=9"
        "$PY" scripts/bench_kernels.py --models "$model" --recipes w8a8 --bench cuda_int8 \
            --out "$OUT_DIR/$mode" bench.compile=$compile $batch "$BASELINES" "$@"
    done
    "$PY" scripts/bench_kernels.py --models dcgan_digits ddpm_digits --recipes w8a8 --bench cuda_int8 \
        --out "$OUT_DIR/$mode" --tables-only
done
echo "wrote $OUT_DIR"
