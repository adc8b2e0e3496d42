"""Calls and messages through the screening pipeline with the identity sources:
ownership, signing, emergency numbers, sanctions, geo-permissions, recording
consent, call caps and inbound verification."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from aupguard import Engine, Verdict
from aupguard.engine.events import AnyEvent
from aupguard.identity.certs import CertificateCache, TrustStore
from aupguard.identity.gauges import MemoryGauge
from aupguard.identity.registry import EvidenceKind, MemorySenderRegistry
from aupguard.identity.service import (
    CallScreener,
    SenderSource,
    ShakenSigner,
    record_evidence,
    register_sender,
    set_profile,
)
from aupguard.identity.verify import ShakenVerifier
from aupguard.service import Screener
from aupguard.service.screening import DEPENDENCY_RULE
from tests.factories import NOON_NY, call, message
from tests.identity.pki import RefPKI, pem

X5U = "https://certs.example/sp.pem"
CALLER = "+12025550143"


class Capabilities:
    """Another state source (standing/billing) that grants account capabilities."""

    name = "standing"
    fail_mode = "closed"
    clauses = ("W11",)

    def __init__(self, *caps: str) -> None:
        self.caps = frozenset(caps)

    def read(self, event: AnyEvent, now: datetime) -> dict[str, Any]:
        return {"account": {"capabilities": self.caps}}


@pytest.fixture
def registry() -> MemorySenderRegistry:
    reg = MemorySenderRegistry()
    record_evidence(reg, "acme", CALLER, EvidenceKind.CARRIER_LOA, NOON_NY, reference="LOA-1")
    return reg


def verifier_for(pki: RefPKI) -> ShakenVerifier:
    return ShakenVerifier(CertificateCache(lambda _u: pem(pki.sp), TrustStore([pki.ca])))


def screener(engine: Engine, registry: MemorySenderRegistry, **kw: Any) -> CallScreener:
    return CallScreener(engine, registry, **kw)


def test_verified_number_is_signed_with_attestation_a_and_verifies(
    engine: Engine, registry: MemorySenderRegistry, pki: RefPKI
) -> None:
    signer = ShakenSigner(pki.sp_key, X5U)
    result = screener(engine, registry, signer=signer).screen_call(
        call("+14155550123", account="acme")
    )
    assert result.decision.verdict is Verdict.ALLOW, result.decision.hits
    assert result.attestation == "A"
    assert result.identity is not None
    check = verifier_for(pki).verify(
        result.identity, now=NOON_NY, caller=CALLER, callee="+14155550123"
    )
    assert check.verstat_attest == "TN-Validation-Passed-A"
    assert result.max_duration_seconds == 14400


def test_customer_attested_number_gets_b_and_transit_gets_c(
    engine: Engine, registry: MemorySenderRegistry, pki: RefPKI
) -> None:
    record_evidence(registry, "acme", "+12025550150", EvidenceKind.CUSTOMER_ATTESTATION, NOON_NY)
    signer = ShakenSigner(pki.sp_key, X5U)
    b = screener(engine, registry, signer=signer).screen_call(
        call("+14155550123", account="acme", **{"from": "+12025550150"})
    )
    assert b.attestation == "B"
    c = screener(engine, registry, signer=signer, sources=[Capabilities("transit")]).screen_call(
        call("+14155550123", account="acme", **{"from": "+12025550160"})
    )
    assert c.decision.verdict is Verdict.ALLOW
    assert c.attestation == "C"
    assert verifier_for(pki).verify(c.identity, now=NOON_NY).attest == "C"


def test_unregistered_unverified_and_foreign_callers_are_blocked(
    engine: Engine, registry: MemorySenderRegistry
) -> None:
    cs = screener(engine, registry)
    unregistered = cs.screen_call(call("+14155550123", account="acme", **{"from": "+12025550199"}))
    assert unregistered.decision.verdict is Verdict.BLOCK
    assert [h.rule for h in unregistered.decision.hits] == ["sender.unregistered"]
    assert set(unregistered.decision.clauses) >= {"P5", "P11"}
    assert unregistered.identity is None
    register_sender(registry, "acme", "+12025550198", NOON_NY)
    unverified = cs.screen_call(call("+14155550123", account="acme", **{"from": "+12025550198"}))
    assert [h.rule for h in unverified.decision.hits] == ["sender.unverified"]
    foreign = cs.screen_call(call("+14155550123", account="globex"))
    assert "sender.foreign" in [h.rule for h in foreign.decision.hits]
    assert foreign.decision.verdict is Verdict.BLOCK


def test_911_without_emergency_capability_is_refused_citing_p18(
    engine: Engine, registry: MemorySenderRegistry
) -> None:
    cs = screener(engine, registry)
    for to, region in (("911", None), ("9-1-1", None), ("112", "DE")):
        result = cs.screen_call(call(to, account="acme", region=region))
        assert result.decision.verdict is Verdict.BLOCK, to
        assert "P18" in result.decision.clauses
        assert [h.rule for h in result.decision.hits] == ["emergency.call_without_capability"]


def test_emergency_calls_need_the_capability_and_a_dispatchable_address(
    engine: Engine, registry: MemorySenderRegistry
) -> None:
    enabled = screener(engine, registry, sources=[Capabilities("emergency_calling")])
    no_address = enabled.screen_call(call("911", account="acme"))
    assert no_address.decision.verdict is Verdict.BLOCK
    set_profile(registry, "acme", emergency_address="1 Main St, Washington DC 20001")
    assert enabled.screen_call(call("911", account="acme")).decision.verdict is Verdict.ALLOW


def test_sanctioned_destination_is_blocked_citing_s13(
    engine: Engine, registry: MemorySenderRegistry
) -> None:
    cs = screener(engine, registry)
    for to in ("+5358123456", "+98 912 123 4567", "+7 365 212 3456"):
        result = cs.screen_call(call(to, account="acme"))
        assert result.decision.verdict is Verdict.BLOCK, to
        assert "S13" in result.decision.clauses
        assert result.decision.code == 21408
    held = cs.screen_call(call("+963112345678", account="acme"))
    assert held.decision.verdict is Verdict.HOLD
    sms = Screener(engine, [SenderSource(registry)]).screen(
        message("hello", to="+5358123456", account="acme")
    )
    assert sms.verdict is Verdict.BLOCK
    assert "S13" in sms.clauses


def test_geo_permissions_per_account(engine: Engine, registry: MemorySenderRegistry) -> None:
    set_profile(registry, "acme", allowed_regions=["us", "CA"])
    cs = screener(engine, registry)
    assert cs.screen_call(call("+14155550123", account="acme")).decision.verdict is Verdict.ALLOW
    blocked = cs.screen_call(call("+4915112345678", account="acme"))
    assert blocked.decision.verdict is Verdict.BLOCK
    assert blocked.decision.code == 21408
    assert "DE is not enabled" in blocked.decision.hits[0].evidence[0].label


def test_recording_without_all_party_consent(
    engine: Engine, registry: MemorySenderRegistry
) -> None:
    cs = screener(engine, registry)
    refused = cs.screen_call(call("+14155550123", account="acme", recorded=True))
    assert refused.decision.verdict is Verdict.BLOCK
    assert refused.decision.clauses == ("P23",)
    labels = [e.label for e in refused.decision.hits[0].evidence]
    assert "US-CA requires all-party consent" in labels
    ok = cs.screen_call(call("+14155550123", account="acme", recorded=True, recording_consent=True))
    assert ok.decision.verdict is Verdict.ALLOW


def test_concurrent_call_cap_with_the_gauge(engine: Engine, registry: MemorySenderRegistry) -> None:
    gauge = MemoryGauge()
    cs = screener(engine, registry, gauge=gauge)
    for i in range(10):
        assert cs.screen_call(call("+14155550123", account="acme"), call_id=f"c{i}").allowed
    over = cs.screen_call(call("+14155550123", account="acme"), call_id="c10")
    assert over.decision.verdict is Verdict.THROTTLE
    assert over.decision.clauses == ("O3",)
    assert gauge.active("acme") == 10
    cs.end_call("acme", "c3", NOON_NY)
    assert cs.screen_call(call("+14155550123", account="acme"), call_id="c10").allowed
    assert gauge.active("globex") == 0


def test_inbound_calls_are_verified(
    engine: Engine, registry: MemorySenderRegistry, pki: RefPKI
) -> None:
    cs = screener(engine, registry, verifier=verifier_for(pki))
    good = ShakenSigner(pki.sp_key, X5U).header("+14155550123", CALLER, "A", NOON_NY)
    inbound = {"from": "+14155550123", "direction": "inbound", "account": "acme"}
    passed = cs.screen_call(call(CALLER, identity_header=good, **inbound))
    assert passed.verification is not None and passed.verification.passed
    assert passed.state.sender.verstat == "TN-Validation-Passed"
    assert passed.state.sender.attestation == "A"
    assert passed.identity is None
    bad = cs.screen_call(call(CALLER, identity_header=good[:-40], **inbound))
    assert bad.decision.verdict is Verdict.ALLOW  # tagged, not blocked, by default
    assert [h.rule for h in bad.decision.hits] == ["shaken.inbound_failed"]
    assert bad.state.sender.verstat_reason
    unsigned = cs.screen_call(call(CALLER, **inbound))
    assert unsigned.state.sender.verstat == "No-TN-Validation"


def test_messages_from_unregistered_senders_and_brand_lookalikes(
    engine: Engine, registry: MemorySenderRegistry
) -> None:
    pipeline = Screener(engine, [SenderSource(registry)])
    assert pipeline.screen(message("hello", account="acme")).verdict is Verdict.ALLOW
    stranger = pipeline.screen(message("hello", account="acme", **{"from": "+12025550177"}))
    assert stranger.verdict is Verdict.BLOCK and "P5" in stranger.clauses
    record_evidence(
        registry, "acme", "PAYPAL", EvidenceKind.BRAND_REGISTRATION, NOON_NY, reference="B-9"
    )
    register_sender(registry, "acme", "PAYPAL", NOON_NY, brand="paypal")
    fake = pipeline.screen(
        message("Account locked", account="acme", sender_type="alphanumeric", **{"from": "PAYPA1"})
    )
    assert fake.verdict is Verdict.BLOCK
    real = pipeline.screen(
        message("Your receipt", account="acme", sender_type="alphanumeric", **{"from": "PAYPAL"})
    )
    assert real.verdict is Verdict.ALLOW, real.hits


def test_registry_outage_fails_closed(engine: Engine) -> None:
    class Down(MemorySenderRegistry):
        def get_profile(self, tenant: str) -> None:
            raise ConnectionError("database unreachable")

    decision = Screener(engine, [SenderSource(Down())]).screen(message("hi", account="acme"))
    assert decision.verdict is Verdict.BLOCK
    assert decision.hits[-1].rule == DEPENDENCY_RULE
    assert set(decision.clauses) >= {"P5", "P11"}
