#!/usr/bin/env bash
# Reproduces results/ptq_methods: diffusion-aware PTQ (docs/ptq_methods.md) against naive
# min-max PTQ on the embedded digits DDPM and DCGAN at W8A8, W4A8 and W4A4.
#   DDPM: naive min-max on the full FP trajectory (w*a*), + Q-Diffusion's uniform timestep
#   calibration (_qdiff_calib), + shortcut splitting (_qdiff_split), + per-timestep scales
#   (_tdq), + BRECQ/AdaRound reconstruction with learned activation step sizes
#   (_qdiffusion = the full method); at W4A8 also the single-last-step naive baseline
#   (_last), PTQ4DM's normal timestep sampler (_ptq4dm) and BRECQ alone (_brecq).
#   DCGAN: naive, + BN re-estimation and bias correction (_gan_bc), + BRECQ (_gan_brecq).
# N=1000 (default 500) sets the samples per run; SWEEP=dir reuses/resumes a sweep folder.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/genq ] || make install
sweep=${SWEEP:-$(mktemp -d)}
n=${N:-500}
common="metrics.n_samples=$n bench.repeats=2 logger=none quant.reconstruction.progress=false"
.venv/bin/genq -m model=dcgan_digits \
  quant=fp32,w8a8,w4a8,w4a4,w8a8_gan_bc,w4a8_gan_bc,w4a4_gan_bc,w8a8_gan_brecq,w4a8_gan_brecq,w4a4_gan_brecq \
  $common hydra.sweep.dir="$sweep/gan"
ddpm=fp32
for b in w8a8 w4a8 w4a4; do ddpm="$ddpm,$b,${b}_qdiff_calib,${b}_qdiff_split,${b}_tdq,${b}_qdiffusion"; done
ddpm="$ddpm,w4a8_last,w4a8_ptq4dm,w4a8_brecq"
.venv/bin/genq -m model=ddpm_digits quant=$ddpm $common hydra.sweep.dir="$sweep/ddpm"
out=results/ptq_methods
rm -rf "$out/records"
.venv/bin/python -m genq.report.tables "$sweep" "$out"
.venv/bin/python scripts/ptq_methods_table.py "$out/records" "$out"
cat "$out/methods.md"
