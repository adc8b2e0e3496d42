"""Write small packs for tests."""

from __future__ import annotations

import textwrap
from pathlib import Path

from aupguard import Engine

HEADER = """\
pack: test-pack
version: "{version}"
clauses:
  X1: {{seed: test, policy: test policy, text: first obligation}}
  X2: {{seed: test, policy: test policy, text: second obligation}}
"""


def write_pack(folder: Path, body: str, version: str = "1", name: str = "pack.yaml") -> Path:
    path = folder / name
    path.write_text(HEADER.format(version=version) + textwrap.dedent(body), "utf-8")
    return path


def engine_for(folder: Path, body: str, version: str = "1") -> Engine:
    return Engine.from_pack(write_pack(folder, body, version))
