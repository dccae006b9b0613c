"""Print docs/errors.md's table of config errors: each case of tests/test_cli_bad_input.py's
CONFIG_CASES run through the CLI, with the sentence genq answers (exit status 2).

    python scripts/errors_table.py > /tmp/rows.md
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from test_cli_bad_input import CONFIG_CASES, SMOKE  # noqa: E402


def main() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    print("| input (with `experiment=smoke logger=none`) | genq answers (stderr, exit status 2) |")
    print("|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for _, overrides, _ in CONFIG_CASES:
            proc = subprocess.run([sys.executable, "-m", "genq.run", *SMOKE, *overrides,
                                   f"hydra.run.dir={tmp}/run"], cwd=tmp, env=env, capture_output=True, text=True)
            line = next((x for x in proc.stderr.splitlines() if x.startswith("genq: error:")), "(no error)")
            cmd = " ".join(overrides).replace("|", "\\|")
            answer = line.removeprefix("genq: error: ").replace("|", "\\|")
            print(f"| `genq {cmd}` | {answer} |")


if __name__ == "__main__":
    main()
