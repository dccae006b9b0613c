#!/usr/bin/env bash
# Reproduces results/model_zoo (issue 17): the four embedded models (DDPM UNet, DiT, DCGAN,
# StyleGAN2-style) x W8A8, W4A8, W4A4 x {naive min-max, the best PTQ method that applies}, plus
# QAT at W4A4 (LSQ on all four; LSQ+LoRA with distillation on the two diffusion models), seeds 0,1,2 (seed=s and quant.seed=s), 1,000 samples per run; and on the DiT
# FP/W8A8/W4A8 against classifier-free guidance scale {1, 2, 4}.
#   best PTQ: diffusion -> Q-Diffusion (timestep-uniform calibration, BRECQ blocks with AdaRound,
#   learned activation steps; the shortcut split only where an up block concatenates skips, so
#   not on the DiT); GANs -> GAN BRECQ with bias correction (BatchNorm re-estimation only on the
#   DCGAN, the StyleGAN has none).
#   scripts/reproduce_model_zoo.sh             # every stream, one after the other, then the tables
#   scripts/reproduce_model_zoo.sh dit         # one stream (run two at once on two cores)
#   scripts/reproduce_model_zoo.sh tables      # only the tables, from finished sweeps
# Streams: ddpm dcgan dit stylegan dit_guidance ablation tables. ZOO_SWEEP=dir holds (and resumes) the
# sweeps. The DDPM and DCGAN rows other than best-W8A8 are the same commands as
# scripts/reproduce_seeds.sh; results/model_zoo/records keeps the records the tables were made of.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/genq ] || make install
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
sweep=${ZOO_SWEEP:-multirun/model_zoo}
seeds=${SEEDS:-0,1,2}
genq() { .venv/bin/genq -m "seed=$seeds" 'quant.seed=${seed}' metrics.n_samples=1000 bench.repeats=1 \
  logger=none quant.reconstruction.progress=false quant.qat.progress=false "$@"; }
naive=fp32,w8a8,w4a8,w4a4

ddpm() {
  genq model=ddpm_digits quant=$naive,w8a8_qdiffusion,w4a8_qdiffusion,w4a4_qdiffusion hydra.sweep.dir="$sweep/ddpm"
  genq model=ddpm_digits quant=qat_lsq_w4a4,qat_lora_w4a4 hydra.sweep.dir="$sweep/ddpm_qat"; }
dcgan() {
  genq model=dcgan_digits quant=$naive,w8a8_gan_brecq,w4a8_gan_brecq,w4a4_gan_brecq hydra.sweep.dir="$sweep/dcgan"
  genq model=dcgan_digits quant=qat_lsq_w4a4 hydra.sweep.dir="$sweep/dcgan_qat"; }
dit() {
  genq model=dit_digits quant=$naive hydra.sweep.dir="$sweep/dit"
  genq model=dit_digits quant=w8a8_qdiffusion,w4a8_qdiffusion,w4a4_qdiffusion quant.calibration.shortcut_split=false \
    hydra.sweep.dir="$sweep/dit_best"
  genq model=dit_digits quant=qat_lsq_w4a4,qat_lora_w4a4 hydra.sweep.dir="$sweep/dit_qat"; }
stylegan() {
  genq model=stylegan_digits quant=$naive hydra.sweep.dir="$sweep/stylegan"
  genq model=stylegan_digits quant=w8a8_gan_brecq,w4a8_gan_brecq,w4a4_gan_brecq quant.reconstruction.bn_reestimate=false \
    hydra.sweep.dir="$sweep/stylegan_best"
  genq model=stylegan_digits quant=qat_lsq_w4a4 hydra.sweep.dir="$sweep/stylegan_qat"; }
dit_guidance() {
  genq model=dit_digits model.guidance_scale=1,2,4 quant=fp32,w8a8,w4a8 hydra.sweep.dir="$sweep/dit_guidance"; }
ablation() {  # what makes reconstruction worse than min-max at W8A8: learned activation steps, BN re-estimation
  genq model=ddpm_digits quant=w8a8_qdiffusion quant.reconstruction.learn_act_scale=false hydra.sweep.dir="$sweep/ablation/ddpm"
  genq model=dcgan_digits quant=w8a8_gan_brecq quant.reconstruction.bias_correction=false,true \
    quant.reconstruction.bn_reestimate=false,true hydra.sweep.dir="$sweep/ablation/dcgan"; }
tables() { .venv/bin/python scripts/model_zoo_tables.py "$sweep" --out results/model_zoo; }

case "${1:-all}" in
  ddpm|dcgan|dit|stylegan|dit_guidance|ablation|tables) "$1" ;;
  all) ddpm; dcgan; dit; stylegan; dit_guidance; ablation; tables ;;
  *) echo "usage: $0 [all|ddpm|dcgan|dit|stylegan|dit_guidance|ablation|tables]" >&2; exit 2 ;;
esac
