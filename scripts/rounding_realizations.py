"""How much of a weight-granularity comparison is the luck of one rounding pattern?

The digits DDPM gave better samples with per-tensor than with per-channel int8 weights
(results/quant_design_space), although per-channel weights are closer to FP in every layer.
This script quantizes the UNet's Conv2d and Linear weights only (activations FP), per tensor
and per channel, three ways on genq's min-max grid (``genq.quant.primitives``):
round-to-nearest (what genq's PTQ does), round-to-nearest on a slightly different but equally
valid grid (scale max/127 instead of torch's max/127.5), and unbiased stochastic rounding
with several seeds (Gupta et al., 2015, arXiv:1502.02551), each a different draw of the
rounding errors at the same precision. It reports the PSNR of the samples against FP from
the same noise. Writes <out>/rounding_realizations.{md,json} (default results/quant_design_space).

    .venv/bin/python scripts/rounding_realizations.py [--bits 8 6] [--seeds 10] [--samples 128]
    # the formats study's int4 per-channel vs per-group question (results/formats):
    .venv/bin/python scripts/rounding_realizations.py --bits 4 --granularities per_channel per_group \
        --group-size 32 --exclude conv_in --out results/formats
    .venv/bin/python scripts/rounding_realizations.py --per-layer --samples 64   # one layer at a time

``--per-layer`` quantizes one layer at a time (round-to-nearest, W8) and compares the sum of
the single-layer sample errors with the error of all layers quantized together, per tensor and
per channel: rounding_per_layer.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch


def quantize(w: torch.Tensor, bits: int, granularity: str, how: str, gen: torch.Generator | None,
             group_size: int = 32) -> torch.Tensor:
    """``w`` on the symmetric min-max grid, per tensor, per output channel, or per group of
    ``group_size`` input channels (genq's per-group weights; per channel where the group does
    not divide the input channels)."""
    from genq.quant.granularity import PerGroup
    from genq.quant.primitives import _group_view, choose_qparams, qparams_from_range, qrange

    qmin, qmax = qrange(bits, True)
    if granularity == "per_group" and w.shape[1] % group_size == 0:
        grouped = _group_view(w, PerGroup(group_size, 1))
        scale, _ = qparams_from_range(grouped.amin(-1, keepdim=True), grouped.amax(-1, keepdim=True), bits, True)
        out = _rounded(grouped, scale, qmin, qmax, how, gen)
        return out.reshape(w.movedim(1, -1).shape).movedim(-1, 1)
    scale, _ = choose_qparams(w, bits, True, "per_channel" if granularity == "per_group" else granularity, axis=0)
    return _rounded(w, scale, qmin, qmax, how, gen)


def _rounded(w: torch.Tensor, scale: torch.Tensor, qmin: int, qmax: int, how: str,
             gen: torch.Generator | None) -> torch.Tensor:
    if how == "rtn_alt_grid":
        scale = scale * ((qmax - qmin) / 2) / qmax        # max/127 instead of max/127.5 at 8 bits
    x = w / scale
    x = torch.floor(x + torch.rand(x.shape, generator=gen)) if how == "stochastic" else torch.round(x)
    return x.clamp(qmin, qmax) * scale


def db(mse: float) -> float:
    """PSNR of images in [-1, 1] (peak-to-peak 2, so peak^2 = 4) for a mean squared error."""
    return float(10 * torch.log10(torch.tensor(4.0 / mse)))


@torch.no_grad()
def set_weights(layers, make) -> None:
    """Give every layer the weight ``make(name)``."""
    for n, m in layers:
        m.weight.data.copy_(make(n))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="ddpm_digits")
    p.add_argument("--bits", type=int, nargs="+", default=[8, 6])
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--samples", type=int, default=128)
    p.add_argument("--out", type=Path, default=Path("results/quant_design_space"))
    p.add_argument("--per-layer", action="store_true", help="one layer at a time, W8 round-to-nearest")
    p.add_argument("--granularities", nargs="+", default=["per_tensor", "per_channel"],
                   choices=["per_tensor", "per_channel", "per_group"])
    p.add_argument("--group-size", type=int, default=32)
    p.add_argument("--exclude", nargs="*", default=[], help="layers kept FP (e.g. conv_in, as the formats study)")
    a = p.parse_args(argv)

    from genq.bench import device_name
    from genq.config import compose_config
    from genq.models import load_generator

    fp = load_generator(compose_config(f"model={a.model}", "logger=none").model)
    noise = fp.make_noise(a.samples, 0)
    ref = fp.sample(noise, a.samples)
    work = fp.clone()
    layers = [(n, m) for n, m in work.network.named_modules()
              if type(m) in (torch.nn.Conv2d, torch.nn.Linear) and n not in a.exclude]
    original = {n: m.weight.data.clone() for n, m in layers}
    rows = []
    start = time.perf_counter()
    a.out.mkdir(parents=True, exist_ok=True)
    if a.per_layer:
        return per_layer(work, layers, original, noise, ref, a, start)
    for bits in a.bits:
        for granularity in a.granularities:
            draws = {"rtn": [None], "rtn_alt_grid": [None], "stochastic": list(range(1, a.seeds + 1))}
            result = {"bits": bits, "granularity": granularity if granularity != "per_group"
                      else f"per_group g{a.group_size}"}
            for how, seeds in draws.items():
                values = []
                for seed in seeds:
                    gen = None if seed is None else torch.Generator().manual_seed(seed)
                    set_weights(layers, lambda n: quantize(original[n], bits, granularity, how, gen, a.group_size))
                    values.append(db(float((work.sample(noise, a.samples) - ref).pow(2).mean())))
                result[how] = values
            rows.append(result)
            sr = result["stochastic"]
            print(f"W{bits} {result['granularity']:11s} RTN {result['rtn'][0]:.2f} dB, RTN alt grid "
                  f"{result['rtn_alt_grid'][0]:.2f}, stochastic mean {statistics.mean(sr):.2f} "
                  f"(sd {statistics.stdev(sr):.2f}, {min(sr):.2f}..{max(sr):.2f})", flush=True)
    meta = {"model": a.model, "samples": a.samples, "seeds": a.seeds, "device": device_name(),
            "wall_s": round(time.perf_counter() - start, 1), "quantized": "Conv2d and Linear weights, symmetric "
            "min-max int grid; activations FP", "metric": "PSNR (dB) of samples vs FP samples from the same noise",
            "excluded": a.exclude, "command": "scripts/rounding_realizations.py " + " ".join(argv or sys.argv[1:])}
    (a.out / "rounding_realizations.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    md = [f"# Weight rounding realizations: {a.model}, weights only, PSNR vs FP (dB, {a.samples} samples)", "",
          f"Command: `.venv/bin/python {meta['command'].strip()}`; {meta['device']}; {meta['wall_s']} s.", "",
          "| weights | round-to-nearest (genq) | RTN, scale max/qmax | stochastic rounding: mean | sd | min | max |",
          "|---|---|---|---|---|---|---|"]
    for r in rows:
        sr = r["stochastic"]
        md.append(f"| W{r['bits']} {r['granularity']} | {r['rtn'][0]:.2f} | {r['rtn_alt_grid'][0]:.2f} | "
                  f"{statistics.mean(sr):.2f} | {statistics.stdev(sr):.2f} | {min(sr):.2f} | {max(sr):.2f} |")
    (a.out / "rounding_realizations.md").write_text("\n".join(md) + "\n")
    return 0


def per_layer(work, layers, original, noise, ref, a, start: float) -> int:
    """Sample error of each layer quantized alone (W8 RTN) against all layers together."""
    from genq.bench import device_name

    def mse() -> float:
        return float((work.sample(noise, a.samples) - ref).pow(2).mean())

    out = {}
    for granularity in ("per_tensor", "per_channel"):
        quantized = {n: quantize(original[n], 8, granularity, "rtn", None) for n, _ in layers}
        single = {}
        for name, _ in layers:
            set_weights(layers, lambda n: quantized[n] if n == name else original[n])
            single[name] = mse()
        set_weights(layers, lambda n: quantized[n])
        joint = mse()
        set_weights(layers, lambda n: original[n])
        out[granularity] = {"single_layer_psnr": {n: db(v) for n, v in single.items()},
                            "sum_of_single_layer_mse_as_psnr": db(sum(single.values())), "joint_psnr": db(joint)}
        print(f"W8 {granularity}: single layers added {out[granularity]['sum_of_single_layer_mse_as_psnr']:.2f} dB, "
              f"all together {out[granularity]['joint_psnr']:.2f} dB", flush=True)
    pc_worse = sorted(((out["per_tensor"]["single_layer_psnr"][n] - out["per_channel"]["single_layer_psnr"][n], n)
                       for n, _ in layers), reverse=True)
    meta = {"model": a.model, "samples": a.samples, "device": device_name(), "wall_s": round(time.perf_counter() - start, 1)}
    (a.out / "rounding_per_layer.json").write_text(json.dumps({"meta": meta, **out}, indent=1))
    md = [f"# One layer at a time: {a.model}, W8 round-to-nearest weights, PSNR vs FP (dB, {a.samples} samples)", "",
          f"Command: `.venv/bin/python scripts/rounding_realizations.py --per-layer --samples {a.samples}`; "
          f"{meta['device']}; {meta['wall_s']} s.", "",
          "| weights | single-layer errors added | all layers together |", "|---|---|---|"]
    md += [f"| W8 {g} | {out[g]['sum_of_single_layer_mse_as_psnr']:.2f} | {out[g]['joint_psnr']:.2f} |" for g in out]
    md += ["", "Layers where per-channel alone is worse than per-tensor alone (dB difference):", ""]
    md += [f"- `{n}`: {d:.2f}" for d, n in pc_worse if d > 0]
    (a.out / "rounding_per_layer.md").write_text("\n".join(md) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
