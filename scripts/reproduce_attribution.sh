#!/usr/bin/env bash
# Issue 19's study in one command: per seed, the causal attribution of the digits DDPM and
# DiT (blocks x 3 windows of the 25 DDIM steps) and of the DCGAN and StyleGAN (layers), options FP,
# W4A4 and W8A8; the allocator (quant=auto, effective_w_bits budgets between 4 and 8) on
# that seed's attribution; every uniform recipe; then results/attribution/{pareto.csv,
# attribution_validation.json, maps} (scripts/attribution_study.py).
#   scripts/reproduce_attribution.sh                # everything, then the tables
#   scripts/reproduce_attribution.sh attribution    # only the attributions (resumable)
#   scripts/reproduce_attribution.sh pareto         # only the allocator and uniform runs
#   scripts/reproduce_attribution.sh tables         # only the tables, from a finished sweep
#   scripts/reproduce_attribution.sh latency        # the DDPM's cpu_int8 latency table (~20 min)
#   scripts/reproduce_attribution.sh rich           # the allocator with W4A8/W6A6 options too (GANs, DiT)
# Knobs (environment): SEEDS (default "0 1 2"), OPTIONS (the quantized options, "w4a4 w8a8"), ATTR_N (samples per attribution
# measurement, 256), N_RANDOM (100), N_HELDOUT (50), RUN_N (samples per run, 1000),
# BUDGETS (4.5,5.5,6.5,7.5), MODELS ("ddpm_digits dcgan_digits stylegan_digits dit_digits"),
# ATTR_SWEEP (multirun/attribution), OUT (results/attribution), DEVICE (cpu; cuda on a GPU machine).
# Cost, DDPM: 3 + 30 x 2 + N_RANDOM + N_HELDOUT = 213 measurements per seed, each one
# sampling of ATTR_N images (25 steps) under fake quantization; on one CPU core 64 images
# took ~20-25 s per measurement (docs/attribution.md), so ATTR_N=256 is ~1.5 min each,
# ~5 h per seed on one core (ATTR_N=128: 7.4 s per measurement, 25 min). The GANs' are
# under a minute. Attribution runs resume
# from attribution_rows.jsonl when rerun with the same settings.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/genq ] || make install
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
seeds=${SEEDS:-0 1 2}
sweep=${ATTR_SWEEP:-multirun/attribution}
case "$sweep" in /*) sweep_abs=$sweep ;; *) sweep_abs=$PWD/$sweep ;; esac   # quant=auto runs read it by absolute path
out=${OUT:-results/attribution}
device=${DEVICE:-cpu}
budgets=${BUDGETS:-4.5,5.5,6.5,7.5}
options=${OPTIONS:-w4a4 w8a8}
models=${MODELS:-ddpm_digits dcgan_digits stylegan_digits dit_digits}

attribution() {
  for s in $seeds; do
    for model in $models; do          # one call per model: each resumes on its own
      .venv/bin/genq-analyze --attribution --models "$model" --recipes $options \
        --windows 3 --n-samples "${ATTR_N:-256}" --n-random "${N_RANDOM:-100}" \
        --n-heldout "${N_HELDOUT:-50}" --seed "$s" --override "quant.seed=$s" "device=$device" \
        --out "$sweep/attribution/seed$s"
    done
  done
}

pareto() {
  for s in $seeds; do
    for model in $models; do
      run=(.venv/bin/genq -m "seed=$s" "quant.seed=$s" "device=$device" metrics.n_samples="${RUN_N:-1000}"
           bench.repeats=1 logger=none "model=$model")
      "${run[@]}" quant=auto "quant.budget.value=$budgets" \
        "quant.budget.attribution=$sweep_abs/attribution/seed$s/$model/attribution.json" \
        hydra.sweep.dir="$sweep/pareto/auto_${model}_seed$s"
      "${run[@]}" quant=w4a4,w4a8,w6a6,w8a8,fp32 hydra.sweep.dir="$sweep/pareto/uniform_${model}_seed$s"
    done
  done
}

# The committed one-seed pilot (results/attribution/pilot_ddpm_seed0): 64 samples per
# measurement, 30 random configurations, then the allocator at 4.5 and 5.5 bits on it.
pilot() {
  local dir=$out/pilot_ddpm_seed0
  .venv/bin/genq-analyze --attribution --models ddpm_digits --recipes $options --windows 3 \
    --n-samples 64 --n-random 30 --n-heldout 50 --seed 0 --out "$dir"
  for b in 4.5 5.5; do
    .venv/bin/genq model=ddpm_digits quant=auto "quant.budget.attribution=$PWD/$dir/ddpm_digits/attribution.json" \
      quant.budget.value=$b metrics.n_samples=64 logger=none hydra.run.dir="$dir/auto/b$b"
  done
}

tables() { .venv/bin/python scripts/attribution_study.py "$sweep" --out "$out"; }

# the cpu_int8 latency table of the DDPM (blocks x W8A8/W4A8) and its additivity check
latency() {
  rm -f "$out/latency_pilot/ddpm_digits/latency.json" "$out/latency_pilot/ddpm_digits/attribution_rows.jsonl"
  .venv/bin/genq-analyze --attribution --models ddpm_digits --recipes w8a8 w4a8 --windows 2 --n-samples 32 \
    --n-random 6 --n-heldout 4 --latency --latency-batch 8 --latency-repeats 5 --out "$out/latency_pilot"
}

# The allocator with richer options per cell (results/attribution/rich_options): W4A4, W4A8,
# W6A6, W8A8 on the GANs; W4A8, W6A6, W8A8 on the DiT (W4A4 costs the same weight bits as W4A8
# and is worse on every cell there, uniform qFID 46 vs 0.53). Its uniform runs are the same
# commands as the main sweep's.
rich() {
  local sw=${RICH_SWEEP:-multirun/attribution_rich}
  for stage in attribution pareto; do
    ATTR_SWEEP=$sw OPTIONS="w4a4 w4a8 w6a6 w8a8" MODELS="stylegan_digits dcgan_digits" "$0" "$stage"
    ATTR_SWEEP=$sw OPTIONS="w4a8 w6a6 w8a8" MODELS="dit_digits" "$0" "$stage"
  done
  .venv/bin/python scripts/attribution_study.py "$sw" --out "$out/rich_options"
}

case "${1:-all}" in
  attribution|pareto|tables|pilot|latency|rich) "$1" ;;
  all) attribution; pareto; tables ;;
  *) echo "usage: $0 [attribution|pareto|tables|pilot|latency|rich|all]" >&2; exit 2 ;;
esac
