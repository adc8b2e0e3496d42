from __future__ import annotations

import pytest

from aupguard import Engine
from aupguard.consent.keywords import KeywordIndex
from aupguard.consent.quiet_hours import QuietIndex


@pytest.fixture(scope="session")
def keywords(engine: Engine) -> KeywordIndex:
    index = engine.pack.data["consent_keywords"]
    assert isinstance(index, KeywordIndex)
    return index


@pytest.fixture(scope="session")
def quiet(engine: Engine) -> QuietIndex:
    index = engine.pack.data["quiet_hours"]
    assert isinstance(index, QuietIndex)
    return index
