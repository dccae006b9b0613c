"""Shared fixtures: composing the real Hydra config with small overrides, offline env."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("GENQ_CACHE", str(tmp_path_factory.getbasetemp() / "genq-cache"))


def compose(*overrides: str, config_name: str = "config", return_hydra_config: bool = False):
    """The composed config genq would run with these command-line overrides (with the
    ``hydra`` node too when ``return_hydra_config``: sweeper params, run mode)."""
    from genq.config import compose_config

    return compose_config(*overrides, config_name=config_name, return_hydra_config=return_hydra_config)


@pytest.fixture
def smoke_cfg():
    return lambda *o: compose("experiment=smoke", "logger=none", *o)
