"""wandb logging of one experiment: config, the record's metrics/speed/quant under the
same names as in result.json, the FP | quantized sample grid and the coverage table.
Offline by default, written under the Hydra run folder (``wandb sync`` uploads it later)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


class NullLogger:
    """logger=none: logs nothing."""

    run_dir: str | None = None

    def log_record(self, record: dict[str, Any]) -> None: ...

    def log_image(self, key: str, path: str | Path, caption: str = "") -> None: ...

    def log_table(self, key: str, rows: list[dict[str, Any]]) -> None: ...

    def finish(self) -> None: ...


class WandbLogger(NullLogger):
    def __init__(self, project: str, mode: str, run_dir: str | Path, name: str, config: dict,
                 group: str | None = None, tags: list[str] | None = None,
                 entity: str | None = None) -> None:
        os.environ.setdefault("WANDB_SILENT", "true")
        import wandb

        self._wandb = wandb
        self.run = wandb.init(project=project, entity=entity, mode=mode, dir=str(run_dir), name=name,
                              group=group, tags=tags, config=config, reinit="finish_previous")
        self.run_dir = self.run.dir if mode != "disabled" else None

    def log_record(self, record: dict[str, Any]) -> None:
        for section in ("metrics", "speed", "quant"):
            for key, value in (record.get(section) or {}).items():
                if isinstance(value, (int, float, str, bool)) or value is None:
                    self.run.summary[f"{section}.{key}"] = value
        self.run.summary["wall_s"] = record.get("wall_s")
        for row in ((record.get("quant") or {}).get("qat") or {}).get("history") or []:
            self.run.log({f"qat/{k}": v for k, v in row.items()})     # QAT loss curve (genq.qat)

    def log_image(self, key: str, path: str | Path, caption: str = "") -> None:
        self.run.log({key: self._wandb.Image(str(path), caption=caption)})

    def log_table(self, key: str, rows: list[dict[str, Any]]) -> None:
        if rows:
            columns = list(rows[0])
            self.run.log({key: self._wandb.Table(columns=columns,
                                                 data=[[r[c] for c in columns] for r in rows])})

    def finish(self) -> None:
        self.run.finish()


def make_logger(cfg: Any, run_dir: str | Path, name: str, config: dict, group: str | None,
                tags: list[str]) -> NullLogger:
    """The logger that ``cfg.logger`` asks for."""
    if cfg.logger.name == "none" or cfg.logger.mode == "disabled":
        return NullLogger()
    return WandbLogger(cfg.logger.project, cfg.logger.mode, run_dir, name, config, group, tags,
                       cfg.logger.entity)
