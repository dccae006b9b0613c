"""Per-layer (or per-block) sensitivity: quantize one unit at a time at a recipe and measure
how far the samples move from FP (output MSE, LPIPS-style distance, qFID); and the converse,
everything quantized but that unit (how much of the full model's error it accounts for).
This is the standard mixed-precision sensitivity analysis (e.g. HAWQ, Dong et al. 2019,
uses a Hessian proxy; here it is measured directly on the generated images). Also the
per-layer SQNR of weights and of activations in the fully quantized model."""

from __future__ import annotations

from typing import Any

import torch

from genq.analysis.common import quantized_copy, sqnr_db, units
from genq.metrics import extract, feature_lpips
from genq.metrics.distribution import fid_from_features
from genq.models.base import GeneratorAdapter
from genq.quant.quantizer import FakeQuantizer


def _distance(images: torch.Tensor, fp_images: torch.Tensor, fp_feats: torch.Tensor,
              extractor: Any) -> dict[str, float]:
    return {"output_mse": float((images - fp_images).pow(2).mean()),
            "lpips_vs_fp": float(feature_lpips(extractor.classifier, images, fp_images).mean()),
            "qfid": fid_from_features(fp_feats, extract(extractor, images))}


def layer_sensitivity(fp: GeneratorAdapter, quant_cfg: Any, noise: torch.Tensor, calib: list,
                      extractor: Any, level: str = "layer", batch_size: int = 256) -> list[dict[str, Any]]:
    """One row per unit: its effect quantized alone ("only_*") and left FP ("all_but_*"),
    plus the fully quantized model as the reference ("full_*")."""
    fp_images = fp.sample(noise, batch_size)
    fp_feats = extract(extractor, fp_images)
    full = _distance(quantized_copy(fp, quant_cfg, calib).sample(noise, batch_size), fp_images,
                     fp_feats, extractor)
    rows = []
    for unit, layers in units(fp.network, level).items():
        only = quantized_copy(fp, quant_cfg, calib, include=layers).sample(noise, batch_size)
        rest = quantized_copy(fp, quant_cfg, calib, exclude=layers).sample(noise, batch_size)
        row: dict[str, Any] = {"unit": unit, "layers": len(layers)}
        row.update({f"only_{k}": v for k, v in _distance(only, fp_images, fp_feats, extractor).items()})
        row.update({f"all_but_{k}": v for k, v in _distance(rest, fp_images, fp_feats, extractor).items()})
        row.update({f"full_{k}": v for k, v in full.items()})
        # share of the full model's LPIPS removed by keeping this unit in FP
        row["recovered_lpips_fraction"] = (1 - row["all_but_lpips_vs_fp"] / full["lpips_vs_fp"]
                                           if full["lpips_vs_fp"] > 0 else 0.0)
        rows.append(row)
    rows.sort(key=lambda r: r["only_lpips_vs_fp"], reverse=True)
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank
    return rows


@torch.no_grad()
def layer_sqnr(fp: GeneratorAdapter, quant_cfg: Any, calib: list) -> list[dict[str, Any]]:
    """Weight and input-activation SQNR (dB) of every quantized layer of the fully quantized
    model, activations measured on the calibration inputs."""
    q = quantized_copy(fp, quant_cfg, calib)
    sums: dict[str, list[float]] = {}
    hooks = []
    for name, mod in q.network.named_modules():
        if isinstance(mod, FakeQuantizer) and name.endswith("input_quantizer"):
            layer = name.rsplit(".", 1)[0]
            sums[layer] = [0.0, 0.0]

            def hook(_m, inputs, output, key=layer):
                x = inputs[0]
                sums[key][0] += float(x.double().pow(2).sum())
                sums[key][1] += float((x - output).double().pow(2).sum())
            hooks.append(mod.register_forward_hook(hook))
    for batch in calib:
        q.network(*batch)
    for h in hooks:
        h.remove()
    rows = []
    for name, mod in q.network.named_modules():
        wq = getattr(mod, "weight_quantizer", None)
        if wq is None and name not in sums:
            continue
        row: dict[str, Any] = {"layer": name, "type": type(mod).__name__.replace("Quant", "")}
        if wq is not None:
            row["weight_sqnr_db"] = sqnr_db(mod.weight_fp, wq(mod.weight_fp))
        if name in sums and sums[name][1] > 0:
            row["activation_sqnr_db"] = float(10 * torch.log10(torch.tensor(sums[name][0] / sums[name][1])))
        rows.append(row)
    return rows
