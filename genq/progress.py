"""What genq prints while it works (issue 21): one line when a stage of a run starts and one
when it ends, with its wall time, on stderr; and the options every tqdm bar shares, so a bar
stays one line in a terminal and does not flood a CI log or a sweep's log file."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def stage(what: str) -> Iterator[None]:
    """``genq: <what> ...`` now and ``genq: <what>: <s> s`` when the block ends."""
    start = time.perf_counter()
    print(f"genq: {what} ...", file=sys.stderr, flush=True)
    yield
    print(f"genq: {what}: {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)


def bar_options() -> dict[str, Any]:
    """tqdm options: redrawn in place at most once a second on a terminal; elsewhere (a log
    file, CI) redrawn at most once a minute, in ASCII, so the log holds a few lines per bar."""
    tty = sys.stderr.isatty()
    return {"dynamic_ncols": tty, "mininterval": 1.0 if tty else 60.0, "ascii": not tty}
