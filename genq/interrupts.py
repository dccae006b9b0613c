"""Ctrl-C and SIGTERM lose nothing (issue 21). SIGTERM (what a scheduler, ``timeout`` or
``kill`` sends) is turned into the same exception as Ctrl-C, so both unwind the same way:
temporary files of atomic writes are removed (genq.tracking.record), finished records stay
as they are, and a rerun of the same command resumes (genq.tracking.resume skips finished
runs; QAT continues from its last complete checkpoint). The CLI then prints one line and
exits with the shell's status for the signal (130 for SIGINT, 143 for SIGTERM)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Interrupted(KeyboardInterrupt):
    """The run was stopped by a signal; carries the signal's name and exit status."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        self.signal_name = signal.Signals(signum).name
        self.exit_status = 128 + int(signum)
        super().__init__(f"interrupted by {self.signal_name}; finished records are kept and the unfinished "
                         "run wrote no result; rerun the same command (same hydra.sweep.dir for a sweep) "
                         "to resume.")

    def __str__(self) -> str:
        return str(self.args[0])


def _raise_interrupted(signum: int, frame: object) -> None:
    raise Interrupted(signum)


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block SIGTERM raises :class:`Interrupted` like Ctrl-C does, and a plain
    KeyboardInterrupt becomes :class:`Interrupted` (SIGINT). Outside the main thread (where
    Python cannot install handlers) signals keep their defaults."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_interrupted)
    try:
        yield
    except Interrupted:
        raise
    except KeyboardInterrupt as err:
        raise Interrupted(signal.SIGINT) from err
    finally:
        signal.signal(signal.SIGTERM, previous)
