"""QAT of an adapter: prepare -> train -> convert, as torchao's QAT flow does.

- prepare: PTQ on a clone (:func:`genq.quant.quantize_`, calibrated on the same FP-trajectory
  inputs or latents PTQ uses), then every calibrated static fake quantizer becomes a learned
  step size (LSQ / LSQ+, :mod:`genq.qat.lsq`); block-scaled weights (MX, NVFP4) recompute
  their block scales from the current weight and minifloats keep their calibrated scale,
  straight-through (:mod:`genq.qat.format_weights`); optionally a LoRA update per layer
  (:mod:`genq.qat.lora`).
- train: distillation from the frozen FP teacher (:mod:`genq.qat.distill`) in the accelerate
  loop (:mod:`genq.qat.loop`).
- convert: LoRA merged, block-scaled weights frozen on their final values, every parameter
  frozen (requires_grad False), the network back in eval mode, so inference uses the cached
  fake-quantized weights like any PTQ model.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf
from torch import nn

from genq.config.qat import validate_qat
from genq.config.qat import qat_fingerprint as fingerprint
from genq.errors import GenqError
from genq.models.base import GeneratorAdapter
from genq.qat.distill import GANDistiller, TrajectoryDistiller
from genq.qat.format_weights import fixed_format_quantizers, freeze_block_weights, track_block_weights
from genq.qat.lora import add_lora, lora_parameters, merge_lora
from genq.qat.loop import LoopResult, train
from genq.qat.lsq import LSQQuantizer, make_learnable
from genq.quant.api import quantize_
from genq.quant.modules import QuantMixin
from genq.quant.calibration import CalibrationSet
from genq.quant.outcome import QuantOutcome
from genq.quant.plan import plan_for
from genq.quant.ptq_pipeline import build_calibration


def _plain(q: Any) -> dict[str, Any]:
    if OmegaConf.is_config(q):
        return OmegaConf.to_container(q, resolve=True)
    from dataclasses import asdict, is_dataclass

    return asdict(q) if is_dataclass(q) else dict(q)


def set_training(network: nn.Module, training: bool) -> None:
    """Norm layers stay in eval mode (frozen statistics); quantized layers train, so that
    they fake-quantize their weights with gradients instead of using the inference cache."""
    network.eval()
    for m in network.modules():
        if isinstance(m, QuantMixin):
            m.training = training


def prepare(student: GeneratorAdapter, q: Any, calib: CalibrationSet | list | None,
            seed: int = 0) -> dict[str, Any]:
    """PTQ-initialise ``student.network`` (``calib``: a calibration set, or what
    ``quantize_(calib=...)`` takes) and make its quantizers (and optionally LoRA, drawn from
    ``seed``) trainable. The plan is the recipe's, or the plan file it names."""
    plan = plan_for(student.network, q, validated=True)
    feed = calib.run if isinstance(calib, CalibrationSet) else calib
    static = plan.needs_static_calibration()
    report = quantize_(student.network, calib=feed if static else None, plan=plan)
    qat = q.qat
    net = student.network
    net.requires_grad_(False)
    lora = add_lora(net, qat.lora_rank, qat.lora_alpha, seed + 4) if qat.lora_rank else []
    learnable = make_learnable(net, learn_offset=qat.lsq_plus, use_grad_scale=qat.grad_scale)
    tracked = track_block_weights(net)
    fixed = fixed_format_quantizers(net)
    weights = qat.learn_weights and any(isinstance(m, QuantMixin) and m.weight_quantizer is not None
                                        for m in net.modules())
    if not learnable and not lora and not weights:
        raise GenqError("quant.method=qat found nothing to learn: no integer static quantizer (dynamic "
                        "activations, non-integer formats and FP layers have no step size), no LoRA "
                        "and quant.qat.learn_weights=false or no quantized weight; accepted: a recipe "
                        "with quantized weights and learn_weights=true or lora_rank > 0, or static "
                        "integer quant.a_bits.")
    return {"report": report, "learnable_quantizers": learnable, "lora_layers": len(lora),
            "tracked_block_weights": tracked, "fixed_scale_quantizers": fixed, "static": static}


def param_groups(net: nn.Module, qat: Any) -> list[dict[str, Any]]:
    """Step sizes / offsets at ``scale_lr``; LoRA factors, or else the quantized layers'
    weights and biases (``learn_weights``), at ``lr``."""
    quant = [p for m in net.modules() if isinstance(m, LSQQuantizer) for p in m.parameters()]
    if qat.lora_rank:
        weights = lora_parameters(net)
    elif qat.learn_weights:
        weights = [p for m in net.modules() if isinstance(m, QuantMixin)
                   for p in (m.weight_fp, m.bias) if p is not None]
    else:
        weights = []
    for p in quant + weights:
        p.requires_grad_(True)
    groups = [{"params": quant, "lr": qat.scale_lr, "weight_decay": 0.0}]
    if weights:
        groups.append({"params": weights, "lr": qat.lr})
    return groups


def convert(net: nn.Module) -> int:
    """Merge LoRA, freeze block-scaled weights on their final values, freeze everything, eval
    mode (the cached-weight inference path)."""
    merged = merge_lora(net)
    freeze_block_weights(net)
    net.requires_grad_(False)
    set_training(net, False)
    return merged


def _digits_real(fp: GeneratorAdapter) -> torch.Tensor:
    from genq.data.digits import load_digits

    c, r, _ = fp.image_shape
    if c != 1:
        raise GenqError(f"quant.qat.denoise_weight / adv_weight need the embedded digits (1 channel); "
                        f"this model makes {c}-channel images; accepted: 0.")
    return load_digits("train", resolution=r).images


def make_distiller(fp: GeneratorAdapter, q: Any, train_inputs: list[tuple]):
    qat = q.qat
    if fp.is_denoiser:                       # the FP trajectories' (x_t, t) pairs are the inputs
        real = sched = None
        if qat.denoise_weight:
            if not hasattr(fp, "training_scheduler"):
                raise GenqError("quant.qat.denoise_weight needs a genq diffusion model with a "
                                "training schedule; accepted: 0 for this model.")
            real, sched = _digits_real(fp), fp.training_scheduler()
        return TrajectoryDistiller(fp.network, train_inputs, qat.batch_size, real, sched, qat.denoise_weight)
    features = None
    if qat.feature_weight:
        from genq.models.registry import load_classifier

        classifier = load_classifier("embedded")
        c, r, _ = fp.image_shape
        if (c, r) != (1, 16):
            raise GenqError(f"quant.qat.feature_weight uses the digits classifier (1x16x16 images); "
                            f"this model makes {c}x{r}x{r}; accepted: feature_weight=0.")
        features = classifier
    disc = getattr(fp, "discriminator", None) if qat.adv_weight else None
    if qat.adv_weight and disc is None:
        raise GenqError("quant.qat.adv_weight needs the model's trained discriminator, which this "
                        "checkpoint does not hold; accepted: adv_weight=0.")
    shape = train_inputs[0][0].shape[1:]
    return GANDistiller(fp.network, lambda n, gen: torch.randn(n, *shape, generator=gen),
                        qat.batch_size, features, qat.feature_weight, disc, qat.adv_weight)


def _log_callbacks(out_dir: Path | None) -> list:
    callbacks = []
    if out_dir is not None:
        log = out_dir / "log.jsonl"

        def to_file(step: int, row: dict[str, Any]) -> None:
            with log.open("a") as f:
                f.write(json.dumps(row) + "\n")
        callbacks.append(to_file)
    try:
        import wandb
    except ImportError:  # pragma: no cover - wandb is a dependency of genq
        wandb = None
    if wandb is not None and wandb.run is not None:   # a run the caller already started
        callbacks.append(lambda step, row: wandb.run.log({f"qat/{k}": v for k, v in row.items()}))
    return callbacks


def run_qat(fp: GeneratorAdapter, q: Any, seed: int, run_dir: str | Path | None = None,
            validated: bool = False) -> QuantOutcome:
    """Quantize a clone of ``fp`` with LSQ QAT distilled from ``fp``; ``fp`` is untouched."""
    qat = q.qat
    if not validated:                       # genq.config.validate checked it already
        validate_qat(qat, fp.family)
    if run_dir is None and (qat.checkpoint_every or qat.eval_at):
        raise GenqError("quant.qat.checkpoint_every / eval_at need a run folder to write into; "
                        "accepted without one: checkpoint_every=0 and eval_at=[].")
    out_dir = Path(run_dir) / "qat" if run_dir is not None else None
    student = fp.clone()
    t0, cpu0 = time.perf_counter(), time.process_time()
    calib = build_calibration(fp, q, seed)                       # the same data PTQ calibrates on
    calibration_s = time.perf_counter() - t0
    prepared = prepare(student, q, calib, seed)
    static = prepared["static"]              # the plan's decision (a quant.plan file included)
    prepare_s, prepare_cpu_s = time.perf_counter() - t0, time.process_time() - cpu0
    calib_inputs = [c.positional(fp.network) for c in calib.batches]   # the distillers' positional inputs
    if not fp.is_denoiser:
        train_inputs, source = calib_inputs, "fresh N(0, I) latents every step"
    elif qat.train_samples is None or qat.train_samples == q.calib_samples:
        train_inputs, source = calib_inputs, f"calibration noise: {q.calib_samples} noises"
    else:
        noise = fp.make_noise(qat.train_samples, seed + 2)
        train_inputs = fp.calibration_inputs(noise, q.calib_batch_size)
        source = f"own noise: {qat.train_samples} noises"
    distiller = make_distiller(fp, q, train_inputs)
    groups = param_groups(student.network, qat)
    set_training(student.network, True)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    # held-out probe: inputs from noise neither PTQ nor training saw (16 noises' trajectories
    # for diffusion = 4 x steps pairs at every timestep; 256 latents for a GAN)
    probe_noise = fp.make_noise(fp.probe_samples, seed + 3)
    probe = fp.calibration_inputs(probe_noise, 256)
    loss_before = distiller.probe_loss(student.network, probe)
    result: LoopResult = train(student.network, distiller, groups, qat, out_dir, seed,
                               fingerprint(q, seed), _log_callbacks(out_dir))
    convert(student.network)
    loss_after = distiller.probe_loss(student.network, probe)

    from genq.bench import device_name

    teacher = ("fp_trajectory_eps" if fp.is_denoiser else
               "fp_outputs_pixel" + ("+features" if distiller.feature_weight else "")
               + ("+adversarial" if distiller.adv_weight else ""))
    if fp.is_denoiser and qat.denoise_weight:
        teacher += f"+denoise(real digits, weight {qat.denoise_weight})"
    n_params = sum(p.numel() for g in groups for p in g["params"])
    info = {"calibration": fp.calibration_source if static else None,
            "calib_samples": q.calib_samples if static else 0,
            "calib_batches": len(calib.batches) if static else 0,
            "calibration_s": round(calibration_s, 3),
            "coverage": prepared["report"].counts(),
            "qat": {"steps": result.steps, "batch_size": qat.batch_size, "lr": qat.lr,
                    "scale_lr": qat.scale_lr, "loss_first": result.history[0]["loss"] if result.history else None,
                    "loss_final": result.loss_final,
                    "prepare_s": round(prepare_s, 2), "prepare_cpu_s": round(prepare_cpu_s, 2),
                    "train_cpu_s": round(result.train_cpu_s, 2),
                    "heldout_loss_before": loss_before, "heldout_loss_after": loss_after, "train_s": round(result.train_s, 2),
                    "train_device": f"{device_name()} (cores may be shared with other jobs; "
                                    "*_cpu_s is process CPU time over all threads)",
                    "teacher": teacher, "train_inputs": source + (
                        f" -> {len(distiller.targets)} (x_t, t) pairs" if fp.is_denoiser else ""),
                    "quantizer": "lsq+" if qat.lsq_plus else "lsq", "grad_scale": qat.grad_scale,
                    "tracked_block_weights": prepared["tracked_block_weights"],
                    "fixed_scale_quantizers": prepared["fixed_scale_quantizers"],
                    "learn_weights": bool(qat.learn_weights and not qat.lora_rank),
                    "lora_rank": qat.lora_rank, "learnable_quantizers": prepared["learnable_quantizers"],
                    "trained_parameters": n_params, "resumed_from_step": result.resumed_from,
                    "history": result.history}}
    return QuantOutcome(student, prepared["report"], info)
