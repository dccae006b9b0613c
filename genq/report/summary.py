"""``python -m genq.report.summary DIR...``: print one line per result record found."""

from __future__ import annotations

import sys

from genq.report.terminal import print_summary
from genq.tracking.record import finished_records


def main(argv: list[str] | None = None) -> int:
    roots = (argv if argv is not None else sys.argv[1:]) or ["outputs", "multirun"]
    records = [record for _, record in finished_records(*roots)]
    if not records:
        print(f"no result.json under {' '.join(roots)}", file=sys.stderr)
        return 1
    print_summary(records)
    return 0


if __name__ == "__main__":
    sys.exit(main())
