"""``genq-train model=...``: train an embedded model from scratch and save it as a
self-describing checkpoint (config.json + model.safetensors + training.json).

    genq-train model=ddpm_digits                  # -> $GENQ_CACHE/models/ddpm_digits
    genq-train model=dcgan_digits out_dir=genq/weights/dcgan_digits
"""

from __future__ import annotations

from genq.console import quiet_third_party

quiet_third_party()   # before torch and the model stack: their log lines are not the user's

import json
import platform
import shlex
import sys
import time
from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig, OmegaConf

from genq.config import register_configs
from genq.data import load_digits
from genq.errors import GenqError
from genq.models.classifier import DigitsClassifier
from genq.models.diffusion import DiffusionAdapter
from genq.models.dit import DiTAdapter
from genq.models.gan import GANAdapter
from genq.models.stylegan_adapter import StyleGANAdapter
from genq.models.registry import cache_dir, save_classifier

register_configs()


def train_model(cfg: DictConfig) -> Path:
    """Train ``cfg.model`` on the embedded digits; return the checkpoint folder."""
    from genq.train.classifier import train_classifier
    from genq.train.diffusion import train_diffusion
    from genq.train.gan import train_gan
    from genq.train.stylegan import train_stylegan

    m, t = cfg.model, cfg.model.train
    if m.get("hub"):
        raise GenqError(f"model={m.name} is a pretrained hub model; genq-train trains the embedded "
                        "models: dcgan_digits, stylegan_digits, ddpm_digits, dit_digits, digits_classifier.")
    out = Path(cfg.out_dir or cache_dir() / "models" / m.name).expanduser().resolve()
    data = dict(resolution=cfg.data.resolution, test_fraction=cfg.data.test_fraction,
                split_seed=cfg.data.split_seed)
    train = load_digits("train", **data)
    arch = OmegaConf.to_container(m.arch, resolve=True)
    start = time.perf_counter()
    torch.manual_seed(t.seed)
    if m.family == "classifier":
        model = DigitsClassifier(**arch)
        stats = train_classifier(model, train, load_digits("test", **data), t.steps, t.batch_size,
                                 t.lr, t.seed)
        save_classifier(model, arch, out, {"test_accuracy": stats["test_accuracy"]})
    elif m.family == "gan" and m.network_class == "StyleGAN2":
        adapter = StyleGANAdapter(arch)
        stats = train_stylegan(adapter, train.images, t.steps, t.batch_size, t.lr, t.seed,
                               r1_gamma=t.r1_gamma, r1_interval=t.r1_interval, augment=t.augment,
                               ema_kimg=t.ema_kimg, snapshot_every=t.snapshot_every,
                               on_snapshot=lambda step: adapter.save(out / "snapshots" / f"step_{step:06d}"))
        adapter.save(out)
    elif m.family == "gan":
        adapter = GANAdapter(arch)
        stats = train_gan(adapter, train.images, t.steps, t.batch_size, t.lr, t.seed)
        adapter.save(out)
    elif m.family == "diffusion":
        scheduler = OmegaConf.to_container(m.scheduler, resolve=True) or None
        conditional = m.network_class == "DiTTransformer2DModel"
        adapter = (DiTAdapter(arch, scheduler, m.num_inference_steps) if conditional
                   else DiffusionAdapter(arch, scheduler, m.num_inference_steps))
        stats = train_diffusion(adapter, train.images, t.steps, t.batch_size, t.lr, t.ema_decay, t.seed,
                                train.labels if conditional else None)
        adapter.save(out)
    else:
        raise GenqError(f"model.family={m.family!r} cannot be trained; accepted: classifier, gan, diffusion.")
    record = {"command": "genq-train " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
              "wall_s": round(time.perf_counter() - start, 1), "stats": stats,
              "machine": f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
                         f"{torch.get_num_threads()} threads",
              "model": OmegaConf.to_container(m, resolve=True),
              "data": OmegaConf.to_container(cfg.data, resolve=True)}
    (out / "training.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"saved {m.name} to {out} in {record['wall_s']} s: {stats}")
    return out


@hydra.main(config_path="../configs", config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> None:
    try:
        train_model(cfg)
    except GenqError as err:
        print(f"genq-train: error: {err}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
