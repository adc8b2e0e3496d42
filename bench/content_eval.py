"""`aupguard eval` of the SMS Spam Collection test split (3,902 messages), end to end.

Each pass runs the real command in a new interpreter (start-up, pack load,
3,902 screenings, report). Baseline, alternating with it: the same interpreter
start-up and pack load with nothing screened (`aupguard policy lint`), so the
difference is what evaluation itself costs.

    python -m bench.content_eval
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import SMS_CORPUS, report

PASSES = 3


def _run(args: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", "from aupguard.cli import main; main()", *args],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def main() -> None:
    test = SMS_CORPUS / "test.tsv"
    if not test.is_file():
        print("../shared/data is absent: nothing to evaluate", file=sys.stderr)
        return
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        evals, lints = [], []
        for _ in range(PASSES):
            lints.append(_run(["policy", "lint"]))
            evals.append(_run(["eval", str(test), "--report", str(out)]))
    e, b = statistics.median(evals), statistics.median(lints)
    report(
        "content_eval",
        {
            "messages": 3902,
            "passes": PASSES,
            "eval_seconds_median": round(e, 2),
            "baseline_start_and_load_seconds_median": round(b, 2),
            "ratio": round(e / b, 2),
            "target_seconds": 10,
        },
    )


if __name__ == "__main__":
    main()
