"""ClamAV for real: clamd started on a temporary socket, scanned through INSTREAM."""

from __future__ import annotations

from datetime import UTC, datetime

from aupguard import Engine, Verdict
from aupguard.content.clamav import ClamAVSource, ClamdClient
from aupguard.service.screening import Screener
from tests.content.conftest import Clamd
from tests.factories import message


def test_instream_finds_hash_and_body_signatures(clamd: Clamd) -> None:
    client = clamd.client
    assert client.ping()
    assert "ClamAV" in client.version()
    assert client.instream(b"an ordinary holiday photo caption").status == "clean"
    found = client.instream(clamd.hdb_sample)
    assert (found.status, found.signature) == ("infected", "Aupguard.Test.Hash.UNOFFICIAL")
    body = client.instream(b"x" * 100_000 + clamd.ndb_marker + b"y" * 200_000)  # spans chunks
    assert (body.status, body.signature) == ("infected", "Aupguard.Test.Body.UNOFFICIAL")


def test_stream_over_clamd_limit_is_an_error_result_not_an_exception(clamd: Clamd) -> None:
    result = clamd.client.instream(b"z" * (3 << 20))  # StreamMaxLength is 2M in the fixture
    assert result.status == "error"
    assert result.reason


def test_screening_with_clamav_blocks_infected_media_citing_w5(
    clamd: Clamd, engine: Engine
) -> None:
    screener = Screener(engine, sources=[ClamAVSource(clamd.client)])
    event = message(
        "here is the file you asked for",
        channel="mms",
        media=[{"content_type": "text/plain", "data": clamd.ndb_marker + b" trailing text"}],
    )
    decision = screener.screen(event, datetime(2026, 6, 2, 16, 0, tzinfo=UTC))
    assert decision.verdict is Verdict.BLOCK
    hit = next(h for h in decision.hits if h.rule == "media.malware")
    assert "W5" in hit.clauses
    assert any("clamav:Aupguard.Test.Body.UNOFFICIAL" in e.label for e in hit.evidence)
    clean = message(
        "menu", channel="mms", media=[{"content_type": "text/plain", "data": b"soup of the day"}]
    )
    assert screener.screen(clean).verdict is Verdict.ALLOW


def test_clamd_down_fails_open_and_says_so(engine: Engine, tmp_path: object) -> None:
    screener = Screener(
        engine, sources=[ClamAVSource(ClamdClient("/nonexistent/clamd.sock", timeout=1))]
    )
    event = message("menu", channel="mms", media=[{"content_type": "text/plain", "data": b"soup"}])
    decision = screener.screen(event)
    assert decision.verdict is Verdict.ALLOW
    assert decision.degraded and decision.degraded[0].startswith("clamav: ClamdError")
