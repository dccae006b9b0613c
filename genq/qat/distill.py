"""Distillation losses from the frozen FP teacher, one per generator family.

- Diffusion, data-free (EfficientDM, He et al., 2024, arXiv:2310.03270): the training inputs
  are the (x_t, t) pairs of the FP teacher's own DDIM trajectories (the inputs PTQ calibrates
  on), the target is the teacher's noise prediction there: L = ||eps_q(x_t, t) - eps_fp(x_t, t)||^2.
  Optionally plus the usual DDPM denoising loss on real images (Ho et al., 2020):
  ||eps_q(sqrt(a_t) x0 + sqrt(1 - a_t) eps, t) - eps||^2.
- GAN: teacher and student get the same latents, fresh ones every step; pixel MSE plus a feature-space loss in the
  digits classifier's conv activations and penultimate features (a perceptual loss in the
  spirit of Johnson et al., 2016, with the domain classifier genq's metrics already use),
  optionally plus the non-saturating adversarial loss (Goodfellow et al., 2014) against the
  trained (frozen) discriminator.

Diffusion teacher targets over the trajectory pool are computed once, up front.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from genq.batching import rows_of, split_batch, stack_batches, take_rows


def output_tensor(out: Any) -> torch.Tensor:
    """The tensor a network returned (diffusers' ``.sample``, a tuple's first item, or itself)."""
    if hasattr(out, "sample"):
        return out.sample
    if isinstance(out, (tuple, list)):
        return out[0]
    return out




@torch.no_grad()
def teacher_mse(student: nn.Module, teacher: nn.Module, inputs: list[tuple]) -> float:
    """Mean squared difference of student and teacher outputs over the input batches."""
    pairs = [(output_tensor(student(*b)), output_tensor(teacher(*b))) for b in inputs]
    return float(sum(F.mse_loss(s, t, reduction="sum") for s, t in pairs)
                 / sum(t.numel() for _, t in pairs))

class PoolDistiller:
    """Draw ``batch_size`` inputs from a fixed pool; MSE to the teacher's output on them."""

    def __init__(self, teacher: nn.Module, batches: list[tuple], batch_size: int,
                 chunk: int = 256) -> None:
        self.teacher = teacher.eval().requires_grad_(False)
        self.inputs = stack_batches(batches)
        self.n = rows_of(self.inputs)
        self.batch_size = batch_size
        with torch.no_grad():
            self.targets = torch.cat([output_tensor(self.teacher(*b)) for b in split_batch(self.inputs, chunk)])

    def draw(self, generator: torch.Generator) -> tuple[tuple, torch.Tensor]:
        idx = torch.randint(self.n, (self.batch_size,), generator=generator)
        return take_rows(self.inputs, idx), self.targets[idx]

    def probe_loss(self, student: nn.Module, inputs: list[tuple]) -> float:
        """Distillation MSE to the teacher on held-out input batches (not in the pool)."""
        return teacher_mse(student, self.teacher, inputs)

    def __call__(self, student: nn.Module, generator: torch.Generator) -> tuple[torch.Tensor, dict[str, float]]:
        inputs, target = self.draw(generator)
        loss = F.mse_loss(output_tensor(student(*inputs)), target)
        return loss, {"distill": float(loss.detach())}


class TrajectoryDistiller(PoolDistiller):
    """Diffusion: the pool is the teacher's sampling trajectories (x_t, t); optional denoising
    loss on ``real`` images with the DDPM training schedule ``scheduler``."""

    def __init__(self, teacher: nn.Module, trajectory: list[tuple], batch_size: int,
                 real: torch.Tensor | None = None, scheduler: Any = None,
                 denoise_weight: float = 0.0) -> None:
        super().__init__(teacher, trajectory, batch_size)
        self.real, self.scheduler, self.denoise_weight = real, scheduler, denoise_weight

    def __call__(self, student: nn.Module, generator: torch.Generator) -> tuple[torch.Tensor, dict[str, float]]:
        loss, parts = super().__call__(student, generator)
        if self.denoise_weight and self.real is not None:
            idx = torch.randint(len(self.real), (self.batch_size,), generator=generator)
            x0 = self.real[idx]
            t = torch.randint(self.scheduler.config.num_train_timesteps, (self.batch_size,),
                              generator=generator)
            noise = torch.randn(x0.shape, generator=generator)
            xt = self.scheduler.add_noise(x0, noise, t)
            denoise = F.mse_loss(output_tensor(student(xt, t)), noise)
            parts["denoise"] = float(denoise.detach())
            loss = loss + self.denoise_weight * denoise
        return loss, parts


class GANDistiller:
    """GAN: fresh latents every step (free to draw, so nothing is memorised; training only on
    the 64 calibration latents overfits them), the same ones for teacher and student; pixel +
    feature loss (+ adversarial). ``make_latents(n, generator)`` draws them."""

    def __init__(self, teacher: nn.Module, make_latents, batch_size: int,
                 features: nn.Module | None = None, feature_weight: float = 0.0,
                 discriminator: nn.Module | None = None, adv_weight: float = 0.0) -> None:
        self.teacher = teacher.eval().requires_grad_(False)
        self.make_latents, self.batch_size = make_latents, batch_size
        self.features = None if features is None else features.eval().requires_grad_(False)
        self.feature_weight = feature_weight if features is not None else 0.0
        self.discriminator = None if discriminator is None else discriminator.eval().requires_grad_(False)
        self.adv_weight = adv_weight if discriminator is not None else 0.0

    def _feature_list(self, images: torch.Tensor) -> list[torch.Tensor]:
        maps = self.features.feature_maps(images)
        return maps + [self.features.head(maps[-1])]

    def probe_loss(self, student: nn.Module, inputs: list[tuple]) -> float:
        """Pixel MSE to the teacher on held-out latents."""
        return teacher_mse(student, self.teacher, inputs)

    def __call__(self, student: nn.Module, generator: torch.Generator) -> tuple[torch.Tensor, dict[str, float]]:
        z = self.make_latents(self.batch_size, generator)
        with torch.no_grad():
            target = output_tensor(self.teacher(z))
        images = output_tensor(student(z))
        pixel = F.mse_loss(images, target)
        loss, parts = pixel, {"pixel": float(pixel.detach())}
        if self.feature_weight:
            feats = self._feature_list(images)
            with torch.no_grad():
                targets = self._feature_list(target)
            feat = sum(F.mse_loss(f, t) / t.pow(2).mean().clamp_min(1e-8)
                       for f, t in zip(feats, targets)) / len(feats)
            parts["feature"] = float(feat.detach())
            loss = loss + self.feature_weight * feat
        if self.adv_weight:
            adv = F.softplus(-self.discriminator(images)).mean()
            parts["adversarial"] = float(adv.detach())
            loss = loss + self.adv_weight * adv
        return loss, parts
