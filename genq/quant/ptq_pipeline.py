"""Post-training quantization of an adapter: draw calibration inputs from the FP model,
swap and calibrate the layers (:func:`genq.quant.quantize_`), then optionally reconstruct
the weight rounding (AdaRound / BRECQ) and, for GANs, correct biases and BatchNorm
statistics. ``docs/ptq_methods.md`` describes the methods and their knobs."""

from __future__ import annotations

import copy
import time
from typing import Any

import torch
from torch import nn

from genq.config.ptq import validate_ptq
from genq.errors import GenqError
from genq.models.base import GeneratorAdapter
from genq.quant.api import run_calibration, quantize_
from genq.quant.calibration import CalibrationSet
from genq.quant.calibration.data import build_calibration as _build_calibration
from genq.quant.calibration.data import num_train_timesteps
from genq.quant.outcome import QuantOutcome
from genq.quant.plan import plan_for, recipe_needs_static_calibration


def quantizes_activations_statically(q: Any) -> bool:
    """Whether the recipe ``q`` needs static calibration (genq.quant.plan decides)."""
    return recipe_needs_static_calibration(q)


def check_ptq_methods(fp: GeneratorAdapter, q: Any, validated: bool = False) -> None:
    """Method/model mismatches, before any forward pass (``validated``: ``genq.config.validate`` ran)."""
    if not validated:
        validate_ptq(q)
    c, r = q.calibration, q.reconstruction
    denoiser = fp.is_denoiser
    if c.timestep_buckets and not denoiser:
        raise GenqError(f"quant.calibration.timestep_buckets={c.timestep_buckets} needs a diffusion "
                        f"model; a {fp.family} has no timestep: accepted: 0.")
    if c.timestep_buckets and not quantizes_activations_statically(q):
        raise GenqError(f"quant.calibration.timestep_buckets={c.timestep_buckets} calibrates static "
                        "activation scales; this recipe has none (a_bits null or a_dynamic=true): "
                        "accepted: 0.")
    if c.shortcut_split and not denoiser:
        raise GenqError(f"quant.calibration.shortcut_split=true splits a UNet's concatenated skip "
                        f"inputs; a {fp.family} has none: accepted: false.")
    check_schedule_methods(fp, q)
    wrong = [k for k in ("bias_correction", "bn_reestimate") if getattr(r, k) and k not in fp.corrections]
    if wrong:
        applies = ", ".join(fp.corrections) or "none"
        raise GenqError(f"quant.reconstruction.{wrong[0]}=true does not apply to this {fp.family} model "
                        f"(bias_correction: GANs and diffusion denoisers; bn_reestimate: the DCGAN's "
                        f"BatchNorm); corrections that apply here: {applies}; accepted: false for the others.")


def check_schedule_methods(fp: GeneratorAdapter, q: Any) -> None:
    """What ``quant.schedule`` (genq.quant.schedule) does not combine with."""
    path = getattr(q, "schedule", None)
    if not path:
        return
    c, r = q.calibration, q.reconstruction
    clashes = [(not fp.is_denoiser, f"a {fp.family} model has no sampler steps"),
               (bool(getattr(q, "plan", None)), "quant.plan is set too (the schedule's windows hold the plans)"),
               (bool(c.timestep_buckets), "quant.calibration.timestep_buckets is set too (per-timestep "
                                          "scales are a schedule of their own: timestep_bucket_schedule)"),
               (bool(c.shortcut_split), "quant.calibration.shortcut_split is not supported with a schedule"),
               (r.method != "none", f"quant.reconstruction.method={r.method!r} reconstructs one set of "
                                    "weights, not one per window")]
    for bad, why in clashes:
        if bad:
            raise GenqError(f"quant.schedule={path!r} cannot be used here: {why}; accepted: a PTQ "
                            "recipe with calibration only (or quant.schedule=null).")


def load_schedule(fp: GeneratorAdapter, q: Any) -> Any:
    """The precision schedule ``q.schedule`` names, checked against the sampler's steps."""
    from genq.quant.schedule import PrecisionSchedule

    schedule = PrecisionSchedule.load(q.schedule)
    schedule.check_steps(len(fp.sampling_scheduler().timesteps))
    return schedule


def build_calibration(fp: GeneratorAdapter, q: Any, seed: int) -> CalibrationSet:
    """The calibration data of PTQ and QAT: ``q.calib_samples`` noises drawn from ``seed + 1``
    (disjoint from the evaluation noise), through the FP model."""
    noise = fp.make_noise(q.calib_samples, seed + 1)
    return _build_calibration(fp, noise, q.calib_batch_size, q.calibration)


def _apply_layout(fp: GeneratorAdapter, network: nn.Module, q: Any, calib: CalibrationSet,
                  layout: dict[str, Any]) -> None:
    """Shortcut splitting and per-timestep quantizers, on the swapped layers, before data flows."""
    from genq.quant.shortcut import apply_shortcut_split, find_concat_splits

    c = q.calibration
    if c.shortcut_split:
        example = calib.batches[0].rows(torch.tensor([0])).positional(fp.network)
        splits = find_concat_splits(fp.network, example)
        if not splits:
            raise GenqError("quant.calibration.shortcut_split=true but the network has no up block "
                            "that concatenates skip connections; accepted: false for this model.")
        layout["shortcut_split"] = apply_shortcut_split(network, splits)
    if c.timestep_buckets:
        from genq.quant.timestep_quant import install_timestep_context, use_timestep_quantizers

        T = num_train_timesteps(fp, [int(b.t[0]) for b in calib.batches])
        ctx = install_timestep_context(network, T, c.timestep_buckets)
        layout["timestep_quantizers"] = use_timestep_quantizers(network, ctx)


def outlier_summary(plan: Any) -> dict[str, Any]:
    """The record's account of outlier handling: the method and its settings, how many
    layers got it, and what runs online on each (genq.quant.outliers)."""
    specs = [(s.name, s.outlier) for s in plan.layers if s.outlier is not None and not s.keep_fp]
    first = specs[0][1]
    return {"method": first.method, "alpha": first.alpha, "layers": len(specs),
            "ranks": {n: o.rank for n, o in specs} if first.method == "svd" else None,
            "online": {n: o.online for n, o in specs}}


def with_quant_seed(q: Any, seed: int) -> Any:
    """A copy of ``q`` whose sub-seeds (timestep draws, reconstruction batches and rounding
    init) are offset by the run's ``quant.seed``: seed 0 keeps them as configured."""
    q = copy.deepcopy(q)
    q.calibration.seed = q.calibration.seed + seed
    q.reconstruction.seed = q.reconstruction.seed + seed
    return q


def run_ptq(fp: GeneratorAdapter, q: Any, seed: int, validated: bool = False) -> QuantOutcome:
    """PTQ of a clone of ``fp``; ``seed`` (``quant.seed``) draws everything the quantizer draws."""
    check_ptq_methods(fp, q, validated)
    q = with_quant_seed(q, seed)
    r = q.reconstruction
    needs_data = r.method != "none" or r.bias_correction or r.bn_reestimate
    needs_data = needs_data or q.calibration.shortcut_split
    qmodel = fp.clone()
    schedule = load_schedule(fp, q) if getattr(q, "schedule", None) else None
    plan = plan_for(qmodel.network, q, validated) if schedule is None else None
    static = (plan or schedule).needs_static_calibration()
    smoothing = plan is not None and plan.needs_outlier_statistics()
    needs_data = needs_data or static or smoothing
    t0 = time.perf_counter()
    calib = build_calibration(fp, q, seed) if needs_data else None
    layout: dict[str, Any] = {}

    def calibrate(network: nn.Module) -> None:
        _apply_layout(fp, network, q, calib, layout)
        run_calibration(network, calib.run)

    if schedule is not None:             # windows of sampler steps, each with its plan
        from genq.quant.schedule import apply_schedule, calibrate_schedule

        _, report = apply_schedule(qmodel.network, schedule)
        if static:
            calibrate_schedule(qmodel.network, calib.batches)
    else:
        report = quantize_(qmodel.network, calib=calibrate if static else None, plan=plan,
                           outlier_calib=calib.run if smoothing else None)
    if not static and calib is not None and q.calibration.shortcut_split:
        _apply_layout(fp, qmodel.network, q, calib, layout)     # weight slices only
    calibration_s = time.perf_counter() - t0

    info: dict[str, Any] = {"calibration": None, "reconstruction": None,
                            "calib_samples": q.calib_samples if calib is not None else 0,
                            "calib_batches": len(calib.batches) if calib is not None else 0,
                            "calibration_s": round(calibration_s, 3)}
    if calib is not None:
        info["calibration"] = {**calib.description, "observer": q.observer if static else None,
                               "shortcut_split": len(layout.get("shortcut_split", [])),
                               "timestep_buckets": q.calibration.timestep_buckets}
    recon: dict[str, Any] = {}
    t1 = time.perf_counter()
    if r.method != "none":
        from genq.quant.reconstruction import reconstruct

        recon.update(reconstruct(fp.network, qmodel.network, calib, r,
                                 block_names=fp.reconstruction_blocks(qmodel.network)))
    if r.bias_correction or r.bn_reestimate:
        from genq.quant.gan_correction import correct_gan

        recon.update(correct_gan(fp.network, qmodel.network, calib, r))
    if recon:
        info["reconstruction"] = recon
        info["reconstruction_s"] = round(time.perf_counter() - t1, 3)
    info["ptq_s"] = round(time.perf_counter() - t0, 3)
    info["coverage"] = report.counts()
    if plan is not None and any(s.outlier for s in plan.layers):
        info["outlier"] = outlier_summary(plan)
    if schedule is not None:
        info["schedule"] = [w.label() for w in schedule.windows]
    return QuantOutcome(qmodel, report, info)
