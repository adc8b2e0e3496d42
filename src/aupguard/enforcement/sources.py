"""Enforcement in the send path: the account's standing as state, and rule hits
handed to the enforcement worker without slowing the answer.

`StandingSource` (a `StateSource`) gives the engine the account's standing,
suspended channels and senders, an expired trial and an enforcement throttle.
It caches each account's standing for `ttl` seconds; the service layer in the
same process invalidates the cache at once when a standing changes, other
processes see the change within `ttl`. An account with nothing on record
costs one dictionary lookup. It fails closed: an account whose standing
cannot be read does not send.

`CandidateStep` (an `AfterDecision`) appends the rule hits worth a case to an
in-memory queue (a deque append); `flush` writes the queued hits in one
transaction (checking, off the send path, whether a credential hit holds one of
this platform's live API keys: `key_owner`) and `Enforcement.drain` (the
worker, or `aupguard enforce drain`) turns them into cases, immediate actions
and credential incidents. It also notes which
accounts sent, for acceptance of a policy version by continued use.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

from aupguard.audit.chain import PLATFORM
from aupguard.detectors.dlp import AUPGUARD_KEY, secrets
from aupguard.enforcement.datasets import CredentialPolicy
from aupguard.enforcement.records import Candidate, Standing, new_id
from aupguard.enforcement.service import Enforcement
from aupguard.engine.decision import Action as RuleAction
from aupguard.engine.decision import Decision
from aupguard.engine.events import AnyEvent
from aupguard.engine.state import AccountState, State

__all__ = ["CandidateStep", "StandingSource"]

_NOTHING: dict[str, Any] = {}
_SKIP_PREFIXES = ("account.", "system.")
"""Hits that are consequences of enforcement itself, not new violations."""


class StandingSource:
    name = "standing"
    fail_mode: Literal["open", "closed"] = "closed"
    clauses: tuple[str, ...] = ("W11", "V12", "O4", "S4")

    def __init__(
        self,
        svc: Enforcement,
        ttl: float = 2.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.svc = svc
        self.ttl = ttl
        self.monotonic = monotonic
        self._cache: dict[str, tuple[float, Standing | None]] = {}
        self._last_send: dict[str, datetime] = {}
        self._lock = threading.Lock()
        svc.listeners.append(self.invalidate)

    def invalidate(self, tenant: str) -> None:
        self._cache.pop(tenant, None)

    def _standing(self, tenant: str) -> Standing | None:
        cached = self._cache.get(tenant)
        tick = self.monotonic()
        if cached is not None and tick - cached[0] < self.ttl:
            return cached[1]
        found = self.svc.store.get(Standing, tenant, tenant)
        self._cache[tenant] = (tick, found)
        return found

    def read(self, event: AnyEvent, now: datetime) -> dict[str, Any]:
        standing = self._standing(event.account)
        if standing is None:
            return _NOTHING
        parts: dict[str, Any] = {}
        account: dict[str, Any] = {}
        if standing.status != "active":
            account["standing"] = standing.status
        if standing.plan != "default":
            account["plan"] = standing.plan
        if standing.suspended_channels:
            account["suspended_channels"] = frozenset(standing.suspended_channels)
        if standing.suspended_senders:
            account["suspended_senders"] = frozenset(standing.suspended_senders)
        if standing.held_keys:
            account["held_keys"] = frozenset(standing.held_keys)
        if account:
            parts["account"] = AccountState(**account)
        signals: dict[str, float] = {}
        if (
            standing.base == "trial"
            and standing.trial_ends is not None
            and now >= standing.trial_ends
        ):
            signals["trial_expired"] = 1.0
        if standing.throttle_until is not None and now < standing.throttle_until:
            wait = self._throttle(
                event.account, standing.throttle_seconds or self.svc.ladder.throttle_seconds, now
            )
            if wait > 0:
                signals["enforcement_throttle"] = wait
        if signals:
            parts["signals"] = signals
        return parts

    def _throttle(self, tenant: str, every: float, now: datetime) -> float:
        """Seconds to wait before this account may send again (one send per `every` s;
        counted in this process)."""
        with self._lock:
            last = self._last_send.get(tenant)
            if last is not None:
                gone = (now - last).total_seconds()
                if 0 <= gone < every:
                    return every - gone
            self._last_send[tenant] = now
            return 0.0


class CandidateStep:
    name = "enforcement"

    def __init__(
        self,
        svc: Enforcement,
        maxlen: int = 100_000,
        key_owner: Callable[[str], tuple[str | None, str] | None] | None = None,
    ) -> None:
        self.svc = svc
        self.key_owner = key_owner
        """(tenant, key id) of a live API key presented in full (`KeyManager.owner`)."""
        self._queue: deque[tuple[AnyEvent, Decision, datetime]] = deque(maxlen=maxlen)
        self.senders: set[str] = set()
        """Accounts that sent since the last flush (continued use of the policy in force)."""

    def after(
        self, event: AnyEvent, state: State, decision: Decision, now: datetime
    ) -> Decision | None:
        self.senders.add(event.account)
        for hit in decision.hits:
            if (
                hit.action in (RuleAction.BLOCK, RuleAction.HOLD) or "case-candidate" in hit.tags
            ) and not hit.rule.startswith(_SKIP_PREFIXES):
                self._queue.append((event, decision, now))
                break
        return None

    def __len__(self) -> int:
        return len(self._queue)

    def flush(self) -> list[Candidate]:
        """Write the queued hits (one transaction) for the worker to process."""
        taken: list[tuple[AnyEvent, Decision, datetime]] = []
        while self._queue:
            taken.append(self._queue.popleft())
        candidates = [
            _candidate(event, decision, now, self._leaked(event, decision))
            for event, decision, now in taken
        ]
        if candidates:
            self.svc.store.put(candidates)
        return candidates

    def _leaked(self, event: AnyEvent, decision: Decision) -> tuple[tuple[str, str], ...]:
        """This platform's live keys in the event's text, when a credential rule fired."""
        policy = self.svc.data.get("credential_policy")
        body = getattr(event, "body", None)
        if (
            self.key_owner is None
            or not isinstance(policy, CredentialPolicy)
            or not isinstance(body, str)
            or not any(h.rule in policy.leaked_key_rules for h in decision.hits)
        ):
            return ()
        found: dict[tuple[str, str], None] = {}
        for _, _, kind, value in secrets(body):
            owner = self.key_owner(value) if kind == AUPGUARD_KEY else None
            if owner is not None:
                found[(owner[0] or PLATFORM, owner[1])] = None
        return tuple(found)


def _candidate(
    event: AnyEvent, decision: Decision, now: datetime, leaked: tuple[tuple[str, str], ...] = ()
) -> Candidate:
    hits = [h for h in decision.hits if not h.rule.startswith(_SKIP_PREFIXES)]
    excerpts = [
        {"rule": h.rule, "label": e.label, "excerpt": e.excerpt}
        for h in hits
        for e in h.evidence
        if e.excerpt is not None
    ][:20]
    return Candidate(
        tenant=event.account,
        id=new_id("cand"),
        created=now,
        updated=now,
        event=event.id,
        at=now,
        verdict=decision.verdict.value,
        rules=tuple((h.rule, h.severity.value, h.clauses) for h in hits),
        channel=getattr(getattr(event, "channel", None), "value", None),
        sender=getattr(event, "sender", None),
        recipient=getattr(event, "to", None),
        api_key=getattr(event, "api_key", None),
        source_ip=getattr(event, "source_ip", None),
        upstream=event.metadata.get("upstream"),
        pack_version=f"{decision.pack} {decision.version}",
        content_sha256=decision.content_sha256,
        evidence=tuple(excerpts),
        leaked_keys=leaked,
    )
