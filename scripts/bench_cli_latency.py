"""How fast does the CLI answer? (issue 21: <= 2 s for --help, --cfg job and config errors.)

Times ``genq --help``, ``genq --cfg job`` and ``genq quant.w_bits=0`` (a config error, exit 2)
as fresh processes, the way a user meets them; prints the median of a few runs and the CPU.

    python scripts/bench_cli_latency.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = {"genq --help": ["--help"], "genq --cfg job": ["--cfg", "job"],
         "genq quant.w_bits=0": ["quant.w_bits=0"]}


def cpu_model() -> str:
    """The CPU's model name and ISA (``genq.bench.isa``: /proc/cpuinfo, the platform's
    processor string elsewhere)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from genq.bench.isa import cpu_info

    info = cpu_info()
    return f"{info['model']} [{', '.join(info['isa']) or 'no AVX2'}]"


def time_once(args: list[str], out_dir: str) -> tuple[float, int]:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    cmd = [sys.executable, "-m", "genq.run", *args, f"hydra.run.dir={out_dir}/run"] if "=" in args[0] \
        else [sys.executable, "-m", "genq.run", *args]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=out_dir, env=env, capture_output=True, text=True)
    return time.perf_counter() - start, proc.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"CPU: {cpu_model()} ({os.cpu_count()} logical cores), load average {load:.1f}; "
          f"python {platform.python_version()}; median of {args.repeats} runs")
    with tempfile.TemporaryDirectory() as tmp:
        time_once(["--help"], tmp)           # warm the OS file cache once
        for name, case in CASES.items():
            runs = [time_once(case, tmp) for _ in range(args.repeats)]
            secs = sorted(t for t, _ in runs)
            codes = sorted({rc for _, rc in runs})
            print(f"  {name:<22} median {statistics.median(secs):5.2f} s  (min {secs[0]:.2f}, "
                  f"max {secs[-1]:.2f}; exit status {', '.join(map(str, codes))})")


if __name__ == "__main__":
    main()
