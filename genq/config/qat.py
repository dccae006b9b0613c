"""Schema of quantization-aware training (``quant.qat.*``, used when ``quant.method=qat``).

Kept apart from :mod:`genq.config` so QAT owns its settings in one file. QAT shares every
other ``quant.*`` setting with PTQ (bits, granularity, observers, calibration samples): the
PTQ calibration initialises the learned step sizes (prepare -> train -> convert).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from genq.errors import GenqError, check_choice

LOSSES = {"diffusion": ("trajectory",), "gan": ("output",)}


@dataclass
class QATConfig:
    """Learned-step-size QAT (LSQ, Esser et al. 2020; LSQ+, Bhalgat et al. 2020) with
    distillation from the frozen FP teacher (EfficientDM, He et al. 2024, for diffusion)."""

    steps: int = 400                       # optimizer steps
    batch_size: int = 32                   # (x_t, t) pairs (diffusion) or latents (GAN) per step
    lr: float = 1e-3                       # weights (or LoRA factors)
    scale_lr: float = 1e-3                 # step sizes and offsets (the LSQ parameters)
    weight_decay: float = 0.0
    warmup_steps: int = 0                  # linear warm-up, then cosine decay to 0
    max_grad_norm: float = 1.0             # gradient clipping (0: off)
    learn_weights: bool = True             # false: only step sizes (and LoRA factors) train
    grad_scale: bool = True                # LSQ's g = 1/sqrt(N * Qp) on step-size gradients
    lsq_plus: bool = True                  # learnable offsets of asymmetric activations (LSQ+)
    lora_rank: int = 0                     # > 0: QALoRA-style low-rank FP update (freezes weights)
    lora_alpha: Optional[float] = None     # LoRA scaling alpha / rank (null: alpha = rank)
    # where the training inputs come from: noise samples whose FP trajectories (diffusion) or
    # latents (GAN) feed distillation; null: the calibration noise (quant.calib_samples),
    # i.e. the same data PTQ calibrates on
    train_samples: Optional[int] = None
    loss: str = "auto"                     # auto | trajectory (diffusion) | output (GAN)
    denoise_weight: float = 0.0            # diffusion: + weight * denoising loss on real digits
    feature_weight: float = 1.0            # GAN: + weight * digits-classifier feature loss
    adv_weight: float = 0.0                # GAN: + weight * non-saturating loss vs the trained D
    checkpoint_every: int = 0              # save every N steps (0: only at the end)
    keep_checkpoints: int = 2              # the newest N checkpoints are kept
    resume: bool = True                    # continue from the run folder's newest checkpoint
    log_every: int = 10                    # loss logged every N steps
    progress: bool = True                  # tqdm progress bar
    # steps whose student weights are saved (run folder qat/snapshots/) for a quality curve;
    # 0: the PTQ initialisation, before training
    eval_at: list[int] = field(default_factory=list)


def validate_qat(qat: Any, family: str) -> None:
    """Range and choice checks of ``quant.qat`` for a model of ``family`` (before any work)."""
    for key in ("steps", "batch_size", "log_every", "keep_checkpoints"):
        if getattr(qat, key) < 1:
            raise GenqError(f"quant.qat.{key}={getattr(qat, key)} must be at least 1.")
    for key in ("checkpoint_every", "warmup_steps", "lora_rank", "weight_decay", "max_grad_norm",
                "denoise_weight", "feature_weight", "adv_weight"):
        if getattr(qat, key) < 0:
            raise GenqError(f"quant.qat.{key}={getattr(qat, key)} must not be negative.")
    for key in ("lr", "scale_lr"):
        if not getattr(qat, key) > 0:
            raise GenqError(f"quant.qat.{key}={getattr(qat, key)} must be positive.")
    if qat.train_samples is not None and qat.train_samples < 1:
        raise GenqError(f"quant.qat.train_samples={qat.train_samples} must be at least 1, or null "
                        "for the calibration noise.")
    if family not in LOSSES:
        raise GenqError(f"quant.method=qat supports generator families {', '.join(LOSSES)}; "
                        f"got {family!r}.")
    check_choice("quant.qat.loss", qat.loss, ("auto",) + LOSSES[family])
    if family == "gan" and qat.train_samples is not None:
        raise GenqError(f"quant.qat.train_samples={qat.train_samples} applies to diffusion models; "
                        "a GAN draws fresh latents every step; accepted for a GAN: null.")
    if family == "gan" and qat.denoise_weight:
        raise GenqError(f"quant.qat.denoise_weight={qat.denoise_weight} applies to diffusion models; "
                        "accepted for a GAN: 0 (use quant.qat.adv_weight for real-data feedback).")
    if family == "diffusion" and (qat.adv_weight or qat.feature_weight not in (0, 1.0)):
        raise GenqError("quant.qat.adv_weight and quant.qat.feature_weight apply to GANs; accepted "
                        "for a diffusion model: adv_weight=0 (and feature_weight left at its default).")
    bad = [s for s in qat.eval_at if not 0 <= s <= qat.steps]
    if bad:
        raise GenqError(f"quant.qat.eval_at has step {bad[0]}; accepted: steps 0 (the PTQ start) to "
                        f"quant.qat.steps={qat.steps}.")


def _plain(q: Any) -> dict[str, Any]:
    from omegaconf import OmegaConf

    if OmegaConf.is_config(q):
        return OmegaConf.to_container(q, resolve=True)
    from dataclasses import asdict, is_dataclass

    return asdict(q) if is_dataclass(q) else dict(q)


def qat_fingerprint(q: Any, seed: int) -> str:
    """Hash of everything that shapes the training (a checkpoint resumes only its own config).
    Torch-free, so the CLI refuses a foreign checkpoint before anything loads."""
    import hashlib
    import json

    plain = _plain(q)
    for key in ("resume", "progress", "log_every", "checkpoint_every", "keep_checkpoints", "eval_at"):
        plain.get("qat", {}).pop(key, None)
    text = json.dumps({"quant": plain, "seed": seed}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def check_qat_resume(q: Any, run_dir: Any) -> None:
    """A QAT run that would resume from ``run_dir/qat/checkpoints`` must find checkpoints of its
    own config; refused before any model loads (genq.qat.checkpoint checks again on load)."""
    import json
    from pathlib import Path

    if q.method != "qat" or not q.qat.resume or run_dir is None:
        return
    folder = Path(run_dir) / "qat" / "checkpoints"
    done = sorted(folder.glob("step_*/state.json")) if folder.is_dir() else []
    if not done:
        return
    try:
        found = json.loads(done[-1].read_text()).get("fingerprint")
    except (OSError, ValueError) as err:
        raise GenqError(f"QAT checkpoint {str(done[-1].parent)!r} has an unreadable state.json ({err}); "
                        "accepted: a complete checkpoint, or quant.qat.resume=false to start over.") from err
    want = qat_fingerprint(q, q.seed)
    if found != want:
        raise GenqError(f"QAT checkpoint {str(done[-1].parent)!r} was written by a different quant config "
                        f"({found} vs {want}); accepted: a checkpoint of the same config, or "
                        "quant.qat.resume=false to start over.")
