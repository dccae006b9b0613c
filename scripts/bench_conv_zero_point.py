"""Benchmark: what an activation zero point costs oneDNN's int8 convolution, per conv shape.

genq's static activations are asymmetric uint8, and convolutions that follow SiLU or
GroupNorm see a nonzero zero point. This times a stack of four 3x3 conv + SiLU layers (the
shape of a Stable Diffusion 1.5 ResNet at each resolution of a 32x32 latent), W8A8 with bf16
around it, lowered three ways (``bench.conv_zero_point``: ``implicit``, ``pad``, ``fold``;
genq.bench.backends.conv_zero_point), against the same stack cast to bf16 and compiled with
frozen weights, round-robin in one process. Prints ms per call and each ratio to bf16
compiled, with the CPU and its ISA, and the largest |int8 - simulated| per variant.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/bench_conv_zero_point.py [--threads 1] [--shapes 320x32,640x16]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
from torch import nn

from genq.bench.backends.conv_zero_point import MODES
from genq.bench.isa import cpu_info
from genq.quant import QuantRecipe, quantize_

SHAPES = "320x32,640x16,1280x8,1280x4"


class ConvStack(nn.Module):
    def __init__(self, channels: int, depth: int = 4) -> None:
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(channels, channels, 3, padding=1) for _ in range(depth))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in self.convs:
            x = torch.nn.functional.silu(conv(x))
        return x


def variants(channels: int, size: int) -> tuple[dict, torch.Tensor, torch.Tensor]:
    from genq.bench.backends.cpu_int8 import build_cpu_int8
    from genq.bench.backends.float_baselines import cast_fn

    torch.manual_seed(0)
    net = ConvStack(channels).eval()
    x = torch.randn(1, channels, size, size)
    q = copy.deepcopy(net)
    quantize_(q, QuantRecipe(w_bits=8, a_bits=8), calib=[(torch.randn(2, channels, size, size),)])
    with torch.no_grad():
        sim = q(x)
    fns = {"bf16_compiled": cast_fn(net, "bfloat16")}
    for mode in MODES:
        fns[f"int8_bf16 {mode}"] = build_cpu_int8(q, (x,), mixed_bf16=True, conv_zero_point=mode)["fn"]
    return fns, x, sim


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shapes", default=SHAPES, help="channels x spatial size, comma separated")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=15)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    cpu = cpu_info()
    print(f"{cpu['model']} ({', '.join(cpu['isa'])}); {a.threads} thread(s); median of {a.repeats}, round-robin")
    print("| conv stack | " + " | ".join(["bf16_compiled"] + [f"int8_bf16 {m}" for m in MODES])
          + " | " + " | ".join(f"{m} / bf16 compiled" for m in MODES) + " | max abs(int8 - sim) |")
    print("|---" * (2 + 2 * len(MODES)) + "|---|")
    for shape in a.shapes.split(","):
        c, s = (int(v) for v in shape.split("x"))
        fns, x, sim = variants(c, s)
        times = {k: [] for k in fns}
        err = 0.0
        for k, fn in fns.items():            # warm-up (compiles)
            out = fn(x)
            if k.startswith("int8"):
                err = max(err, float((out - sim).abs().max()))
        for _ in range(a.repeats):
            for k, fn in fns.items():
                start = time.perf_counter()
                fn(x)
                times[k].append(time.perf_counter() - start)
        ms = {k: 1e3 * statistics.median(v) for k, v in times.items()}
        base = ms["bf16_compiled"]
        print(f"| 4 x conv3x3+SiLU, {c} ch, {s}x{s} | " + " | ".join(f"{v:.2f} ms" for v in ms.values())
              + " | " + " | ".join(f"{base / ms[f'int8_bf16 {m}']:.2f}x" for m in MODES) + f" | {err:.3g} |")


if __name__ == "__main__":
    main()
