"""Identity services: register and verify senders, and screen calls end to end.

Registration: `register_sender`, `start_verification` / `confirm_verification`
(a code sent by call or SMS and read back), `record_evidence` (letter of
authorisation, platform-assigned number, brand registration, customer
attestation), `revoke_sender`, `set_profile` (emergency dispatchable address,
geo-permissions).

Screening: `SenderSource`, `ShakenSource` and `CallCapSource` are state sources
for the screening pipeline (`service.screening.Screener`). `CallScreener.screen_call`
runs them with the engine for a `CallAttempt` and, for an allowed outbound call,
signs a PASSporT with the attestation the ownership evidence earns and counts the
call in the concurrency gauge; `end_call` releases it. A `POST /v1/calls` endpoint is
a thin adapter over `screen_call`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric import ec

from aupguard.engine.decision import Decision, Verdict
from aupguard.engine.events import AnyEvent, CallAttempt, OutboundMessage, SenderType
from aupguard.engine.facade import Engine
from aupguard.engine.state import State
from aupguard.identity.datasets import CallPlans
from aupguard.identity.gauges import ConcurrencyGauge
from aupguard.identity.numbering import InvalidSender, classify, normalise_sender, tn_digits
from aupguard.identity.passport import identity_header, sign_passport
from aupguard.identity.registry import (
    AccountProfile,
    Challenge,
    EvidenceKind,
    SenderEvidence,
    SenderRecord,
    SenderRegistry,
    attestation_for,
)
from aupguard.identity.verify import ShakenVerifier, Verification
from aupguard.service.screening import Clock, Screener, StateSource, utc_now

__all__ = [
    "CallCapSource",
    "CallScreener",
    "CallScreening",
    "RegistrationError",
    "SenderSource",
    "ShakenSigner",
    "ShakenSource",
    "confirm_verification",
    "record_evidence",
    "register_sender",
    "revoke_sender",
    "set_profile",
    "start_verification",
]

CODE_TTL = timedelta(minutes=10)
MAX_ATTEMPTS = 5
_NEEDS_REFERENCE = frozenset(
    {EvidenceKind.CARRIER_LOA, EvidenceKind.BRAND_REGISTRATION, EvidenceKind.WHATSAPP_BUSINESS}
)
_CODE_EVIDENCE = frozenset({EvidenceKind.VERIFICATION_CALL, EvidenceKind.VERIFICATION_SMS})


class RegistrationError(ValueError):
    """A registration step that cannot be done; `field` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _normal(sender: str, region: str | None) -> str:
    try:
        return normalise_sender(sender, region)
    except InvalidSender as exc:
        raise RegistrationError("sender", str(exc)) from None


def register_sender(
    registry: SenderRegistry,
    tenant: str,
    sender: str,
    now: datetime,
    *,
    kind: SenderType | None = None,
    brand: str | None = None,
    campaign: str | None = None,
    region: str | None = None,
) -> SenderRecord:
    """Register a sender for `tenant` (pending until verified); an existing record is
    returned with the brand/campaign updated when given."""
    normal = _normal(sender, region)
    existing = registry.get(tenant, normal)
    if existing is not None:
        updates: dict[str, Any] = {}
        if brand is not None:
            updates["brand"] = brand.strip().lower()
        if campaign is not None:
            updates["campaign"] = campaign
        if kind is not None:
            updates["kind"] = kind
        if not updates:
            return existing
        record = existing.model_copy(update={**updates, "updated": now})
    else:
        record = SenderRecord(
            tenant=tenant,
            sender=normal,
            kind=kind or classify(normal),
            brand=brand.strip().lower() if brand else None,
            campaign=campaign,
            created=now,
            updated=now,
        )
    registry.put(record)
    return record


def _digest(salt: str, code: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + code.encode()).hexdigest()


def start_verification(
    registry: SenderRegistry,
    tenant: str,
    sender: str,
    now: datetime,
    *,
    channel: Literal["call", "sms"] = "sms",
    region: str | None = None,
) -> str:
    """Issue a 6-digit code to be delivered to the number by `channel`; returns it.

    Only a salted hash is stored. The code expires after 10 minutes and allows 5 tries.
    """
    normal = _normal(sender, region)
    if not normal.startswith("+"):
        raise RegistrationError(
            "sender", f"{normal} is not a telephone number: codes go to numbers only"
        )
    _not_taken(registry, tenant, normal)
    record = register_sender(registry, tenant, normal, now)
    code = f"{secrets.randbelow(1_000_000):06d}"
    salt = secrets.token_hex(16)
    challenge = Challenge(
        channel=channel, digest=_digest(salt, code), salt=salt, expires=now + CODE_TTL
    )
    registry.put(record.model_copy(update={"challenge": challenge, "updated": now}))
    return code


def confirm_verification(
    registry: SenderRegistry,
    tenant: str,
    sender: str,
    code: str,
    now: datetime,
    *,
    region: str | None = None,
) -> SenderRecord:
    """Check a code read back from the number; on success the sender is verified."""
    normal = _normal(sender, region)
    record = registry.get(tenant, normal)
    if record is None or record.challenge is None:
        raise RegistrationError("code", f"no verification code was issued for {normal}")
    challenge = record.challenge
    if now > challenge.expires:
        registry.put(record.model_copy(update={"challenge": None, "updated": now}))
        raise RegistrationError("code", "the verification code has expired; start again")
    if challenge.attempts >= MAX_ATTEMPTS:
        raise RegistrationError("code", "too many wrong codes; start again")
    if not hmac.compare_digest(_digest(challenge.salt, code.strip()), challenge.digest):
        spent = challenge.model_copy(update={"attempts": challenge.attempts + 1})
        registry.put(record.model_copy(update={"challenge": spent, "updated": now}))
        left = MAX_ATTEMPTS - spent.attempts
        raise RegistrationError("code", f"wrong verification code ({left} tries left)")
    kind = (
        EvidenceKind.VERIFICATION_CALL
        if challenge.channel == "call"
        else EvidenceKind.VERIFICATION_SMS
    )
    cleared = record.model_copy(update={"challenge": None})
    return _add_evidence(registry, cleared, SenderEvidence(kind=kind, at=now), now)


def record_evidence(
    registry: SenderRegistry,
    tenant: str,
    sender: str,
    kind: EvidenceKind,
    now: datetime,
    *,
    reference: str | None = None,
    by: str | None = None,
    region: str | None = None,
) -> SenderRecord:
    """Record evidence other than a code (LOA, platform-assigned, brand registration,
    WhatsApp business verification, customer attestation); the sender becomes verified."""
    if kind in _CODE_EVIDENCE:
        raise RegistrationError(
            "evidence", "verification by call or SMS goes through a code (start, then confirm)"
        )
    if kind in _NEEDS_REFERENCE and not (reference and reference.strip()):
        raise RegistrationError("reference", f"{kind.value} evidence needs a reference")
    _not_taken(registry, tenant, _normal(sender, region))
    record = register_sender(registry, tenant, sender, now, region=region)
    evidence = SenderEvidence(kind=kind, reference=reference, at=now, by=by)
    return _add_evidence(registry, record, evidence, now)


def _not_taken(registry: SenderRegistry, tenant: str, normal: str) -> None:
    """Refuse, before anything is written, a sender another account has verified."""
    if registry.verified_elsewhere(tenant, normal):
        raise RegistrationError("sender", f"{normal} is verified by another account")


def _add_evidence(
    registry: SenderRegistry, record: SenderRecord, evidence: SenderEvidence, now: datetime
) -> SenderRecord:
    _not_taken(registry, record.tenant, record.sender)
    updated = record.model_copy(
        update={
            "evidence": (*record.evidence, evidence),
            "status": "verified",
            "updated": now,
        }
    )
    registry.put(updated)
    return updated


def revoke_sender(
    registry: SenderRegistry, tenant: str, sender: str, now: datetime, *, region: str | None = None
) -> SenderRecord:
    normal = _normal(sender, region)
    record = registry.get(tenant, normal)
    if record is None:
        raise RegistrationError("sender", f"{normal} is not registered")
    updated = record.model_copy(update={"status": "revoked", "challenge": None, "updated": now})
    registry.put(updated)
    return updated


def set_profile(
    registry: SenderRegistry,
    tenant: str,
    *,
    emergency_address: str | None = None,
    allowed_regions: Sequence[str] | None = None,
) -> AccountProfile:
    regions = None
    if allowed_regions is not None:
        regions = frozenset(r.strip().upper() for r in allowed_regions if r.strip())
        bad = sorted(r for r in regions if len(r) != 2 or not r.isalpha())
        if bad:
            raise RegistrationError("allowed_regions", f"not ISO regions: {', '.join(bad)}")
    profile = AccountProfile(
        tenant=tenant,
        emergency_address=emergency_address.strip() if emergency_address else None,
        allowed_regions=regions,
    )
    registry.put_profile(profile)
    return profile


# --- state sources -------------------------------------------------------------------------------


def _origin(event: AnyEvent) -> str | None:
    if isinstance(event, OutboundMessage):
        return event.sender
    if isinstance(event, CallAttempt) and event.direction == "outbound":
        return event.caller
    return None


class SenderSource:
    """state.sender (registered, verified, owner_matches, brands, attestation) and the
    account's identity profile (dispatchable address, geo-permissions) from the registry.
    Fails closed: a sender that cannot be checked is not sent from."""

    name = "sender-registry"
    fail_mode: Literal["open", "closed"] = "closed"
    clauses: tuple[str, ...] = ("P5", "P11")

    def __init__(self, registry: SenderRegistry) -> None:
        self.registry = registry

    def read(self, event: AnyEvent, now: datetime) -> dict[str, Any]:
        parts: dict[str, Any] = {}
        profile = self.registry.get_profile(event.account)
        account: dict[str, Any] = {
            "dispatchable_address": bool(profile and profile.emergency_address)
        }
        if profile is not None and profile.allowed_regions is not None:
            account["allowed_regions"] = profile.allowed_regions
        parts["account"] = account
        origin = _origin(event)
        if origin is None:
            return parts
        try:
            normal = normalise_sender(origin)
        except InvalidSender:
            parts["sender"] = {"registered": False, "verified": False}
            return parts
        record = self.registry.get(event.account, normal)
        registered = record is not None and record.status != "revoked"
        verified = record is not None and record.verified
        sender: dict[str, Any] = {"registered": registered, "verified": verified}
        if not verified:
            sender["owner_matches"] = not self.registry.verified_elsewhere(event.account, normal)
        if verified and record is not None:
            if record.brand:
                sender["brands"] = frozenset({record.brand})
            sender["attestation"] = attestation_for(record) or ""
        parts["sender"] = sender
        return parts


class ShakenSource:
    """For inbound calls: the STIR/SHAKEN verification of the Identity header
    (state.sender.verstat, attestation, verstat_reason). Fails open, recorded."""

    name = "shaken-verifier"
    fail_mode: Literal["open", "closed"] = "open"
    clauses: tuple[str, ...] = ("P5", "P11")

    def __init__(self, verifier: ShakenVerifier) -> None:
        self.verifier = verifier

    def check(self, event: CallAttempt, now: datetime) -> Verification:
        return self.verifier.verify(
            event.identity_header, now=now, caller=event.caller, callee=event.to
        )

    def read(self, event: AnyEvent, now: datetime) -> dict[str, Any]:
        if not isinstance(event, CallAttempt) or event.direction != "inbound":
            return {}
        return _verstat(self.check(event, now))


class CallCapSource:
    """signals.concurrent_calls and signals.trunk_busy_seconds from a concurrency gauge."""

    name = "call-gauge"
    fail_mode: Literal["open", "closed"] = "open"
    clauses: tuple[str, ...] = ("O3",)

    def __init__(self, gauge: ConcurrencyGauge) -> None:
        self.gauge = gauge

    def read(self, event: AnyEvent, now: datetime) -> dict[str, Any]:
        if not isinstance(event, CallAttempt):
            return {}
        signals = {"concurrent_calls": float(self.gauge.active(event.account))}
        if event.trunk:
            signals["trunk_busy_seconds"] = self.gauge.busy_seconds(event.account, event.trunk, now)
        return {"signals": signals}


# --- calls ---------------------------------------------------------------------------------------


class ShakenSigner:
    """Signs PASSporTs for outbound calls with the platform's STI certificate key."""

    def __init__(self, key: ec.EllipticCurvePrivateKey, x5u: str) -> None:
        self.key = key
        self.x5u = x5u

    def header(
        self,
        caller: str,
        callee: str,
        attest: Literal["A", "B", "C"],
        now: datetime,
        origid: str | None = None,
    ) -> str:
        token = sign_passport(
            self.key,
            x5u=self.x5u,
            orig=tn_digits(caller),
            dest=tn_digits(callee),
            attest=attest,
            iat=int(now.timestamp()),
            origid=origid,
        )
        return identity_header(token, self.x5u)


@dataclass
class CallScreening:
    """What `screen_call` answers: the decision, and for an allowed outbound call the
    Identity header to send; for an inbound call the verification result."""

    decision: Decision
    state: State
    identity: str | None = None
    attestation: str | None = None
    verification: Verification | None = None
    max_duration_seconds: int | None = None

    @property
    def allowed(self) -> bool:
        return self.decision.verdict is Verdict.ALLOW

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.decision.to_dict(),
            "identity": self.identity,
            "attestation": self.attestation,
            "verification": self.verification.to_dict() if self.verification else None,
            "max_duration_seconds": self.max_duration_seconds,
        }


class _Capture:
    name = "capture-state"

    def __init__(self) -> None:
        self.state: State | None = None

    def after(
        self, event: AnyEvent, state: State, decision: Decision, now: datetime
    ) -> Decision | None:
        self.state = state
        return None


class _Remember:
    """Wraps the SHAKEN source to keep the full verification result for the caller."""

    def __init__(self, source: ShakenSource) -> None:
        self.source = source
        self.name = source.name
        self.fail_mode = source.fail_mode
        self.clauses = source.clauses
        self.result: Verification | None = None

    def read(self, event: AnyEvent, now: datetime) -> dict[str, Any]:
        if not isinstance(event, CallAttempt) or event.direction != "inbound":
            return {}
        self.result = self.source.check(event, now)
        return _verstat(self.result)


def _verstat(result: Verification) -> dict[str, Any]:
    sender: dict[str, Any] = {"verstat": result.verstat}
    if result.reason is not None:
        sender["verstat_reason"] = result.reason.value
    if result.passed and result.attest:
        sender["attestation"] = result.attest
    return {"sender": sender}


class CallScreener:
    """Screens calls: ownership, emergency numbers, sanctions and geo-permissions,
    recording consent, call caps, STIR/SHAKEN signing (outbound) and verification (inbound)."""

    def __init__(
        self,
        engine: Engine,
        registry: SenderRegistry,
        *,
        gauge: ConcurrencyGauge | None = None,
        signer: ShakenSigner | None = None,
        verifier: ShakenVerifier | None = None,
        sources: Sequence[StateSource] = (),
        clock: Clock = utc_now,
    ) -> None:
        self.engine = engine
        self.registry = registry
        self.gauge = gauge
        self.signer = signer
        self.verifier = verifier
        self.extra = tuple(sources)
        self.clock = clock

    def screen_call(self, event: CallAttempt, call_id: str | None = None) -> CallScreening:
        when = event.at or self.clock()
        shaken = _Remember(ShakenSource(self.verifier)) if self.verifier is not None else None
        sources: list[StateSource] = [*self.extra, SenderSource(self.registry)]
        if self.gauge is not None:
            sources.append(CallCapSource(self.gauge))
        if shaken is not None:
            sources.append(shaken)
        capture = _Capture()
        decision = Screener(self.engine, sources, [capture], clock=self.clock).screen(event, when)
        state = capture.state or State()
        result = CallScreening(decision, state, verification=shaken.result if shaken else None)
        plans: CallPlans | None = self.engine.pack.data.get("call_plans")
        if plans is not None:
            result.max_duration_seconds = plans.plan(state.account.plan).max_duration_seconds
        if decision.verdict is not Verdict.ALLOW:
            return result
        if event.direction == "outbound":
            attest = self._attestation(state)
            result.attestation = attest
            if self.signer is not None:
                result.identity = self.signer.header(event.caller, event.to, attest, when)
        if self.gauge is not None and call_id is not None:
            self.gauge.start(event.account, call_id, event.trunk, when)
        return result

    @staticmethod
    def _attestation(state: State) -> Literal["A", "B", "C"]:
        sender = state.sender
        if sender.attestation in ("A", "B") and sender.verified:
            return sender.attestation
        return "C"  # a gateway/transit call: the platform vouches only for where it came from

    def end_call(self, tenant: str, call_id: str, now: datetime | None = None) -> None:
        if self.gauge is not None:
            self.gauge.end(tenant, call_id, now or self.clock())
