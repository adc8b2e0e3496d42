"""Shared fixtures. Tests that need ../shared (the inventory, the data sets) skip
with a clear reason when it is not beside the project."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aupguard import Engine

# The suite builds hundreds of packs; compiling a Hyperscan database for each in the
# background would only burn CPU. tests/engine/test_hsscan.py turns it on where it is
# the subject, and shows both engines report the same matches.
os.environ.setdefault("AUPGUARD_HYPERSCAN", "off")

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def engine() -> Engine:
    return Engine.from_pack()


@pytest.fixture(scope="session")
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared is not beside the project")
    return SHARED


@pytest.fixture(scope="session")
def shared_data(shared: Path) -> Path:
    data = shared / "data"
    if not data.is_dir():
        pytest.skip("../shared/data is not beside the project")
    return data
