#!/usr/bin/env bash
# Reproduces results/qat/variants ("QAT variants" in results/qat/README.md): the digits DDPM's
# QAT with frozen weights. (1) W4A4 with a rank-8 LoRA update, lr 1e-4; (2) W4A4 with only the
# step sizes learned, lr 1e-4; (3) W4A8 with LoRA rank 8, lr 1e-4. Everything else as in
# scripts/reproduce_qat.sh (500 samples, one thread per process). About 8 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
make install
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
sweep=${SWEEP_DIR:-$(mktemp -d)}
out=results/qat/variants
common=(model=ddpm_digits metrics.n_samples=500 bench.repeats=2 logger=none quant.qat.progress=false)
run() {   # name, overrides...
  local name=$1; shift
  .venv/bin/genq -m "${common[@]}" "$@" hydra.sweep.dir="$sweep/$name"
  mkdir -p "$out/$name"
  cp "$sweep/$name"/0_*/result.json "$sweep/$name"/0_*/samples.png "$out/$name/"
}
run lora8_lr1e-4 quant=qat_lsq_w4a4 quant.qat.lora_rank=8 quant.qat.lr=1e-4 quant.qat.scale_lr=1e-4
run steps_only_lr1e-4 quant=qat_lsq_w4a4 quant.qat.learn_weights=false quant.qat.scale_lr=1e-4
run w4a8_lora8_lr1e-4 quant=qat_lsq_w4a8 quant.qat.lora_rank=8 quant.qat.lr=1e-4 quant.qat.scale_lr=1e-4
.venv/bin/python - "$out" <<'PY'
import json, sys
from pathlib import Path
for p in sorted(Path(sys.argv[1]).glob("*/result.json")):
    m = json.loads(p.read_text())["metrics"]
    print(f"{p.parent.name:20s} FID {m['fid']:.3f}  qFID {m['qfid']:.3f}  LPIPS {m['lpips_vs_fp']:.3f}  PSNR {m['psnr_vs_fp']:.1f}")
PY
