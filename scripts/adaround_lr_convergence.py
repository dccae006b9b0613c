"""How many AdaRound rounding variables end hard (exactly 0 or 1) after the default 300
iterations, at rounding lr 0.01 and 0.05, on the embedded DCGAN at W4A8 with BRECQ: the
measurement behind quant.reconstruction.lr's default (docs/ptq_methods.md).

    .venv/bin/python scripts/adaround_lr_convergence.py
"""

from __future__ import annotations

import torch

from genq.config import compose_config
from genq.models.registry import load_generator
from genq.quant.ptq_pipeline import run_ptq


def main() -> None:
    for lr in (0.01, 0.05):
        cfg = compose_config("model=dcgan_digits", "quant=w4a8_brecq", f"quant.reconstruction.lr={lr}",
                             "quant.reconstruction.progress=false")
        torch.manual_seed(cfg.seed)
        fp = load_generator(cfg.model)
        info = run_ptq(fp, cfg.quant, cfg.seed).info["reconstruction"]
        print(f"lr {lr}: {100 * info['soft_rounding_converged']:.1f}% of rounding variables hard; "
              f"block error {info['block_error_before']:.3f} -> {info['block_error_after']:.3f}")


if __name__ == "__main__":
    main()
