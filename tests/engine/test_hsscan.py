"""Hyperscan behind the lexicon set: the same matches as RE2 for any text, the
switch once the database is ready, the disk cache, and the ways to stay on RE2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aupguard import Engine, OutboundMessage
from aupguard.engine import hsscan
from aupguard.engine.lexicon import LexiconSet
from aupguard.engine.normalise import normalise
from aupguard.engine.re2util import compile_set
from aupguard.policy.testing import run_examples

pytestmark = pytest.mark.skipif(not hsscan.AVAILABLE, reason="hyperscan is not installed")

RE2 = Engine.from_pack()  # built while the suite keeps Hyperscan off
LEXICONS = RE2.pack.lexicons
PATTERNS = list(LEXICONS.patterns)
TERMS = [LEXICONS._entries[i].label for i in range(len(LEXICONS))]
RE2_SET: Any = LEXICONS._set
assert RE2_SET is not None


@pytest.fixture(scope="module")
def scanner(tmp_path_factory: pytest.TempPathFactory) -> hsscan.HsScanner:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AUPGUARD_CACHE_DIR", str(tmp_path_factory.mktemp("hs")))
        built = hsscan.compile_now(PATTERNS)
    assert built is not None
    return built


@pytest.fixture
def hyperscan_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AUPGUARD_HYPERSCAN", "on")
    monkeypatch.setenv("AUPGUARD_CACHE_DIR", str(tmp_path))
    return tmp_path


def _re2(text: str) -> set[int]:
    return set(RE2_SET.Match(text) or ())


PIECES = st.one_of(
    st.sampled_from(TERMS).map(normalise),
    st.sampled_from(["pay", "the", "fee", "http://x.top/a", "c0ca1ne", "v.i.a.g.r.a", "4111 1111"]),
    st.text(max_size=12),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(PIECES, max_size=8).map(" ".join))
def test_both_engines_find_the_same_patterns(scanner: hsscan.HsScanner, text: str) -> None:
    for view in (text, normalise(text), f"{text}\n{normalise(text)}"):
        assert set(scanner.match(view)) == _re2(view)


def test_they_agree_on_the_corpus(scanner: hsscan.HsScanner, shared_data: Path) -> None:
    from bench.common import sms_bodies

    bodies = [normalise(b) for b in sms_bodies()]
    assert len(bodies) > 5000
    differ = [b for b in bodies if set(scanner.match(b)) != _re2(b)]
    assert differ == []
    assert sum(1 for b in bodies if scanner.match(b)) > 500  # the corpus does match things


def test_a_pack_switches_to_hyperscan_and_decides_as_before(hyperscan_on: Path) -> None:
    engine = Engine.from_pack()
    assert engine.pack.lexicons.wait_for_hyperscan(300)
    assert engine.pack.lexicons.engine == "hyperscan"
    assert list(hyperscan_on.glob("*.hsdb"))  # cached for the next process
    again = Engine.from_pack()
    assert again.pack.lexicons.engine == "hyperscan"  # from the cache, at once
    results = run_examples(engine.pack)
    assert len(results) > 50
    assert [r.problem for r in results if r.problem] == []
    phish = OutboundMessage.model_validate(
        {"from": "+12025550143", "to": "+14155550123",
         "body": "Your parcel is held, pay the fee at hxxp://dhl-track[.]top/pay"}
    )  # fmt: skip
    fast, slow = engine.screen(phish), RE2.screen(phish)
    assert fast.verdict == slow.verdict != "allow"
    assert [h.rule for h in fast.hits] == [h.rule for h in slow.hits]


def test_small_sets_switched_off_or_unwritable_caches_stay_correct(
    hyperscan_on: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = LexiconSet([])
    assert small.engine == "re2" and not small.wait_for_hyperscan(60)  # at once
    monkeypatch.setenv("AUPGUARD_HYPERSCAN", "off")
    assert Engine.from_pack().pack.lexicons.engine == "re2"
    monkeypatch.setenv("AUPGUARD_HYPERSCAN", "on")
    blocked = hyperscan_on / "file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("AUPGUARD_CACHE_DIR", str(blocked / "cache"))
    built = hsscan.compile_now(PATTERNS[:80])  # compiled and used, just not kept
    assert built is not None
    assert not (blocked / "cache").exists()
    texts = [normalise(t) for t in TERMS[:80]]
    assert all(set(built.match(t)) == _re2_of(PATTERNS[:80], t) for t in texts)
    assert sum(1 for t in texts if built.match(t)) >= 70


def _re2_of(patterns: list[str], text: str) -> set[int]:
    return set(compile_set(patterns).Match(text) or ())


def test_a_damaged_cache_file_is_compiled_again(hyperscan_on: Path) -> None:
    patterns = PATTERNS[:80]
    damaged = hyperscan_on / f"{hsscan._digest(patterns)}.hsdb"
    damaged.write_bytes(b"not a database")
    built = hsscan.compile_now(patterns)
    assert built is not None
    assert set(built.match(normalise(TERMS[0]))) == _re2_of(patterns, normalise(TERMS[0]))
    assert damaged.read_bytes() != b"not a database"  # replaced by the good one
