#!/usr/bin/env bash
# Reproduces results/formats (issue 18): number formats at equal bits x outlier handling, one
# protocol, on the digits DDPM, DCGAN, DiT and StyleGAN, seeds 0,1,2 (seed=s and quant.seed=s: evaluation
# noise bank, rotation signs and everything the quantizer draws).
#   W8A8: int8, fp8_e4m3, mxfp8_e4m3                                     (no outlier method)
#   W4A8 and W4A4: int4 per-channel, int4 per-group of 32, fp4_e2m1, mxfp4, nvfp4
#     x quant.outlier.method {none, smooth, rotate, svd (rank 8)}
#   (A8 next to a 4-bit weight format is that format family's 8-bit activation: int8 for
#    int4, fp8_e4m3 for fp4_e2m1 and nvfp4 (NVIDIA's W4A8), mxfp8_e4m3 for mxfp4.)
# FP32 of each model in the same sweep. Then one seed-aggregated report (mean and 95% t-interval
# over seeds) and the figure of quality against effective bits (scripts/formats_tables.py).
#   scripts/reproduce_formats.sh                  # everything, one stream after the other
#   scripts/reproduce_formats.sh ddpm_w4a4        # one stream (two at once on two cores)
#   scripts/reproduce_formats.sh tables           # only the tables, from finished sweeps
# Streams: ddpm_w8 ddpm_w4a8 ddpm_w4a4 gan_w8 gan_w4a8 gan_w4a4 dit_w8 dit_w4a8 dit_w4a4
#          stylegan_w8 stylegan_w4a8 stylegan_w4a4 best qat equal_memory outliers tables.
# FORMATS_SWEEP=dir holds (and resumes: finished runs are skipped) the sweeps; N (default 500)
# samples per grid run; the best W4A4 PTQ rows are rerun at 1,000 samples (stream `best`).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/genq ] || make install
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
sweep=${FORMATS_SWEEP:-multirun/formats}
seeds=${SEEDS:-0,1,2}
n=${N:-500}
methods=none,smooth,rotate,svd

# conv_in of the DDPM and the DiT's patch embedding have one input channel: no block format can
# block them, so every row of those models keeps that layer in FP (counted at 32 bits in the
# effective bits), integers included, for one protocol.
keep() { case "$1" in ddpm_digits) echo 'quant.exclude=[conv_in]' ;;
  dit_digits) echo 'quant.exclude=[pos_embed.proj]' ;; *) echo 'quant.exclude=[]' ;; esac; }
genq() { .venv/bin/genq -m "seed=$seeds" 'quant.seed=${seed}' bench.repeats=1 logger=none \
  quant.reconstruction.progress=false "$@"; }

# w8: FP32 and the three 8-bit formats
w8() { local model=$1 dir=$2
  genq model="$model" quant=fp32 metrics.n_samples="$n" hydra.sweep.dir="$dir/fp32"
  genq model="$model" "$(keep "$model")" quant=w8a8 metrics.n_samples="$n" hydra.sweep.dir="$dir/int8"
  for f in fp8_e4m3 mxfp8_e4m3; do
    genq model="$model" "$(keep "$model")" quant=w8a8 quant.w_format=$f quant.a_format=$f metrics.n_samples="$n" \
      hydra.sweep.dir="$dir/$f"
  done; }

# w4 <model> <dir> <a-bits 8|4> [methods]: the five 4-bit weight formats x outlier methods
w4() { local model=$1 dir=$2 a=$3 act methods=${4:-$methods}
  local q=w4a$a
  genq model="$model" "$(keep "$model")" quant=$q quant.outlier.method=$methods metrics.n_samples="$n" hydra.sweep.dir="$dir/int4"
  genq model="$model" "$(keep "$model")" quant=$q quant.granularity=per_group quant.group_size=32 quant.outlier.method=$methods \
    metrics.n_samples="$n" hydra.sweep.dir="$dir/int4_g32"
  for f in fp4_e2m1 mxfp4 nvfp4; do
    if [ "$a" = 4 ]; then act=$f; elif [ "$f" = mxfp4 ]; then act=mxfp8_e4m3; else act=fp8_e4m3; fi
    genq model="$model" "$(keep "$model")" quant=$q quant.w_format=$f quant.a_format=$act quant.outlier.method=$methods \
      metrics.n_samples="$n" hydra.sweep.dir="$dir/$f"
  done; }

# the W4A4 PTQ rows the issue's target is stated on, at 1,000 samples (BEST: extra rows)
best() {
  genq model=ddpm_digits quant=fp32 metrics.n_samples=1000 hydra.sweep.dir="$sweep/best/fp32"
  genq model=ddpm_digits "$(keep ddpm_digits)" quant=w4a4 quant.outlier.method=svd,none metrics.n_samples=1000 \
    hydra.sweep.dir="$sweep/best/int4"
  genq model=ddpm_digits "$(keep ddpm_digits)" quant=w4a4 quant.w_format=nvfp4 quant.a_format=nvfp4 quant.outlier.method=svd,none \
    metrics.n_samples=1000 hydra.sweep.dir="$sweep/best/nvfp4"
}

# QAT on the best W4A4 format at equal memory (nvfp4, no branch; LoRA QAT, results/qat's best
# W4A4 recipe; outlier methods are PTQ-only), 1,000 samples as the rows of `best`
qat() {
  genq model=ddpm_digits "$(keep ddpm_digits)" quant=qat_lora_w4a4 quant.w_format=nvfp4 quant.a_format=nvfp4 \
    quant.qat.progress=false metrics.n_samples=1000 hydra.sweep.dir="$sweep/best/qat_nvfp4"
}

# is the low-rank branch worth its memory? The same activations (nvfp4) with the bits spent on
# the weights' format instead (mxfp6_e2m3: 6.25 bits, fp8_e4m3: 8), and a smaller branch (rank 2)
equal_memory() {
  genq model=ddpm_digits "$(keep ddpm_digits)" quant=w4a4 quant.w_format=mxfp6_e2m3,fp8_e4m3 quant.a_format=nvfp4 \
    metrics.n_samples=1000 hydra.sweep.dir="$sweep/best/wide_weights"
  genq model=ddpm_digits "$(keep ddpm_digits)" quant=w4a4 quant.w_format=nvfp4 quant.a_format=nvfp4 quant.outlier.method=svd \
    quant.outlier.rank=2 metrics.n_samples=1000 hydra.sweep.dir="$sweep/best/nvfp4_r2"
}

# activation/weight kurtosis and channel max/median ratio per layer before and after each
# outlier method, over the w4a4 calibration inputs (seed 0; DDPM + DCGAN 44 min on a shared core)
outliers() { .venv/bin/genq-analyze --models dcgan_digits ddpm_digits dit_digits stylegan_digits \
  --recipes w4a4 --outliers smooth rotate svd --out results/formats/outliers \
  && .venv/bin/python scripts/formats_outlier_summary.py results/formats/outliers; }

tables() { .venv/bin/python scripts/formats_tables.py "$sweep" --out results/formats; }

# does the empirical bias correction (each layer's output shift, averaged over the calibration
# timesteps) remove what int4 per-group weights cost the DDPM? W4A8, int4 per-channel and g32,
# tabulated with their rows without it (records copied to results/formats/bias_correction)
bias() { local dir=${sweep}_bias/w4a8 out=results/formats/bias_correction
  genq model=ddpm_digits "$(keep ddpm_digits)" quant=w4a8 quant.reconstruction.bias_correction=true \
    metrics.n_samples="$n" hydra.sweep.dir="$dir/int4"
  genq model=ddpm_digits "$(keep ddpm_digits)" quant=w4a8 quant.granularity=per_group quant.group_size=32 \
    quant.reconstruction.bias_correction=true metrics.n_samples="$n" hydra.sweep.dir="$dir/int4_g32"
  rm -rf "$out/records" && mkdir -p "$out/records"
  (cd "$dir" && find . -name result.json -exec cp --parents {} "$OLDPWD/$out/records/" \;)
  .venv/bin/genq-report "$out/records" results/formats/records/ddpm/w4a8/int4/*_ddpm_digits_w4a8_exclude1 \
    results/formats/records/ddpm/w4a8/int4_g32/*_ddpm_digits_w4a8_g32_exclude1 --out "$out"; }

# is DDPM int4 per-group worse than per-channel, or is it one rounding pattern? (weights only,
# round-to-nearest, another grid, 10 stochastic-rounding draws; ~1.5 min)
rounding() { .venv/bin/python scripts/rounding_realizations.py --bits 4 --granularities per_channel per_group \
  --group-size 32 --exclude conv_in --out results/formats; }

# grid streams are named <model>_<part>: model ddpm, gan, dit or stylegan; part w8, w4a8 or w4a4
grid() { local prefix=${1%_*} part=${1##*_} model
  case "$prefix" in ddpm|dit|stylegan) model=${prefix}_digits ;; gan) model=dcgan_digits ;; esac
  case "$part" in
    w8) w8 "$model" "$sweep/$prefix/w8" ;;
    # StyleGAN: its outlier rows came after the engine learned to transform its modulated
    # convolutions (smoothing/rotation, then the SVD branch), each in its own sweep folder so
    # that no folder's job numbers moved
    *) if [ "$model" = stylegan_digits ]; then
         w4 "$model" "$sweep/$prefix/$part" "${part#w4a}" none
         w4 "$model" "$sweep/$prefix/$part/outliers" "${part#w4a}" smooth,rotate
         w4 "$model" "$sweep/$prefix/$part/svd" "${part#w4a}" svd
       else w4 "$model" "$sweep/$prefix/$part" "${part#w4a}"; fi ;;
  esac; }

case "${1:-all}" in
  ddpm_w8|ddpm_w4a8|ddpm_w4a4|gan_w8|gan_w4a8|gan_w4a4|dit_w8|dit_w4a8|dit_w4a4|stylegan_w8|stylegan_w4a8|stylegan_w4a4)
    grid "$1" ;;
  best|qat|equal_memory|tables|outliers|rounding|bias) "$1" ;;
  all) for m in ddpm gan dit stylegan; do for p in w8 w4a4 w4a8; do grid "${m}_$p"; done; done
    best; qat; equal_memory; outliers; rounding; tables; bias ;;
  *) echo "usage: $0 [all|{ddpm,gan,dit,stylegan}_{w8,w4a8,w4a4}|best|qat|equal_memory|outliers|rounding|bias|tables]" >&2; exit 2 ;;
esac
