"""The QAT training loop, on Hugging Face ``accelerate`` (CPU here; ``accelerate launch`` on
one or several GPUs elsewhere): AdamW with separate learning rates for weights and step
sizes, linear warm-up then cosine decay, gradient clipping, a progress bar, loss logging
through callbacks (JSON lines, wandb), checkpoints every N steps with exact resume
(:mod:`genq.qat.checkpoint`), and a guard that stops on a non-finite loss or gradient with
a GenqError naming the step, before the bad update reaches the weights or a checkpoint.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from genq.errors import GenqError
from genq.qat.checkpoint import list_checkpoints, load_checkpoint, save_checkpoint

# (student, loop generator) -> (loss to minimise, named scalar parts for the log)
LossFn = Callable[[nn.Module, torch.Generator], "tuple[torch.Tensor, dict[str, float]]"]
Callback = Callable[[int, dict[str, Any]], None]


@dataclass
class LoopResult:
    steps: int
    loss_final: float | None
    history: list[dict[str, Any]] = field(default_factory=list)
    train_s: float = 0.0
    train_cpu_s: float = 0.0      # process CPU time (all threads): a load-independent bound
    resumed_from: int | None = None
    snapshots: dict[int, str] = field(default_factory=dict)


def cosine_with_warmup(total: int, warmup: int) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    return factor


def _not_finite(what: str, value: float, step: int, ckpt_dir: Path | None) -> GenqError:
    done = list_checkpoints(ckpt_dir) if ckpt_dir is not None else []
    kept = (f"the last good checkpoint is {str(done[-1])!r}" if done else
            "no checkpoint had been written yet (quant.qat.checkpoint_every)")
    return GenqError(f"QAT stopped at step {step}: the {what} is {value} (not finite); {kept}. "
                     "Accepted fixes: a lower quant.qat.lr / quant.qat.scale_lr, or "
                     "quant.qat.max_grad_norm > 0.")


def train(student: nn.Module, loss_fn: LossFn, param_groups: list[dict[str, Any]], qat: Any,
          out_dir: Path | None, seed: int, fingerprint: str = "",
          callbacks: Sequence[Callback] = ()) -> LoopResult:
    """Minimise ``loss_fn`` over ``qat.steps`` optimizer steps; ``out_dir`` holds
    ``checkpoints/`` and ``snapshots/`` (None: neither is written)."""
    from tqdm.auto import tqdm

    from genq.distributed import job_accelerator
    from genq.progress import bar_options

    # train where the student lives (genq's own models: CPU; hub models: model.device), with
    # no accelerate state carried over from an earlier job of this process
    accelerator = job_accelerator(cpu=next(student.parameters()).device.type == "cpu")
    optimizer = torch.optim.AdamW(param_groups, weight_decay=qat.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, cosine_with_warmup(qat.steps, qat.warmup_steps))
    model, optimizer, scheduler = accelerator.prepare(student, optimizer, scheduler)
    params = [p for g in param_groups for p in g["params"]]
    generator = torch.Generator().manual_seed(seed)
    ckpt_dir = out_dir / "checkpoints" if out_dir is not None else None
    start, history, resumed_from = 0, [], None
    if ckpt_dir is not None and qat.resume and list_checkpoints(ckpt_dir):
        state = load_checkpoint(list_checkpoints(ckpt_dir)[-1], model, optimizer, scheduler,
                                generator, fingerprint)
        start, history, resumed_from = state.step, state.history, state.step

    result = LoopResult(start, history[-1]["loss"] if history else None, history,
                        resumed_from=resumed_from)
    bar = tqdm(total=qat.steps, initial=start, desc="QAT", unit="step",
               disable=not (qat.progress and accelerator.is_local_main_process), **bar_options())
    if out_dir is not None and start == 0 and 0 in qat.eval_at:
        result.snapshots[0] = str(save_snapshot(out_dir / "snapshots", 0, model))
    t0, cpu0 = time.perf_counter(), time.process_time()
    for step in range(start + 1, qat.steps + 1):
        loss, parts = loss_fn(model, generator)
        if not torch.isfinite(loss.detach()).all():
            bar.close()
            raise _not_finite("loss", float(loss.detach()), step, ckpt_dir)
        accelerator.backward(loss)
        max_norm = qat.max_grad_norm if qat.max_grad_norm > 0 else float("inf")
        norm = accelerator.clip_grad_norm_(params, max_norm)
        if not torch.isfinite(torch.as_tensor(norm)).all():
            bar.close()
            raise _not_finite("gradient norm", float(norm), step, ckpt_dir)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        value = float(loss.detach())
        result.loss_final, result.steps = value, step
        bar.update(1)
        bar.set_postfix(loss=f"{value:.4g}")
        if step % qat.log_every == 0 or step == qat.steps:
            row = {"step": step, "loss": value, **parts, "lr": scheduler.get_last_lr()[0]}
            history.append(row)
            for cb in callbacks:
                cb(step, row)
        if out_dir is not None and step in set(qat.eval_at):
            result.snapshots[step] = str(save_snapshot(out_dir / "snapshots", step, model))
        every = qat.checkpoint_every
        if ckpt_dir is not None and every and (step % every == 0 or step == qat.steps):
            save_checkpoint(ckpt_dir, step, model, optimizer, scheduler, generator, history,
                            fingerprint, qat.keep_checkpoints)
    bar.close()
    result.train_s = time.perf_counter() - t0
    result.train_cpu_s = time.process_time() - cpu0
    result.history = history
    return result


def save_snapshot(folder: Path, step: int, model: nn.Module) -> Path:
    """The student's state dict at ``step`` (for a quality-vs-steps curve)."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"step_{step:06d}.safetensors"
    save_file({k: v.detach().cpu().clone().contiguous() for k, v in model.state_dict().items()},
              str(path))
    return path
