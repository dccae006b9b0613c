"""Everything the CLI can check before torch and the model stack load (issue 21): the
config's ranges and contradictions (:func:`genq.config.validate`), the data settings, the
output folder, and the number of processes against the samples. Bad input answers in about
a second; ``tests/test_cli_fast.py`` checks that this path imports no torch."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from genq.config import validate
from genq.errors import GenqError


def check_output_dir(run_dir: str | Path) -> None:
    """The run folder can be created and written (a result must be able to land)."""
    folder = Path(run_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".genq-write-probe.", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise GenqError(f"output folder {str(folder)!r} is not writable ({err.strerror or err}); "
                        "accepted: a folder genq may create and write, set with hydra.run.dir=... "
                        "(or hydra.sweep.dir=... with -m).") from err


def check_output_parent(run_dir: str | Path) -> None:
    """The run folder could be created: its nearest existing ancestor is a writable folder.
    Checked before Hydra creates the folder (nothing is created here)."""
    folder = Path(run_dir).expanduser().absolute()
    parent = folder
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        why = "is a file, not a folder" if parent.exists() and not parent.is_dir() else "is not writable"
        raise GenqError(f"output folder {str(folder)!r} cannot be created: {str(parent)!r} {why}; accepted: "
                        "a folder genq may create and write, set with hydra.run.dir=... (or hydra.sweep.dir=... "
                        "with -m).")


def check_processes(metrics_cfg: Any, world_size: int | None = None) -> None:
    """``accelerate launch --num_processes N`` needs at least one sample per process."""
    n = int(os.environ.get("WORLD_SIZE", "1")) if world_size is None else world_size
    if n > metrics_cfg.n_samples:
        raise GenqError(f"metrics.n_samples={metrics_cfg.n_samples} cannot be split across {n} processes; "
                        f"accepted: metrics.n_samples >= {n} (one sample per process at least), or fewer "
                        "processes.")


def preflight(cfg: Any, run_dir: str | Path | None = None) -> None:
    """All torch-free checks of one run, in the order a user would fix them."""
    from genq.config.qat import check_qat_resume
    from genq.data.checks import check_data_config

    validate(cfg)
    check_data_config(cfg.data)
    check_processes(cfg.metrics)
    if run_dir is not None:
        check_output_dir(run_dir)
        check_qat_resume(cfg.quant, run_dir)
