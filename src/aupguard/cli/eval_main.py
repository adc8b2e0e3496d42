"""`python -m aupguard.cli.eval_main DATASET ...`: `aupguard eval` without the console script."""

from __future__ import annotations

import sys

from aupguard.cli import app

if __name__ == "__main__":
    sys.argv[1:1] = ["eval"]
    app()
