"""Block-by-block reconstruction of a calibrated, fake-quantized model against its FP twin:
AdaRound weight rounding (Nagel et al., 2020, arXiv:2004.10568) per layer (``adaround``) or
per block (``brecq``, Li et al., 2021, arXiv:2102.05426), then optionally learned activation
step sizes (LSQ, Esser et al., 2020, arXiv:1902.08153), as Q-Diffusion (Li et al., 2023)
runs them on (x_t, t) calibration pairs.

For each unit, in forward order: its inputs come from the quantized model (the units before
it already reconstructed), its target from the FP model; the loss is the block output's
squared error summed over channels, averaged over the rest (Q-Diffusion's ``lp_loss``; BRECQ's
Fisher weighting needs a task loss that a generator lacks). During the weight phase the
activation quantizers of the unit are off, as in BRECQ; the step-size phase turns them on.
"""

from __future__ import annotations

import time
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from genq.progress import bar_options

from genq.errors import GenqError
from genq.quant.calibration.data import CalibrationSet, stack_inputs
from genq.quant.reconstruction.adaround import AdaRoundQuantizer, adaround_layer, beta_schedule
from genq.quant.reconstruction.blocks import Block, find_blocks, forward_order
from genq.quant.reconstruction.capture import BlockData, capture_inputs, capture_outputs
from genq.quant.reconstruction.step_size import activation_quantizers, learn_step_sizes, set_act_mode
from genq.quant.timestep_quant import timestep_context


def run_block(model: nn.Module, block: Block, args: tuple, kwargs: dict[str, Any],
              t: torch.Tensor | None = None) -> torch.Tensor:
    """The block's output on captured inputs (the timestep context set to ``t``)."""
    ctx = timestep_context(model)
    if ctx is not None and t is not None:
        ctx.set(t)
    mods = [model.get_submodule(m) for m in block.members]
    out = mods[0](*args, **kwargs)
    for m in mods[1:]:
        out = m(out)
    return out[0] if isinstance(out, (tuple, list)) else out


def check_finite(loss: torch.Tensor, block: str, phase: str, it: int) -> None:
    """Stop with one sentence when a reconstruction loss is NaN/inf (before the step)."""
    if not torch.isfinite(loss):
        raise GenqError(f"reconstruction of {block} produced a non-finite loss ({float(loss)}) at "
                        f"{phase} iteration {it}; lower quant.reconstruction.lr / act_lr, or check the "
                        "calibration data of this block.")


def block_loss(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Squared error summed over channels (dim 1), averaged over batch and positions."""
    return (out - target).pow(2).sum(1).mean()


@torch.no_grad()
def block_error(model: nn.Module, block: Block, data: BlockData, batch_size: int = 64) -> float:
    total = 0.0
    for rows in torch.arange(len(data)).split(batch_size):
        args, kwargs, target, t = data.batch(rows)
        total += block_loss(run_block(model, block, args, kwargs, t), target).item() * len(rows)
    return total / len(data)


def _set_layers_training(layers: list[nn.Module], mode: bool) -> None:
    for layer in layers:
        layer.train(mode)                  # quantized layers only: bypasses the weight cache


@torch.no_grad()
def _bake(layers: list[nn.Module], originals: list[Any]) -> None:
    """Write the hard-rounded weights (exactly on the grid) into the layers and give them back
    their calibrated quantizers, which round them to the same integers: the result is an
    ordinary fake-quantized layer (sizes, int8 backends and the weight cache work as usual)."""
    for layer, wq in zip(layers, originals):
        ada = layer.weight_quantizer
        if isinstance(ada, AdaRoundQuantizer):
            layer.weight_fp.copy_(ada(layer.weight_fp))
            layer.weight_quantizer = wq


def reconstruct_block(model: nn.Module, block: Block, data: BlockData, cfg: Any,
                      bar: Any = None) -> dict[str, float]:
    """AdaRound the block's weights (then learn its activation step sizes, if asked)."""
    layers = [model.get_submodule(n) for n in block.layers]
    before = block_error(model, block, data)          # nearest rounding, as calibrated
    originals = [layer.weight_quantizer for layer in layers]
    rounders = [adaround_layer(layer) for layer in layers]
    rounders = [r for r in rounders if r is not None]
    acts = activation_quantizers(model.get_submodule(block.first) if len(block.members) == 1
                                 else nn.ModuleList(model.get_submodule(m) for m in block.members))
    gen = torch.Generator().manual_seed(cfg.seed)
    n = len(data)
    converged = None
    if rounders:
        saved = set_act_mode(acts, "off")
        _set_layers_training(layers, True)
        opt = torch.optim.Adam([r.alpha for r in rounders], lr=cfg.lr)
        for it in range(cfg.iters):
            rows = torch.randint(n, (min(cfg.batch_size, n),), generator=gen)
            args, kwargs, target, t = data.batch(rows)
            with torch.enable_grad():
                loss = block_loss(run_block(model, block, args, kwargs, t), target)
                beta = beta_schedule(it, cfg.iters, cfg.warmup, cfg.beta_start, cfg.beta_end)
                if beta is not None:
                    loss = loss + cfg.round_weight * sum(r.regulariser(beta) for r in rounders)
                check_finite(loss, block.name, "rounding", it)
                opt.zero_grad(set_to_none=True)
                loss.backward()
            opt.step()
            if bar is not None:
                bar.update(1)
                if it % 50 == 0:
                    bar.set_postfix(block=block.name, loss=f"{loss.item():.4g}")
        with torch.no_grad():
            h = torch.cat([r.rectified().flatten() for r in rounders])
            converged = ((h == 0) | (h == 1)).float().mean().item()
        for r in rounders:
            r.harden()
        _set_layers_training(layers, False)
        _bake(layers, originals)
        set_act_mode(acts, saved)
    if cfg.learn_act_scale and acts:
        learn_step_sizes(lambda a, k, t: run_block(model, block, a, k, t), data, acts, cfg, gen,
                         block_loss, bar)
    for layer in layers:
        for p in layer.parameters():
            p.grad = None
    return {"before": before, "after": block_error(model, block, data), "converged": converged,
            "weights": sum(r.alpha.numel() for r in rounders)}


def reconstruct(fp_network: nn.Module, q_network: nn.Module, calib: CalibrationSet,
                cfg: Any, block_names: dict[str, str] | None = None) -> dict[str, Any]:
    """Reconstruct ``q_network`` unit by unit against ``fp_network`` on ``calib``;
    ``block_names`` (module name -> kind, from the adapter) names BRECQ's blocks."""
    start = time.perf_counter()
    rows = calib.subset(cfg.samples, cfg.seed)
    inputs = stack_inputs(rows)
    batches = inputs.chunks(64)
    t_all = inputs.t
    blocks = forward_order(q_network, find_blocks(q_network, cfg.method, block_names), batches[0])
    grads = {p: p.requires_grad for p in q_network.parameters()}
    for p in grads:
        p.requires_grad_(False)
    errors = []
    total = len(blocks) * (cfg.iters + (cfg.act_iters if cfg.learn_act_scale else 0))
    with tqdm(total=total, desc=f"{cfg.method} ({len(blocks)} units)", disable=not cfg.progress,
              leave=False, **bar_options()) as bar:
        for block in blocks:
            args, kwargs = capture_inputs(q_network, block.first, batches)
            target = capture_outputs(fp_network, block.last, batches)
            data = BlockData(args, kwargs, target, t_all)
            errors.append({"block": block.name, "kind": block.kind,
                           **reconstruct_block(q_network, block, data, cfg, bar)})
    for p, flag in grads.items():
        p.requires_grad_(flag)
    before = sum(e["before"] for e in errors)
    after = sum(e["after"] for e in errors)
    return {"method": cfg.method, "units": len(blocks),
            "kinds": {k: sum(e["kind"] == k for e in errors) for k in sorted({e["kind"] for e in errors})},
            "iters": cfg.iters, "samples": len(rows), "batch_size": cfg.batch_size, "lr": cfg.lr,
            "round_weight": cfg.round_weight, "learn_act_scale": cfg.learn_act_scale,
            "act_iters": cfg.act_iters if cfg.learn_act_scale else 0,
            "block_error_before": round(before, 6), "block_error_after": round(after, 6),
            "units_improved": sum(e["after"] < e["before"] for e in errors),
            # share of soft rounding values h(V) already at exactly 0 or 1 when hardened
            "soft_rounding_converged": round(sum(e["converged"] * e["weights"] for e in errors
                                                 if e["converged"] is not None)
                                             / max(1, sum(e["weights"] for e in errors)), 4),
            "reconstruction_only_s": round(time.perf_counter() - start, 3)}
