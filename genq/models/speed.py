"""Full-size architectures for speed and kernel coverage only (issue 20): a published
config (a small JSON file in ``genq/models/speed_configs``), random weights from a fixed
seed, random conditioning of the right shape. Speed and coverage do not depend on trained
weights, so these answer "what does W8A8 buy on this architecture?" offline; they never
enter a quality study (a ``speed_*`` model skips scoring by itself, genq.run).

``speed_sd15_unet`` (SD 1.5's UNet), ``speed_dit_xl2`` (DiT-XL/2) and ``speed_pixart_sigma``
(PixArt-Sigma's transformer): the adapters are in :mod:`genq.models.speed_adapters`.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from genq.errors import GenqError
from genq.models.speed_adapters import SpeedAdapter, SpeedDiTAdapter, SpeedPixArtAdapter, SpeedUNetAdapter

SPEED_PREFIX = "speed_"
# model name -> (config file in genq/models/speed_configs, adapter class)
SPEED_MODELS: dict[str, tuple[str, type[SpeedAdapter]]] = {
    "speed_sd15_unet": ("sd15_unet.json", SpeedUNetAdapter),
    "speed_dit_xl2": ("dit_xl2.json", SpeedDiTAdapter),
    "speed_pixart_sigma": ("pixart_sigma.json", SpeedPixArtAdapter),
}


def is_speed_model(name: str) -> bool:
    """A speed-only model (random weights; genq.run skips scoring for it)."""
    return str(name).startswith(SPEED_PREFIX)


def speed_config(file: str) -> dict[str, Any]:
    """The published architecture config shipped as ``genq/models/speed_configs/<file>``
    (keys starting with ``_`` are provenance, not constructor arguments)."""
    text = (resources.files("genq") / "models" / "speed_configs" / file).read_text()
    return {k: v for k, v in json.loads(text).items() if not k.startswith("_")}


def load_speed_model(model_cfg: Any, arch_overrides: dict[str, Any], init_seed: int = 0) -> SpeedAdapter:
    """The speed-only model ``model_cfg.name``: its shipped config with ``arch_overrides``
    (model.arch, plus model.tiny_arch under model.tiny) on top, random weights from torch's
    global RNG (genq.models.registry.load_generator seeds it with ``init_seed`` around this
    call); the random text embeddings are drawn from ``init_seed`` too."""
    name = model_cfg.name
    if name not in SPEED_MODELS:
        raise GenqError(f"model={name!r} is not a speed model; accepted: {', '.join(SPEED_MODELS)}.")
    if model_cfg.weights is not None:
        raise GenqError(f"model={name} is randomly initialised from its published config; "
                        f"model.weights={model_cfg.weights!r} does not apply (accepted: null).")
    file, adapter_class = SPEED_MODELS[name]
    arch = {**speed_config(file), **arch_overrides}
    try:
        return adapter_class(arch, dict(model_cfg.scheduler), model_cfg.num_inference_steps,
                                source=f"random init ({file})", embed_seed=init_seed)
    except (TypeError, ValueError) as err:
        raise GenqError(f"model={name}: architecture {arch!r} is invalid ({err}).") from err
