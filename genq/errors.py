"""User-facing errors: one sentence that names the bad value and what is accepted.

The CLI entry points catch :class:`GenqError`, print its message and exit with status 2,
without a traceback, before any long work starts.
"""


class GenqError(Exception):
    """A bad input (config value, checkpoint, data) explained in one sentence."""


def check_choice(what: str, value: object, accepted: "list | tuple | set | dict") -> None:
    """Raise GenqError unless ``value`` is one of ``accepted``."""
    if value not in accepted:
        options = ", ".join(sorted(map(str, accepted)))
        raise GenqError(f"{what}={value!r} is not supported; accepted: {options}.")
