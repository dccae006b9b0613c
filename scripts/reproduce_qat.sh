#!/usr/bin/env bash
# Reproduces results/qat: does QAT (LSQ+ step sizes + distillation from the FP teacher) beat
# the best PTQ on the embedded generators at W4A8, W4A4 and W2A8?
#   - FP32 reference of each model;
#   - PTQ: naive min-max, and MSE-searched ranges for weights and activations (exactly QAT's
#     starting point), at each bit width; plus the reconstruction recipes of the PTQ study
#     (Q-Diffusion for the DDPM, BRECQ + BN re-estimation for the GAN) when their configs exist;
#   - QAT: quant=qat_lsq_{w4a8,w4a4,w2a8}, same 64 calibration noises as PTQ, snapshots at
#     steps 0 (= the MSE PTQ start), 50, 100, 200, 400 for the quality-vs-steps curve.
# 500 samples per run, digits-classifier features (FID, KID, qFID, LPIPS vs FP).
# One thread per process (OMP_NUM_THREADS=1): on the 2 shared cores this study ran on, two
# OpenMP threads per process spent most of their CPU time spinning (3-4 CPU-s per QAT step vs
# 0.2 with one thread). Set QAT_SWEEP_DIR to resume an interrupted study (sweeps skip
# finished runs).
set -euo pipefail
cd "$(dirname "$0")/.."
make install
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
sweep=${QAT_SWEEP_DIR:-$(mktemp -d)}
out=results/qat
genq=.venv/bin/genq
common="metrics.n_samples=500 bench.repeats=2 logger=none"
have() { [ -f "genq/configs/quant/$1.yaml" ]; }
echo "sweep folder: $sweep"

$genq -m model=dcgan_digits,ddpm_digits quant=fp32 $common hydra.sweep.dir="$sweep/fp"
$genq -m model=dcgan_digits,ddpm_digits quant=qat_lsq_w4a8,qat_lsq_w4a4,qat_lsq_w2a8 \
  "quant.qat.eval_at=[0,50,100,200,400]" quant.qat.progress=false $common hydra.sweep.dir="$sweep/qat"
$genq -m model=dcgan_digits,ddpm_digits quant=w4a8,w4a4,w2a8 $common hydra.sweep.dir="$sweep/ptq_minmax"
$genq -m model=dcgan_digits,ddpm_digits quant=w4a8,w4a4,w2a8 quant.observer=mse quant.w_observer=mse \
  $common hydra.sweep.dir="$sweep/ptq_mse"
recon_ddpm=() recon_gan=()
for r in w4a8_qdiffusion w4a4_qdiffusion; do have $r && recon_ddpm+=($r); done
for r in w4a8_gan_brecq w4a4_gan_brecq; do have $r && recon_gan+=($r); done
if [ ${#recon_ddpm[@]} -gt 0 ]; then
  $genq -m model=ddpm_digits quant=$(IFS=,; echo "${recon_ddpm[*]}") $common hydra.sweep.dir="$sweep/recon_ddpm"
fi
if [ ${#recon_gan[@]} -gt 0 ]; then
  $genq -m model=dcgan_digits quant=$(IFS=,; echo "${recon_gan[*]}") $common hydra.sweep.dir="$sweep/recon_gan"
fi

rm -rf "$out/records" "$out/curve_records"
.venv/bin/python -m genq.report.tables "$sweep" "$out"
.venv/bin/python scripts/qat_table.py "$out/records" --out "$out"
.venv/bin/python scripts/qat_curve.py $(ls -d "$sweep"/qat/*qat_lsq_w4a4) --out "$out"
