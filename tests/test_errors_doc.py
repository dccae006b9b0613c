"""docs/errors.md agrees with the bad-input suite: every config case's command and the text
its sentence must contain appear on the page."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from test_cli_bad_input import CONFIG_CASES  # noqa: E402


def test_every_config_case_is_in_the_table():
    page = (ROOT / "docs" / "errors.md").read_text()
    rows = [line for line in page.splitlines() if line.startswith("| `genq ")]
    for _, overrides, expected in CONFIG_CASES:
        cmd = "`genq " + " ".join(overrides).replace("|", "\\|") + "`"
        row = next((r for r in rows if r.startswith(f"| {cmd} |")), None)
        assert row is not None, cmd
        assert expected.replace("|", "\\|") in row, (cmd, row)
