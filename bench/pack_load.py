"""Loading and compiling the default pack: cold (new process, imports included) and warm.

Baseline in the same run: compiling only the RE2 set of the pack's lexicons,
the one step a pack load cannot avoid.

    python bench/pack_load.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from aupguard.engine.compiler import compile_pack
from aupguard.engine.lexicon import LexiconSet, LexiconSource
from aupguard.policy.loader import load_source
from bench.common import report

COLD = (
    "import time; t = time.perf_counter(); from aupguard import Engine; Engine.from_pack(); "
    "print(time.perf_counter() - t)"
)


def main() -> None:
    cold = [
        float(
            subprocess.run(
                [sys.executable, "-c", COLD], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(3)
    ]
    warm, sets = [], []
    for _ in range(5):
        start = time.perf_counter()
        source = load_source()
        pack = compile_pack(source)
        warm.append(time.perf_counter() - start)
        lexicon_sources = [
            LexiconSource(n, tuple(v.value.terms), tuple(v.value.patterns))
            for n, v in source.lexicons.items()
        ]
        start = time.perf_counter()
        LexiconSet(lexicon_sources)
        sets.append(time.perf_counter() - start)
    report(
        "pack_load",
        {
            "rules": len(pack.rules),
            "lexicon_patterns": len(pack.lexicons),
            "cold_seconds_median": statistics.median(cold),
            "warm_seconds_median": statistics.median(warm),
            "re2_set_only_seconds_median": statistics.median(sets),
            "ratio_warm_to_set": statistics.median(warm) / statistics.median(sets),
        },
    )


if __name__ == "__main__":
    main()
