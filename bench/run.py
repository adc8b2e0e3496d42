"""Run every benchmark in turn (each prints JSON and writes bench/results/<name>.json)."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = [
    "engine_screen",
    "pack_load",
    "http_keys",
    "http_frameworks",
    "http_screen",
    "http_messages",
    "shaken",
    "content_engine",
    "content_eval",
    "traffic_memory",
    "traffic_redis",
    "traffic_cdr",
    "consent",
    "audit",
    "console_pages",
]

if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent))
    chosen = sys.argv[1:] or BENCHES
    for name in chosen:
        print(f"== {name}", flush=True)
        runpy.run_path(str(HERE / f"{name}.py"), run_name="__main__")
