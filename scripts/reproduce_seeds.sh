#!/usr/bin/env bash
# The committed studies restated on 3 seeds (issue 15): every row that a finding of
# digits_bits, ptq_methods or qat rests on, run with seed=s and quant.seed=s for s in 0,1,2
# (evaluation noise bank and everything the quantizer draws both varied), 1,000 samples per
# run, then one aggregated table per study (mean and 95% t-interval over seeds, pairwise
# comparisons) under results/<study>/seeds/ (scripts/seed_studies.py).
#   scripts/reproduce_seeds.sh                 # all streams one after the other, then the tables
#   scripts/reproduce_seeds.sh ddpm_ptq        # one stream (run two at once on two cores)
#   scripts/reproduce_seeds.sh tables          # only the tables, from finished sweeps
# SEEDS_SWEEP=dir holds (and resumes) the sweeps; OMP_NUM_THREADS=1 per process (two OpenMP
# threads per process mostly spin on 2 shared cores, see scripts/reproduce_qat.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/genq ] || make install
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
sweep=${SEEDS_SWEEP:-multirun/seeds}
seeds=${SEEDS:-0,1,2}
genq() { .venv/bin/genq -m "seed=$seeds" 'quant.seed=${seed}' metrics.n_samples=1000 bench.repeats=1 \
  logger=none quant.reconstruction.progress=false quant.qat.progress=false "$@"; }
bits=fp32,w8a16,w8a8,w6a6,w4a16,w4a8,w4a4,w2a8

ddpm_ptq() { genq model=ddpm_digits \
  quant=$bits,w4a8_last,w4a8_qdiff_calib,w4a8_brecq,w4a8_qdiffusion,w4a4_tdq,w4a4_qdiffusion \
  hydra.sweep.dir="$sweep/ddpm_ptq"; }
ddpm_qat() {
  genq model=ddpm_digits quant=w4a4,w2a8 quant.observer=mse quant.w_observer=mse hydra.sweep.dir="$sweep/ddpm_mse"
  genq model=ddpm_digits quant=w4a4 quant.observer=mse hydra.sweep.dir="$sweep/ddpm_amse"   # MSE activation ranges only
  genq model=ddpm_digits quant=qat_lsq_w4a4,qat_lora_w4a4,qat_lsq_w2a8 hydra.sweep.dir="$sweep/ddpm_qat"; }
gan() {
  genq model=dcgan_digits quant=$bits,w4a8_gan_brecq,w4a4_gan_brecq hydra.sweep.dir="$sweep/gan"
  genq model=dcgan_digits quant=w4a4,w2a8 quant.observer=mse quant.w_observer=mse hydra.sweep.dir="$sweep/gan_mse"
  genq model=dcgan_digits quant=qat_lsq_w4a4,qat_lsq_w2a8 hydra.sweep.dir="$sweep/gan_qat"; }
tables() {
  .venv/bin/python scripts/seed_studies.py "$sweep" --out results
  .venv/bin/python scripts/classifier_vs_generator_seeds.py --records results/digits_bits/seeds/records \
    --out results/diagnostics/classifier_vs_generator_seeds; }

case "${1:-all}" in
  ddpm_ptq|ddpm_qat|gan|tables) "$1" ;;
  all) ddpm_ptq; ddpm_qat; gan; tables ;;
  *) echo "usage: $0 [all|ddpm_ptq|ddpm_qat|gan|tables]" >&2; exit 2 ;;
esac
