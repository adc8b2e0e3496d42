"""`aupguard cdr analyze` on 1 million generated CDRs: time and memory.

The CDRs are generated into a temporary file by this script (never kept in
the repository): 400 ordinary accounts, an auto-dialer and a heavy user.
The command runs as a separate process, as a user runs it; its peak memory
(maximum RSS) on 100,000 and on 1,000,000 records shows whether memory stays
flat. Baseline, in the same run: reading the same file with `csv.reader`
and nothing else.

    python -m bench.traffic_cdr
"""

from __future__ import annotations

import csv
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aupguard.traffic.cdr import synthetic_cdrs
from bench.common import report

SIZES = (100_000, 1_000_000)


def _run(path: Path) -> tuple[float, int]:
    """Seconds and peak RSS (KiB) of `aupguard cdr analyze` in a fresh process."""
    code = (
        "import resource, sys\n"
        "from aupguard.cli import main\n"
        "sys.argv = ['aupguard', 'cdr', 'analyze', '--json', sys.argv[1]]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    )
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    seconds = time.perf_counter() - start
    rss = int(done.stderr.strip().splitlines()[-1])
    assert len(done.stdout.splitlines()) > 400
    return seconds, rss


def main() -> None:
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in SIZES:
            path = Path(tmp) / f"cdr-{n}.csv"
            start = time.perf_counter()
            with path.open("w", encoding="utf-8") as out:
                out.writelines(synthetic_cdrs(n))
            generated = time.perf_counter() - start
            start = time.perf_counter()
            with path.open(encoding="utf-8", newline="") as handle:
                rows = sum(1 for _ in csv.reader(handle))
            bare = time.perf_counter() - start
            seconds, rss = _run(path)
            results[n] = {
                "records": rows - 1,
                "file_mb": round(path.stat().st_size / 1e6, 1),
                "generate_seconds": round(generated, 2),
                "bare_csv_read_seconds": round(bare, 2),
                "analyze_seconds": round(seconds, 2),
                "analyze_records_per_second": round((rows - 1) / seconds),
                "ratio_to_bare_read": round(seconds / bare, 1),
                "peak_rss_mb": round(rss / 1024, 1),
            }
            path.unlink()
    small, large = results[SIZES[0]], results[SIZES[1]]
    report(
        "traffic_cdr",
        {
            "runs": {str(k): v for k, v in results.items()},
            "memory_growth_10x_records": round(large["peak_rss_mb"] / small["peak_rss_mb"], 2),
            "largest_child_rss_mb": round(
                resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1
            ),
        },
    )


if __name__ == "__main__":
    main()
