"""Prompts that condition text-to-image samples: ``data.prompts`` plus one prompt per
non-empty line of ``data.prompts_file`` (e.g. COCO captions paired with the reference
images). Empty when the data config names none (the model's own ``model.prompts`` apply)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genq.errors import GenqError


def load_prompts(data_cfg: Any) -> list[str]:
    prompts = [str(p) for p in (getattr(data_cfg, "prompts", None) or [])]
    path = getattr(data_cfg, "prompts_file", None)
    if path:
        file = Path(path).expanduser()
        if not file.is_file():
            raise GenqError(f"data.prompts_file={str(path)!r} does not exist; accepted: a text file "
                            "with one prompt per line.")
        prompts += [line.strip() for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]
    return prompts
