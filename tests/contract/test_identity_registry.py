"""The sender-registry contract: one suite for memory, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from aupguard.engine.events import SenderType
from aupguard.identity.registry import (
    AccountProfile,
    EvidenceKind,
    MemorySenderRegistry,
    SenderEvidence,
    SenderRecord,
    SenderRegistry,
)
from aupguard.identity.service import (
    RegistrationError,
    confirm_verification,
    record_evidence,
    register_sender,
    start_verification,
)
from aupguard.identity.sql import SqlSenderRegistry
from aupguard.store.db import Database
from aupguard.store.migrate import upgrade
from tests.services import postgres_database

T0 = datetime(2026, 6, 2, 16, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def registry(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[SenderRegistry]:
    if request.param == "memory":
        yield MemorySenderRegistry()
        return
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path}/identity.sqlite")
        upgrade(db)
        yield SqlSenderRegistry(db)
        db.dispose()
        return
    with postgres_database() as url:
        db = Database(url)
        upgrade(db)
        yield SqlSenderRegistry(db)
        db.dispose()


def record(tenant: str, sender: str, **fields: object) -> SenderRecord:
    data: dict[str, object] = {
        "tenant": tenant,
        "sender": sender,
        "kind": SenderType.LONG_CODE,
        "created": T0,
        "updated": T0,
    }
    data.update(fields)
    return SenderRecord.model_validate(data)


def test_put_get_round_trip(registry: SenderRegistry) -> None:
    evidence = (SenderEvidence(kind=EvidenceKind.CARRIER_LOA, reference="LOA-7", at=T0, by="ops"),)
    stored = record("acme", "+12025550143", status="verified", evidence=evidence, brand="acme")
    registry.put(stored)
    assert registry.get("acme", "+12025550143") == stored
    assert registry.get("acme", "+12025550144") is None


def test_put_replaces_and_list_is_ordered(registry: SenderRegistry) -> None:
    registry.put(record("acme", "+12025550150"))
    registry.put(record("acme", "+12025550143"))
    registry.put(record("acme", "+12025550150", status="revoked", updated=T0 + timedelta(hours=1)))
    listed = registry.list("acme")
    assert [r.sender for r in listed] == ["+12025550143", "+12025550150"]
    assert listed[1].status == "revoked"
    assert listed[1].updated == T0 + timedelta(hours=1)


def test_delete(registry: SenderRegistry) -> None:
    registry.put(record("acme", "+12025550143"))
    assert registry.delete("acme", "+12025550143")
    assert not registry.delete("acme", "+12025550143")
    assert registry.list("acme") == []


def test_tenants_cannot_read_each_other(registry: SenderRegistry) -> None:
    registry.put(record("acme", "+12025550143", status="verified"))
    registry.put_profile(AccountProfile(tenant="acme", emergency_address="1 Main St"))
    assert registry.get("globex", "+12025550143") is None
    assert registry.list("globex") == []
    assert not registry.delete("globex", "+12025550143")
    assert registry.get("acme", "+12025550143") is not None
    assert registry.get_profile("globex") is None
    # the one cross-tenant read answers only yes/no, and never about the asker itself
    assert registry.verified_elsewhere("globex", "+12025550143")
    assert not registry.verified_elsewhere("acme", "+12025550143")


def test_pending_records_do_not_claim_a_number(registry: SenderRegistry) -> None:
    registry.put(record("acme", "+12025550143"))
    assert not registry.verified_elsewhere("globex", "+12025550143")


def test_profiles(registry: SenderRegistry) -> None:
    registry.put_profile(AccountProfile(tenant="acme", allowed_regions=frozenset({"US", "CA"})))
    assert registry.get_profile("acme") == AccountProfile(
        tenant="acme", allowed_regions=frozenset({"US", "CA"})
    )
    registry.put_profile(AccountProfile(tenant="acme", emergency_address="1 Main St"))
    profile = registry.get_profile("acme")
    assert profile is not None
    assert (profile.emergency_address, profile.allowed_regions) == ("1 Main St", None)


def test_code_verification_flow(registry: SenderRegistry) -> None:
    code = start_verification(registry, "acme", "+1 (202) 555-0143", T0, channel="call")
    pending = registry.get("acme", "+12025550143")
    assert pending is not None and pending.status == "pending" and pending.challenge is not None
    assert code not in pending.model_dump_json()  # only a salted hash is kept
    wrong = "000000" if code != "000000" else "111111"
    with pytest.raises(RegistrationError, match="4 tries left"):
        confirm_verification(registry, "acme", "+12025550143", wrong, T0)
    done = confirm_verification(registry, "acme", "+12025550143", code, T0 + timedelta(minutes=1))
    assert done.status == "verified"
    assert [e.kind for e in done.evidence] == [EvidenceKind.VERIFICATION_CALL]
    assert registry.get("acme", "+12025550143") == done


def test_codes_expire_and_limit_attempts(registry: SenderRegistry) -> None:
    code = start_verification(registry, "acme", "+12025550143", T0)
    with pytest.raises(RegistrationError, match="expired"):
        confirm_verification(registry, "acme", "+12025550143", code, T0 + timedelta(minutes=11))
    code = start_verification(registry, "acme", "+12025550143", T0)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        with pytest.raises(RegistrationError, match="wrong"):
            confirm_verification(registry, "acme", "+12025550143", wrong, T0)
    with pytest.raises(RegistrationError, match="too many"):
        confirm_verification(registry, "acme", "+12025550143", code, T0)


def test_a_number_verified_by_one_account_cannot_be_verified_by_another(
    registry: SenderRegistry,
) -> None:
    record_evidence(registry, "acme", "+12025550143", EvidenceKind.CARRIER_LOA, T0, reference="L1")
    with pytest.raises(RegistrationError, match="another account"):
        record_evidence(
            registry, "globex", "+12025550143", EvidenceKind.CARRIER_LOA, T0, reference="L2"
        )
    with pytest.raises(RegistrationError, match="another account"):
        start_verification(registry, "globex", "+12025550143", T0)
    assert registry.list("globex") == []  # a refused step writes nothing


def test_evidence_rules(registry: SenderRegistry) -> None:
    with pytest.raises(RegistrationError) as info:
        record_evidence(registry, "acme", "+12025550143", EvidenceKind.CARRIER_LOA, T0)
    assert info.value.field == "reference"
    with pytest.raises(RegistrationError, match="code"):
        record_evidence(registry, "acme", "+12025550143", EvidenceKind.VERIFICATION_SMS, T0)
    with pytest.raises(RegistrationError) as info:
        register_sender(registry, "acme", "+1 202", T0)
    assert info.value.field == "sender"
    alnum = record_evidence(
        registry, "acme", "Acme Co", EvidenceKind.BRAND_REGISTRATION, T0, reference="B-1"
    )
    assert (alnum.sender, alnum.kind, alnum.status) == (
        "ACME CO",
        SenderType.ALPHANUMERIC,
        "verified",
    )
