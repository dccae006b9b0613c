"""Run ``python -m genq.run ...`` (or ``genq.train.cli``) command lines as forks of one warm process.

A fresh ``python -m genq.run`` spends ~10 s (more on a busy machine) importing torch,
diffusers and genq's model stack before it reads its first override. The CLI tests that need
a model (bad checkpoints, unknown layer patterns, ...) each paid that. Here one server
process imports it all once; each command line then runs in a ``fork()`` of it: a real
process with its own working folder, environment, stdout, stderr and exit status, calling
the same ``genq.run.main`` the console script calls, with the interpreter's behaviour at
exit reproduced (an uncaught exception prints its traceback and exits 1; ``sys.exit(n)``
exits n). Tests about what a *fresh* interpreter prints while importing (tests/test_console.py)
or about signals (tests/test_cli_interrupts.py) keep real subprocesses.

POSIX only; :func:`available` says whether it can be used (else callers start subprocesses).
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_SERVER = r"""
import importlib, json, logging, os, sys, traceback
import genq.run
from genq.console import quiet_third_party
quiet_third_party()
import torch, diffusers                                   # noqa: F401  the ~10 s
import genq.models, genq.metrics, genq.quant.pipeline, genq.bench.speed, genq.data   # noqa: F401
sys.stdout.write("ready\n"); sys.stdout.flush()
for line in sys.stdin:
    req = json.loads(line)
    sys.stdout.flush(); sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.chdir(req["cwd"])
            os.environ.clear(); os.environ.update(req["env"])
            null = os.open(os.devnull, os.O_RDONLY); os.dup2(null, 0)
            for fd, path in ((1, req["stdout"]), (2, req["stderr"])):
                os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), fd)
            module = importlib.import_module(req["module"])
            sys.argv = [module.__file__, *req["args"]]
            try:
                module.main()
                code = 0
            except SystemExit as exit_:
                if exit_.code is None or isinstance(exit_.code, int):
                    code = exit_.code or 0
                else:
                    print(exit_.code, file=sys.stderr); code = 1
            except BaseException:
                traceback.print_exc(); code = 1
        finally:
            try:
                logging.shutdown(); sys.stdout.flush(); sys.stderr.flush()
            finally:
                os._exit(code)
    sys.stdout.write(json.dumps({"pid": pid}) + "\n"); sys.stdout.flush()
    _, status = os.waitpid(pid, 0)
    sys.stdout.write(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}) + "\n"); sys.stdout.flush()
"""


def available() -> bool:
    return hasattr(os, "fork") and sys.platform != "win32"


class Zygote:
    """The warm server; :meth:`run` is a drop-in for ``subprocess.run(capture_output=True, text=True)``
    of ``python -m genq.run *args``."""

    def __init__(self, env: dict[str, str] | None = None):
        env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
        self._proc = subprocess.Popen([sys.executable, "-c", _SERVER], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                      env=env, cwd=ROOT)
        self._lock = threading.Lock()
        self._ready = False

    def _wait_ready(self) -> None:
        if not self._ready:
            line = self._proc.stdout.readline()
            if line.strip() != "ready":
                raise RuntimeError(f"the genq CLI server did not start (exit {self._proc.poll()})")
            self._ready = True

    def run(self, args: list[str], cwd: Path | str, env: dict[str, str] | None = None,
            timeout: float | None = None, module: str = "genq.run") -> subprocess.CompletedProcess:
        """``python -m <module> *args`` (a module with a ``main()``: genq.run, genq.train.cli)
        in ``cwd`` with environment ``env`` (default: this process's), as a fork of the warm
        server. After ``timeout`` seconds the command is killed and ``subprocess.TimeoutExpired``
        raised, as ``subprocess.run`` does."""
        env = dict(os.environ if env is None else env)
        with self._lock, tempfile.TemporaryDirectory(prefix="genq-cli-") as tmp:
            self._wait_ready()
            out, err = Path(tmp) / "stdout", Path(tmp) / "stderr"
            self._proc.stdin.write(json.dumps({"module": module, "args": list(args), "cwd": str(cwd), "env": env,
                                               "stdout": str(out), "stderr": str(err)}) + "\n")
            self._proc.stdin.flush()
            pid = json.loads(self._reply())["pid"]
            if timeout is not None and not select.select([self._proc.stdout], [], [], timeout)[0]:
                os.kill(pid, signal.SIGKILL)          # the fork of this command, nothing else
                self._reply()                         # the server reaps it and answers
                raise subprocess.TimeoutExpired([sys.executable, "-m", module, *args], timeout)
            code = json.loads(self._reply())["returncode"]
            return subprocess.CompletedProcess([sys.executable, "-m", module, *args], code,
                                               out.read_text(errors="replace"), err.read_text(errors="replace"))

    def _reply(self) -> str:
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the genq CLI server died (exit {self._proc.poll()})")
        return line

    def close(self) -> None:
        """Stop the server (idle between requests: nothing of a test is lost)."""
        if self._proc.poll() is None:
            self._proc.kill()         # an interpreter shutdown with torch loaded takes seconds
            self._proc.wait()
        for stream in (self._proc.stdin, self._proc.stdout):
            stream.close()
