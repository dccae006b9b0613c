"""Pretrained models from the Hugging Face Hub or a local folder: turning ``model.repo_id``
into a folder on disk, and the settings every hub model shares (dtype, weight files).

``model.repo_id`` is a local folder when one exists at that path; otherwise a hub id,
fetched through ``huggingface_hub.snapshot_download`` (the standard cache, ``HF_HOME``),
configs first and then only the weights of the components genq loads, as safetensors
where the repo has them. Offline (``HF_HUB_OFFLINE=1``, or no network) a repo that is not
in the cache fails at once with one sentence that says how to fetch it ahead.

Nothing named in a repo is imported or run: classes come from fixed tables in the loaders,
no ``trust_remote_code``, and pickled ``.bin`` weights load only where a repo has no
safetensors, and then with ``torch.load(weights_only=True)`` inside diffusers/transformers.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import torch

from genq.errors import GenqError, check_choice

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
HUB_KINDS = ("ddpm", "ldm", "sd", "gan", "dit", "t2i")
# A hub id: "name" or "owner/name" (letters, digits, - _ .); anything else is a path.
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
# Weight variants a plain (variant-less) download skips: they duplicate the default weights.
_OTHER_VARIANTS = ["*.fp16.*", "*.fp16-*", "*.bf16.*", "*.bf16-*", "*.ema.*", "*non_ema*"]


def torch_dtype(name: str) -> torch.dtype:
    """``model.dtype`` as a torch dtype."""
    check_choice("model.dtype", name, DTYPES)
    return DTYPES[name]


def fetch_command(repo_id: str) -> str:
    return f"'hf download {repo_id}' (or 'huggingface-cli download {repo_id}')"


def _network_errors() -> tuple[type[BaseException], ...]:
    """Exceptions a download can end with besides huggingface_hub's own (its HTTP clients')."""
    errors: list[type[BaseException]] = [OSError]
    for module, name in (("httpx", "HTTPError"), ("requests", "RequestException")):
        try:
            errors.append(getattr(__import__(module), name))
        except (ImportError, AttributeError):
            pass
    return tuple(errors)


def _offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def _snapshot(repo_id: str, revision: str | None, allow: list[str],
              ignore: list[str] | None = None, what: str = "model.repo_id") -> Path:
    """``snapshot_download`` with every hub failure turned into one GenqError sentence."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (GatedRepoError, HfHubHTTPError, HFValidationError,
                                        LocalEntryNotFoundError, OfflineModeIsEnabled,
                                        RepositoryNotFoundError, RevisionNotFoundError)

    at = f" at revision {revision!r}" if revision else ""
    try:
        return Path(snapshot_download(repo_id, revision=revision, allow_patterns=allow,
                                      ignore_patterns=ignore, local_files_only=_offline()))
    except (LocalEntryNotFoundError, OfflineModeIsEnabled) as err:
        why = "HF_HUB_OFFLINE=1" if _offline() else "the hub cannot be reached"
        raise GenqError(
            f"{what}={repo_id!r}{at} is not a local folder and not in the Hugging Face cache, and "
            f"{why}; fetch it ahead with {fetch_command(repo_id)} on a machine with network "
            f"access (same HF_HOME), or set {what} to a local folder.") from err
    except GatedRepoError as err:
        raise GenqError(f"{what}={repo_id!r} is a gated repo; accept its licence on huggingface.co "
                        f"and log in ('hf auth login'), or fetch it ahead with "
                        f"{fetch_command(repo_id)}.") from err
    except RepositoryNotFoundError as err:
        raise GenqError(f"{what}={repo_id!r} is neither a local folder nor a repo on the Hugging "
                        "Face Hub (or it is private); accepted: an existing folder or a hub id "
                        "like google/ddpm-cifar10-32.") from err
    except RevisionNotFoundError as err:
        raise GenqError(f"model.revision={revision!r} does not exist in {repo_id!r}; accepted: a "
                        "branch, tag or commit of that repo, or null for main.") from err
    except HFValidationError as err:
        raise GenqError(f"{what}={repo_id!r} is not an existing folder nor a valid hub id "
                        "(owner/name); accepted: either.") from err
    except (HfHubHTTPError, *_network_errors()) as err:
        raise GenqError(f"{what}={repo_id!r} could not be fetched from the Hugging Face Hub "
                        f"({first_line(err)}); fetch it ahead with {fetch_command(repo_id)}.") from err


def weight_patterns(subfolders: list[str], ext: str,
                    variant: str | None) -> tuple[list[str], list[str] | None]:
    """(allow, ignore) patterns that select the ``ext`` weight files of ``subfolders`` ('' =
    the repo root): of ``variant`` only (unet/diffusion_pytorch_model.fp16.safetensors, or
    sharded .fp16-00001-of-00002), or without a variant, skipping the variant duplicates."""
    allow = []
    for sub in subfolders:
        prefix = f"{sub}/" if sub else ""
        allow += ([f"{prefix}*.{variant}.{ext}", f"{prefix}*.{variant}-*.{ext}"] if variant
                  else [f"{prefix}*.{ext}"])
    return allow, (None if variant else list(_OTHER_VARIANTS))


class Repo:
    """A model repo on disk: ``folder`` plus, for a hub id, how to fetch more of it."""

    def __init__(self, repo_id: str, revision: str | None = None, variant: str | None = None,
                 what: str = "model.repo_id") -> None:
        self.repo_id, self.revision, self.variant, self.what = repo_id, revision, variant, what
        local = Path(repo_id).expanduser()
        self.is_local = local.is_dir()
        if self.is_local:
            self.folder = local.resolve()
        elif not _HUB_ID.match(repo_id):
            raise GenqError(f"{what}={repo_id!r} is not an existing folder, and not a hub id "
                            "(owner/name) either; accepted: a local folder or a hub id like "
                            "google/ddpm-cifar10-32.")
        else:   # configs (small) first: they say which components and weights to fetch
            self.folder = _snapshot(repo_id, revision, ["*.json", "*.txt"], None, what)

    def describe(self) -> dict[str, Any]:
        """How the record names this model's source."""
        return {"repo_id": self.repo_id, "revision": self.revision, "variant": self.variant,
                "local": self.is_local, "folder": str(self.folder)}

    def read_json(self, name: str, required: bool = True) -> dict[str, Any] | None:
        path = self.folder / name
        if not path.is_file():
            if required:
                raise GenqError(f"{self.what}={self.repo_id!r} has no {name} (looked in "
                                f"{str(self.folder)!r}); accepted: a model folder that holds it.")
            return None
        try:
            return json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise GenqError(f"{str(path)!r} in {self.what}={self.repo_id!r} is not valid JSON "
                            f"({err}).") from err

    def has_safetensors(self, sub: str = "") -> bool:
        return any((self.folder / sub).glob("*.safetensors"))

    def fetch_weights(self, subfolders: list[str]) -> None:
        """Make sure the weights of ``subfolders`` ('' = the repo root) are on disk:
        safetensors where the repo has them, pickled .bin files only where it has none."""
        if self.is_local:
            return
        allow, ignore = weight_patterns(subfolders, "safetensors", self.variant)
        self.folder = _snapshot(self.repo_id, self.revision, allow, ignore, self.what)
        missing = [s for s in subfolders if not self.has_safetensors(s)]
        if missing:
            allow, ignore = weight_patterns(missing, "bin", self.variant)
            self.folder = _snapshot(self.repo_id, self.revision, allow, ignore, self.what)


    def fetch_files(self, patterns: list[str]) -> None:
        """Make sure the files matching ``patterns`` (e.g. a tokenizer's ``tokenizer/*``) are on disk."""
        if not self.is_local and patterns:
            self.folder = _snapshot(self.repo_id, self.revision, patterns, None, self.what)


def place(module: torch.nn.Module, dtype: torch.dtype | None, device: str | torch.device | None,
          frozen: bool = False) -> torch.nn.Module:
    """Cast (``dtype`` None: as loaded) and move a module into eval mode; ``frozen`` (the
    parts that stay FP and are never trained: VAE, text encoder) also turns gradients off."""
    if dtype is not None:
        module = module.to(dtype=dtype)
    if device is not None:
        module = module.to(device)
    if frozen:
        module.requires_grad_(False)
    return module.eval()


def first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
