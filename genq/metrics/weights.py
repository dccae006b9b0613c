"""Where the standard metric networks' weights live, and the check that they are there.

Standard FID/KID/IS use torch-fidelity's Inception-v3 ("inception-v3-compat", the TF
2015-12-05 graph converted to PyTorch: the network of TTUR, pytorch-fid, torchmetrics);
LPIPS uses a torchvision ImageNet backbone plus the linear layers torchmetrics ships.
Both are read from the torch hub cache (``$TORCH_HOME/hub/checkpoints/<file>``, where
torch-fidelity and torchvision download them) or from a path in the config. Offline, a
missing file is one clear error before any sampling starts, never a silent fallback.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from genq.errors import GenqError

INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"
INCEPTION_URL = f"https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/{INCEPTION_FILE}"

# LPIPS backbones: torchvision's ImageNet weights, as torchmetrics' LPIPS loads them.
LPIPS_BACKBONES = {"alex": ("alexnet", "alexnet-owt-7be5be79.pth"),
                   "vgg": ("vgg16", "vgg16-397923af.pth"),
                   "squeeze": ("squeezenet1_1", "squeezenet1_1-b8a52dc0.pth")}
TORCHVISION_URL = "https://download.pytorch.org/models/{}"


def hub_checkpoint(file_name: str) -> Path:
    """``<torch.hub.get_dir()>/checkpoints/<file_name>``: where torch's downloaders put it."""
    return Path(torch.hub.get_dir()) / "checkpoints" / file_name


def inception_weights_path(configured: str | None) -> Path:
    return Path(configured).expanduser() if configured else hub_checkpoint(INCEPTION_FILE)


def lpips_backbone_path(net: str, configured: str | None) -> Path:
    return Path(configured).expanduser() if configured else hub_checkpoint(LPIPS_BACKBONES[net][1])


def lpips_linear_path(net: str) -> Path:
    """The LPIPS v0.1 linear-layer weights shipped inside torchmetrics."""
    import torchmetrics.functional.image.lpips as tm_lpips

    return Path(tm_lpips.__file__).parent / "lpips_models" / f"{net}.pth"


def _missing(what: str, path: Path, configured_key: str, configured: str | None, url: str) -> GenqError:
    where = (f"given as {configured_key}" if configured
             else f"the torch hub cache, TORCH_HOME={os.environ.get('TORCH_HOME', '<unset>')}")
    return GenqError(
        f"{what} weights file {str(path)!r} ({where}) does not exist and genq does not download "
        f"offline: on a machine with internet fetch {url} and copy it to that path (or set "
        f"TORCH_HOME to a folder holding hub/checkpoints/{Path(url).name}, or point "
        f"{configured_key} at the file), or use the offline metrics with metrics=digits.")


def check_metric_weights(metrics_cfg: Any) -> dict[str, Path]:
    """Raise a GenqError naming the first missing weights file the metrics config needs;
    return ``{"inception": path, "lpips_backbone": path, "lpips_linear": path}`` (those used).
    Cheap (file existence only): call it before any sampling."""
    paths: dict[str, Path] = {}
    if metrics_cfg.feature_extractor == "inception":
        configured = metrics_cfg.inception_weights
        path = inception_weights_path(configured)
        if not path.is_file():
            raise _missing("Inception-v3 (torch-fidelity 'inception-v3-compat', standard FID/KID/IS)",
                           path, "metrics.inception_weights", configured, INCEPTION_URL)
        paths["inception"] = path
    net = metrics_cfg.lpips_net
    if net in LPIPS_BACKBONES:
        configured = metrics_cfg.lpips_weights
        path = lpips_backbone_path(net, configured)
        if not path.is_file():
            arch, file_name = LPIPS_BACKBONES[net]
            raise _missing(f"LPIPS backbone (torchvision {arch} ImageNet, metrics.lpips_net={net})",
                           path, "metrics.lpips_weights", configured, TORCHVISION_URL.format(file_name))
        linear = lpips_linear_path(net)
        if not linear.is_file():
            raise GenqError(f"LPIPS linear-layer weights {str(linear)!r} that torchmetrics ships are "
                            "missing; reinstall torchmetrics, or use the offline metrics with metrics=digits.")
        paths["lpips_backbone"], paths["lpips_linear"] = path, linear
    return paths


@lru_cache(maxsize=16)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file (memoised per path, size and modification time)."""
    st = os.stat(path)
    return _sha256(str(path), st.st_size, st.st_mtime_ns)


def describe_weights(path: str | Path, standard_file: str) -> dict[str, Any]:
    """What the record says about a weights file: its hash, and whether it is the standard
    file (torch hub names end with the first 8 hex digits of the file's SHA-256)."""
    sha = file_sha256(path)
    expected = standard_file.rsplit("-", 1)[-1].split(".")[0]
    return {"path": str(path), "sha256": sha, "standard": sha.startswith(expected)}


def load_state_dict(path: str | Path, what: str) -> dict[str, torch.Tensor]:
    """A state dict read with ``weights_only=True`` (no code runs from the file)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable file gets the same message
        raise GenqError(f"{what} weights file {str(path)!r} cannot be read as a PyTorch state dict "
                        f"({type(err).__name__}: {str(err).splitlines()[0][:200]}).") from err
    if not isinstance(state, dict):
        raise GenqError(f"{what} weights file {str(path)!r} holds a {type(state).__name__}, not a state dict.")
    return state
