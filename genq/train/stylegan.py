"""Train a StyleGAN2 generator (Karras et al., 2020, arXiv:1912.04958) as StyleGAN2-ADA's
small-data configuration does: the non-saturating logistic loss (Goodfellow et al., 2014), lazy
R1 regularisation of the discriminator on real images (Mescheder et al., 2018; every
``r1_interval`` steps, scaled by the interval, Adam's lr and betas adjusted for it), Adam with
betas (0, 0.99), an equalized learning rate (every weight's lr divided by sqrt(fan_in), the
mapping network's by 100 more), an EMA generator whose half-life is ``ema_kimg`` thousand
images (ramped up over the first 5% of images seen), and DiffAugment (Zhao et al., 2020) on
everything the discriminator sees."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from genq.models.stylegan_adapter import StyleGANAdapter
from genq.train.diffaugment import check_policy, diff_augment
from genq.train.loop import check_finite, minibatches, progress

MAPPING_LR_MULTIPLIER = 0.01


def equalized_lr_groups(module: nn.Module, lr: float, slow_prefixes: tuple[str, ...] = ()) -> list[dict]:
    """Adam parameter groups that reproduce the equalized learning rate of Karras et al. (2018)
    for plain modules initialised N(0, 1/fan_in): a layer's ``weight`` of 2 or more dimensions
    (Linear, Conv2d, ModulatedConv2d) gets lr / sqrt(fan_in),
    everything else lr; parameters under ``slow_prefixes`` another factor 0.01 (StyleGAN's
    mapping network). Adam's step does not depend on the gradient's scale, so this is the same
    update as storing N(0, 1) weights and scaling them at run time."""
    weights = {id(p): p[0].numel() for m in module.modules()
               for n, p in m.named_parameters(recurse=False) if n == "weight" and p.ndim >= 2}
    groups = []
    for name, p in module.named_parameters():
        mult = MAPPING_LR_MULTIPLIER if name.startswith(slow_prefixes) else 1.0
        scale = 1 / math.sqrt(weights[id(p)]) if id(p) in weights else 1.0
        groups.append({"params": [p], "lr": lr * mult * scale})
    return groups


def _adam(groups: list[dict], interval: int) -> torch.optim.Adam:
    c = interval / (interval + 1) if interval else 1.0           # lazy regularisation
    for g in groups:
        g["lr"] *= c
    return torch.optim.Adam(groups, betas=(0.0, 0.99 ** c), eps=1e-8)


def r1_penalty(d: nn.Module, real: torch.Tensor, policy: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits, R1) for real images: R1 = |grad_x D(aug(x))|^2 per sample."""
    real = real.detach().requires_grad_(True)
    logits = d(diff_augment(real, policy))
    (grad,) = torch.autograd.grad(logits.sum(), real, create_graph=True)
    return logits, grad.pow(2).sum(dim=(1, 2, 3))


@torch.no_grad()
def ema_update(ema: nn.Module, model: nn.Module, beta: float) -> None:
    for pe, p in zip(ema.parameters(), model.parameters()):
        pe.lerp_(p, 1 - beta)
    for be, b in zip(ema.buffers(), model.buffers()):
        be.copy_(b)


def train_stylegan(adapter: StyleGANAdapter, images: torch.Tensor, steps: int, batch_size: int,
                   lr: float, seed: int, r1_gamma: float = 0.1, r1_interval: int = 16,
                   augment: str = "translation,cutout", ema_kimg: float = 10.0,
                   snapshot_every: int = 0,
                   on_snapshot: Callable[[int], None] | None = None) -> dict[str, float]:
    """Train ``adapter``'s generator (a copy; the EMA lands in ``adapter.network``) and its
    discriminator on ``images`` in [-1, 1]; ``on_snapshot(step)`` is called every
    ``snapshot_every`` steps with the EMA generator in ``adapter.network``."""
    check_policy(augment)
    torch.manual_seed(seed)
    g_ema, d = adapter.network, adapter.discriminator
    g = copy.deepcopy(g_ema).train()
    g_ema.eval().requires_grad_(False)
    opt_g = _adam(equalized_lr_groups(g, lr, ("mapping.",)), 0)
    opt_d = _adam(equalized_lr_groups(d, lr), r1_interval)
    d.train()
    bar = progress(steps, "train stylegan2")
    r1 = torch.zeros(())
    for step, (real,) in enumerate(minibatches(images, batch_size, steps, seed)):
        n = real.shape[0]
        # discriminator: logistic loss, plus the lazy R1 term every r1_interval steps
        with torch.no_grad():
            fake = g(g.random_inputs(n))
        loss_fake = F.softplus(d(diff_augment(fake, augment))).mean()
        if r1_interval and step % r1_interval == 0:
            logits, r1_each = r1_penalty(d, real, augment)
            r1 = r1_each.mean()
            loss_d = loss_fake + F.softplus(-logits).mean() + r1 * (r1_gamma / 2) * r1_interval
        else:
            loss_d = loss_fake + F.softplus(-d(diff_augment(real, augment))).mean()
        check_finite(loss_d, step, "discriminator")
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        # generator: non-saturating loss
        d.requires_grad_(False)
        loss_g = F.softplus(-d(diff_augment(g(g.random_inputs(n)), augment))).mean()
        check_finite(loss_g, step, "generator")
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        d.requires_grad_(True)
        # EMA generator: half-life ema_kimg thousand images, ramped over the first 5% seen
        seen = (step + 1) * n
        half_life = min(ema_kimg * 1000, seen * 0.05)
        ema_update(g_ema, g, 0.5 ** (n / max(half_life, 1e-8)))
        bar.update()
        bar.set_postfix(d=f"{loss_d.item():.3f}", g=f"{loss_g.item():.3f}", r1=f"{r1.item():.3f}", refresh=False)
        if snapshot_every and on_snapshot and (step + 1) % snapshot_every == 0 and step + 1 < steps:
            on_snapshot(step + 1)
    bar.close()
    d.eval()
    g_ema.requires_grad_(True)
    return {"final_loss_d": loss_d.item(), "final_loss_g": loss_g.item(), "final_r1": r1.item()}
