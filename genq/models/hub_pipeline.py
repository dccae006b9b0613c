"""Loading a pretrained diffusers pipeline into a genq adapter: the components are read by
:mod:`genq.models.hub_components` (which says where each one is, and which classes are
accepted), the adapter is built by :mod:`genq.models.hub_diffusion`."""

from __future__ import annotations

from typing import Any

from genq.models.hub_components import KINDS, SUBFOLDERS, TEXT_ENCODERS, UNETS, VAES, find_subfolders
from genq.models.hub_diffusion import HubDiffusionAdapter, adapter_from_parts
from genq.models.hub_components import read_pipeline

__all__ = ["load_pipeline", "find_subfolders", "KINDS", "SUBFOLDERS", "UNETS", "VAES", "TEXT_ENCODERS"]


def load_pipeline(repo_id: str, **options: Any) -> HubDiffusionAdapter:
    """A genq adapter for the diffusers pipeline at ``repo_id`` (hub id or folder); the
    options are those of :func:`genq.models.hub_components.read_pipeline` (``kind``,
    ``revision``, ``variant``, ``dtype``, ``device``, ``subfolders``, ``scheduler``,
    ``num_inference_steps``, ``latent_scale``, ``prompts``, ``guidance_scale``,
    ``negative_prompt``)."""
    return adapter_from_parts(read_pipeline(repo_id, **options))
