"""``genq --help`` in under a second. Hydra's own app help lists the config groups by
deep-copying its whole config repository once per group (~90 times here: 3 s on a quiet
machine); this prints the same sections (groups, then the composed config) by reading the
packaged ``configs/`` folder once and composing the config once."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

HELP_FLAGS = ("--help", "-h")

HEADER = """genq: quantize a generative model (GAN or diffusion), sample it and its FP original with the
same noise, score both and time both; one run writes result.json into its run folder.

Usage: genq [group=option ...] [key=value ...]
       genq -m key=a,b ...        a sweep (finished runs are skipped when rerun in the same hydra.sweep.dir)
       genq --cfg job             print the composed config and exit
       genq --hydra-help          Hydra's own flags (launchers, logging, shell completion)
Errors in the config are answered in one sentence, exit status 2 (docs/errors.md).
"""


def help_requested(argv: list[str]) -> bool:
    """Whether the command line asks for the app help (``--help`` / ``-h``)."""
    return any(arg in HELP_FLAGS for arg in argv)


def config_groups() -> dict[str, list[str]]:
    """Group -> options, read from the packaged YAML files (Hydra's own groups left out)."""
    root = Path(str(resources.files("genq") / "configs"))
    groups: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*.yaml")):
        group = path.parent.relative_to(root).as_posix()
        if group != "." and not group.startswith("hydra"):
            groups.setdefault(group, []).append(path.stem)
    return groups


def render_help(argv: list[str]) -> str:
    """The help text for the overrides on ``argv`` (the flags themselves are dropped)."""
    from omegaconf import OmegaConf

    from genq.config import compose_config

    overrides = [a for a in argv if "=" in a and not a.startswith("-")]
    lines = [HEADER, "== Configuration groups ==", "Compose your configuration from those groups (group=option)", ""]
    lines += [f"{group}: {', '.join(options)}" for group, options in config_groups().items()]
    lines += ["", "== Config ==", "Override anything in the config (foo.bar=value)", ""]
    lines.append(OmegaConf.to_yaml(compose_config(*overrides)))
    return "\n".join(lines)
