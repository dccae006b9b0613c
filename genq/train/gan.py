"""Train a DCGAN (Radford et al., 2016) with the non-saturating loss of Goodfellow et al.
(2014) and Adam(2e-4, betas=(0.5, 0.999)), then re-estimate the generator's BatchNorm
statistics from many latents so that eval-mode sampling matches training-mode outputs."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from genq.models.gan import GANAdapter
from genq.train.loop import check_finite, minibatches, progress


@torch.no_grad()
def reestimate_batchnorm(generator: nn.Module, latent_dim: int, batches: int = 50,
                         batch_size: int = 256, seed: int = 12345) -> None:
    """Replace running BN statistics by exact averages over ``batches`` latent batches."""
    bns = [m for m in generator.modules() if isinstance(m, nn.BatchNorm2d)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None          # cumulative average
    generator.train()
    gen = torch.Generator().manual_seed(seed)
    for _ in range(batches):
        generator(torch.randn(batch_size, latent_dim, generator=gen))
    for bn in bns:
        bn.momentum = 0.1
    generator.eval()


def train_gan(adapter: GANAdapter, images: torch.Tensor, steps: int, batch_size: int, lr: float,
              seed: int) -> dict[str, float]:
    torch.manual_seed(seed)
    g, d = adapter.network, adapter.discriminator
    latent_dim = g.latent_dim
    opt_g = torch.optim.Adam(g.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=lr, betas=(0.5, 0.999))
    g.train()
    d.train()
    bar = progress(steps, "train dcgan")
    for step, (real,) in enumerate(minibatches(images, batch_size, steps, seed)):
        z = torch.randn(real.shape[0], latent_dim)
        fake = g(z)
        loss_d = F.softplus(-d(real)).mean() + F.softplus(d(fake.detach())).mean()
        check_finite(loss_d, step, "discriminator")
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        loss_g = F.softplus(-d(fake)).mean()
        check_finite(loss_g, step, "generator")
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        bar.update()
        bar.set_postfix(d=f"{loss_d.item():.3f}", g=f"{loss_g.item():.3f}", refresh=False)
    bar.close()
    reestimate_batchnorm(g, latent_dim)
    d.eval()
    return {"final_loss_d": loss_d.item(), "final_loss_g": loss_g.item()}
