"""Weight SQNR of the embedded DDPM's Conv2d and Linear layers at int8 (symmetric min-max),
per-tensor vs per-channel, summed over all layers. Backs the note in
results/quant_design_space/README.md that per-channel weights are quantized more accurately
even though per-tensor weights gave better samples there.

    .venv/bin/python scripts/weight_sqnr_by_granularity.py [--bits 8] [--model ddpm_digits]
"""

from __future__ import annotations

import argparse

import torch

from genq.config import compose_config
from genq.models import load_generator
from genq.quant.granularity import PerChannel
from genq.quant.primitives import fake_quantize_tensor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bits", type=int, default=8)
    parser.add_argument("--model", default="ddpm_digits")
    args = parser.parse_args()
    cfg = compose_config(f"model={args.model}")
    network = load_generator(cfg.model).network
    totals = {"per_tensor": [0.0, 0.0], "per_channel": [0.0, 0.0]}
    for module in network.modules():
        if type(module) in (torch.nn.Conv2d, torch.nn.Linear):
            w = module.weight.detach()
            for name, g in (("per_tensor", "per_tensor"), ("per_channel", PerChannel(0))):
                totals[name][0] += float(w.pow(2).sum())
                totals[name][1] += float((fake_quantize_tensor(w, args.bits, True, g) - w).pow(2).sum())
    for name, (signal, noise) in totals.items():
        print(f"{args.model} int{args.bits} {name:12s} weight SQNR {10 * torch.log10(torch.tensor(signal / noise)):.1f} dB")


if __name__ == "__main__":
    main()
