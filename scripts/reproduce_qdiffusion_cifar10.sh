#!/usr/bin/env bash
# Reproduces Q-Diffusion's CIFAR-10 table (`genq paper=qdiffusion_cifar10`): the hub DDPM
# google/ddpm-cifar10-32, DDIM-100, 50,000 samples per row, torch-fidelity Inception
# FID/IS. Needs, on disk: the hub model (hf download google/ddpm-cifar10-32), CIFAR-10
# (pass its folder as CIFAR10_ROOT, or DOWNLOAD=1 to let torchvision fetch it) and the
# Inception/LPIPS weights in $TORCH_HOME. Meant for a GPU node (DEVICE=cuda, the default);
# on CPU, 50k DDIM-100 samples of five rows take days. Extra arguments go to genq.
set -euo pipefail
cd "$(dirname "$0")/.."
make install
out=${OUT:-results/qdiffusion_cifar10}
sweep=${SWEEP_DIR:-multirun/qdiffusion_cifar10}
data_args=()
[ -n "${CIFAR10_ROOT:-}" ] && data_args+=("data.root=$CIFAR10_ROOT")
[ -n "${DOWNLOAD:-}" ] && data_args+=("data.download=true")
launch=(.venv/bin/genq)
if [ "${NUM_PROCESSES:-1}" -gt 1 ]; then   # one process per GPU: the 50k samples are sharded
  launch=(.venv/bin/accelerate launch --multi_gpu --num_processes "$NUM_PROCESSES" -m genq.run)
fi
"${launch[@]}" paper=qdiffusion_cifar10 device="${DEVICE:-cuda}" "${data_args[@]}" \
  hydra.sweep.dir="$sweep" "$@"
.venv/bin/genq-report "$sweep" --out "$out"
cat "$out/table.md"
