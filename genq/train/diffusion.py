"""Train a DDPM noise predictor (Ho et al., 2020, arXiv:2006.11239): epsilon-prediction MSE
at uniformly drawn timesteps (class-conditional when ``labels`` are given: a DiT), AdamW with warm-up and cosine decay, and an exponential moving average of
the weights (the EMA weights are the ones saved and sampled)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from genq.models.diffusion import DiffusionAdapter
from genq.train.loop import check_finite, minibatches, progress


def train_diffusion(adapter: DiffusionAdapter, images: torch.Tensor, steps: int, batch_size: int,
                    lr: float, ema_decay: float, seed: int,
                    labels: torch.Tensor | None = None) -> dict[str, float]:
    torch.manual_seed(seed)
    unet = adapter.network
    scheduler = adapter.training_scheduler()
    ema = AveragedModel(unet, multi_avg_fn=get_ema_multi_avg_fn(ema_decay)) if ema_decay > 0 else None
    opt = torch.optim.AdamW(unet.parameters(), lr=lr, weight_decay=0.0)
    warmup = max(1, min(100, steps // 10))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    unet.train()
    bar = progress(steps, f"train {type(unet).__name__}")
    n_t = scheduler.config.num_train_timesteps
    extra = () if labels is None else (labels,)
    for step, (x0, *y) in enumerate(minibatches(images, batch_size, steps, seed, *extra)):
        noise = torch.randn_like(x0)
        t = torch.randint(0, n_t, (x0.shape[0],))
        pred = adapter.training_prediction(scheduler.add_noise(x0, noise, t), t, y[0] if y else None)
        loss = F.mse_loss(pred, noise)
        check_finite(loss, step, "diffusion")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        opt.step()
        sched.step()
        if ema is not None:
            ema.update_parameters(unet)
        bar.update()
        bar.set_postfix(loss=f"{loss.item():.4f}", refresh=False)
    bar.close()
    if ema is not None:
        unet.load_state_dict(ema.module.state_dict())
    unet.eval()
    return {"final_loss": loss.item()}
