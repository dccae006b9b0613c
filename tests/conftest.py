"""Shared fixtures: composing the real Hydra config with small overrides, offline env,
pinned threads and derandomized property tests (so results and timings do not depend on
the machine or on the run)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")

# Threads: GENQ_TEST_THREADS (default 1) for torch here and, through OMP_NUM_THREADS, for the
# processes the tests start (the CLI, accelerate launch). One thread: oneDNN's kernel choice
# and reduction order (hence the last bits of a float, and an int8 rounding they can flip)
# and the timings no longer depend on how many cores the machine has.
TEST_THREADS = int(os.environ.get("GENQ_TEST_THREADS", "1"))
os.environ["OMP_NUM_THREADS"] = str(TEST_THREADS)
os.environ["MKL_NUM_THREADS"] = str(TEST_THREADS)


def _pin_threads() -> None:
    import torch

    torch.set_num_threads(TEST_THREADS)
    try:
        torch.set_num_interop_threads(TEST_THREADS)
    except RuntimeError:      # already set, or parallel work already ran in this process
        pass


def _hypothesis_profile() -> None:
    """Property tests draw the same examples on every run (``derandomize``) and keep no
    example database, so a run in CI and one on a laptop test the same inputs. Set
    GENQ_HYPOTHESIS_PROFILE=explore to draw fresh random examples locally."""
    try:
        from hypothesis import settings
    except ImportError:       # a dev dependency; only tests/quant/test_primitives_properties.py needs it
        return
    settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
    settings.register_profile("explore", derandomize=False)
    settings.load_profile(os.environ.get("GENQ_HYPOTHESIS_PROFILE", "ci"))


_pin_threads()
_hypothesis_profile()


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("GENQ_CACHE", str(tmp_path_factory.getbasetemp() / "genq-cache"))


def compose(*overrides: str, config_name: str = "config", return_hydra_config: bool = False):
    """The composed config genq would run with these command-line overrides (with the
    ``hydra`` node too when ``return_hydra_config``: sweeper params, run mode)."""
    from genq.config import compose_config

    return compose_config(*overrides, config_name=config_name, return_hydra_config=return_hydra_config)


def free_port() -> int:
    """A TCP port nothing listens on now (the OS picks it: bind to port 0)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def genq_cli():
    """``run(args, cwd, env=None, timeout=None, module="genq.run") -> CompletedProcess`` of
    ``python -m <module> *args``: a fork of one warm process that has the model stack imported (tests/cli_zygote.py;
    ~10 s less per call), or a fresh subprocess where fork is unavailable or GENQ_TEST_FRESH_CLI=1."""
    import subprocess
    import sys

    import cli_zygote

    if cli_zygote.available() and os.environ.get("GENQ_TEST_FRESH_CLI") != "1":
        server = cli_zygote.Zygote()
        yield server.run
        server.close()
        return

    def fresh(args, cwd, env=None, timeout=None, module="genq.run"):
        return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=timeout)

    yield fresh


@pytest.fixture
def smoke_cfg():
    return lambda *o: compose("experiment=smoke", "logger=none", *o)
