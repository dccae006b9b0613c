"""Hydra's composition errors, said in one sentence (issue 21). Hydra reports a misspelt key,
a value of the wrong type or an unknown config option in several lines and exits 1; genq
composes the command line once before handing it to Hydra and turns those errors into one
sentence naming the bad override and what is accepted, exit status 2, like every other bad
input (docs/errors.md)."""

from __future__ import annotations

import re

# flags after which Hydra does something else than run one job: leave those to Hydra
HYDRA_FLAGS = ("-m", "--multirun", "--cfg", "-c", "--info", "-i", "--hydra-help", "--package", "-p",
               "--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd", "--shell-completion",
               "-sc", "--experimental-rerun", "--version")


def plain_run(argv: list[str]) -> bool:
    """Whether ``argv`` asks for one run with overrides only: no Hydra flags and no sweep
    values (``a,b``, ``range(...)``; a preset such as ``paper=...`` that turns on multirun is
    seen after composing, see genq.run.check_command_line)."""
    if any(arg.split("=")[0] in HYDRA_FLAGS for arg in argv):
        return False
    try:
        from hydra.core.override_parser.overrides_parser import OverridesParser

        return not any(o.is_sweep_override() for o in OverridesParser.create().parse_overrides(argv))
    except Exception:  # noqa: BLE001 - an unparsable override: composing says what is wrong
        return True


def _first_line(err: BaseException) -> str:
    return str(err).strip().splitlines()[0].strip() if str(err).strip() else type(err).__name__


def _chain(err: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    while err is not None and err not in out:
        out.append(err)
        err = err.__cause__ or err.__context__
    return out


def _type_name(text: str) -> str:
    found = re.search(r"converted to (\w+)|Cannot convert '\w+' to (\w+)|Cannot assign \w+ to (.+)$", text)
    if not found:
        return "a value of the setting's type"
    kind = next(g for g in found.groups() if g)
    return {"Integer": "an integer (or null where the setting allows it)", "Float": "a number",
            "Boolean": "true or false", "string": "a string"}.get(kind, kind)


def composition_message(err: BaseException) -> str:
    """One sentence for a Hydra/OmegaConf composition error."""
    chain = _chain(err)
    text = str(err)
    missing = re.search(r"Could not find '([^']+)'", text)
    if missing:
        group, _, option = missing.group(1).rpartition("/")
        options = []
        for line in text.split("Available options", 1)[-1].splitlines()[1:]:
            if not line.startswith("\t"):
                break      # "Config search path:" follows the options
            if not line.strip().endswith("_schema"):
                options.append(line.strip())
        if group:
            return f"{group}={option} is not a config of group {group!r}; accepted: {', '.join(options)}."
        return f"config {missing.group(1)!r} does not exist; see genq --help for the groups and their options."
    override = re.search(r"Could not override '([^']+)'", text)
    if override:
        inner = _first_line(chain[-1])
        return (f"{override.group(1)} is not a genq setting ({inner}); accepted: the keys genq --help lists, "
                f"or +{override.group(1)}=... to add a free-form entry where the schema allows it.")
    merging = re.search(r"Error merging override (.+)$", _first_line(err))
    if merging and len(chain) > 1:
        key_line = re.search(r"full_key: (\S+)", str(chain[1]))
        inner = _first_line(chain[1])
        where = f" (setting {key_line.group(1)})" if key_line else ""
        return f"{merging.group(1)} has the wrong type{where}: {inner}; accepted: {_type_name(inner)}."
    if type(err).__name__ == "OverrideParseException":
        return (f"{_first_line(err)} ({_first_line(chain[-1])}); accepted: key=value, group=option, "
                "+key=value or ~key.")
    return f"the command line does not compose: {_first_line(chain[-1])}."
