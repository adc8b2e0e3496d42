"""The send-path pipeline a server builds from its settings."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from aupguard import Engine, Verdict
from aupguard.config import Settings
from aupguard.consent import ConsentEvent, ConsentKind
from aupguard.consent.model import ConsentMethod
from aupguard.consent.sql import SqlConsentStore
from aupguard.service.pipeline import build_screener
from aupguard.store.db import Database
from aupguard.store.migrate import upgrade
from tests.factories import RECIPIENT, message
from tests.services import REDIS_URL, redis_prefix


def test_limits_are_counted_in_memory_by_default(engine: Engine) -> None:
    screener = build_screener(Settings(database_url=""), engine, None)
    first, second = (screener.screen(message("see you at 7", at=None)) for _ in range(2))
    assert first.verdict is Verdict.ALLOW
    assert second.verdict is Verdict.THROTTLE  # a long code sends 1 segment/s
    assert second.hits[0].rule == "traffic.channel_limit"


def test_workers_built_from_the_same_settings_share_redis_limits(engine: Engine) -> None:
    with redis_prefix() as (_, prefix):
        settings = Settings(database_url="", redis_url=REDIS_URL, redis_prefix=prefix)
        worker_a = build_screener(settings, engine, None)
        worker_b = build_screener(settings, engine, None)
        assert worker_a.screen(message("see you at 7", at=None)).verdict is Verdict.ALLOW
        assert worker_b.screen(message("see you at 7", at=None)).verdict is Verdict.THROTTLE


def test_the_sender_registry_is_enforced_only_when_asked(engine: Engine) -> None:
    open_path = build_screener(Settings(database_url=""), engine, None)
    assert open_path.screen(message("see you at 7", at=None)).verdict is Verdict.ALLOW
    enforced = build_screener(Settings(database_url="", sender_registry="enforce"), engine, None)
    decision = enforced.screen(message("see you at 7", at=None))
    assert decision.verdict is Verdict.BLOCK
    assert "sender.unregistered" in [hit.rule for hit in decision.hits]


def test_an_opt_out_in_the_database_blocks_the_next_message(engine: Engine, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gateway.sqlite'}"
    database = Database(url)
    upgrade(database)
    try:
        SqlConsentStore(database).append(
            [
                ConsentEvent(
                    tenant="default",
                    recipient=RECIPIENT,
                    kind=ConsentKind.OPT_OUT,
                    at=datetime(2026, 3, 1, tzinfo=UTC),
                    method=ConsentMethod.KEYWORD,
                    wording="STOP",
                )
            ]
        )
        screener = build_screener(Settings(database_url=url), engine, database)
        decision = screener.screen(message("see you at 7", at=None))
        assert decision.verdict is Verdict.BLOCK
        assert decision.code == 21610
        assert "P28" in decision.clauses
    finally:
        database.dispose()
