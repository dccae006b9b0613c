"""Train the digits classifier that serves as the offline FID/KID/LPIPS feature network."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from genq.data import DigitsSplit
from genq.models.classifier import DigitsClassifier
from genq.train.loop import check_finite, minibatches, progress


def random_shift(x: torch.Tensor, gen: torch.Generator, max_shift: int = 1) -> torch.Tensor:
    """Translate each image by up to ``max_shift`` pixels (background -1 fills in)."""
    pad = F.pad(x, [max_shift] * 4, value=-1.0)
    h, w = x.shape[-2:]
    out = torch.empty_like(x)
    offsets = torch.randint(0, 2 * max_shift + 1, (x.shape[0], 2), generator=gen)
    for i, (dy, dx) in enumerate(offsets.tolist()):
        out[i] = pad[i, :, dy:dy + h, dx:dx + w]
    return out


@torch.no_grad()
def accuracy(model: DigitsClassifier, data: DigitsSplit) -> float:
    model.eval()
    return (model(data.images).argmax(1) == data.labels).float().mean().item()


def train_classifier(model: DigitsClassifier, train: DigitsSplit, test: DigitsSplit, steps: int,
                     batch_size: int, lr: float, seed: int) -> dict[str, float]:
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed + 1)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    bar = progress(steps, "train classifier")
    model.train()
    for step, (x, y) in enumerate(minibatches(train.images, batch_size, steps, seed, train.labels)):
        loss = F.cross_entropy(model(random_shift(x, gen)), y)
        check_finite(loss, step, "classifier")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        bar.update()
        bar.set_postfix(loss=f"{loss.item():.4f}", refresh=False)
    bar.close()
    return {"final_loss": loss.item(), "feature_scale": model.set_feature_scale(train.images),
            "test_accuracy": accuracy(model, test),
            "train_accuracy": accuracy(model, train)}
