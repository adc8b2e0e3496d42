"""What enforcement keeps: standing, strikes, actions, cases, reports, legal
requests, penalties, policy versions, acceptances, notices, the outbox, stored
content and scrub jobs.

Each record is a frozen pydantic model of one tenant with an id; the store
keeps it as JSON with three indexed fields it declares (`status`, `key`,
`due`), which is what the service layer queries by.
"""

from __future__ import annotations

import secrets
import time
from datetime import date, datetime
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from aupguard.enforcement.datasets import Step

__all__ = [
    "ONE_LINE",
    "Acceptance",
    "Action",
    "Candidate",
    "Case",
    "CaseNote",
    "ContentItem",
    "Disclosure",
    "Doc",
    "Incident",
    "IncidentNote",
    "Invoice",
    "LegalRequest",
    "Notice",
    "OutboxMessage",
    "Penalty",
    "PolicyVersion",
    "Report",
    "Reporter",
    "ScrubJob",
    "Standing",
    "Strike",
    "Tally",
    "new_id",
]

_FROZEN = ConfigDict(frozen=True, extra="forbid")

ONE_LINE = r"^[^\x00-\x1f\x7f]+$"
"""A pattern for ids and names given from outside: one line, no control characters (a NUL
cannot even be stored by PostgreSQL)."""


def new_id(prefix: str) -> str:
    """A unique id that sorts in creation order (nanosecond clock, then randomness)."""
    return f"{prefix}_{time.time_ns():016x}{secrets.token_hex(3)}"


class Doc(BaseModel):
    model_config = _FROZEN
    KIND: ClassVar[str] = ""

    tenant: str = Field(min_length=1, max_length=128)
    id: str = Field(min_length=1, max_length=128)
    created: datetime
    updated: datetime

    @property
    def status_index(self) -> str | None:
        return getattr(self, "status", None)

    @property
    def key_index(self) -> str | None:
        return None

    @property
    def due_index(self) -> datetime | None:
        return None


class Invoice(BaseModel):
    model_config = _FROZEN

    id: str = Field(min_length=1, max_length=128)
    issued: datetime
    amount: float = Field(ge=0)
    paid: datetime | None = None
    disputed: datetime | None = None


StandingName = Literal["trial", "active", "past_due", "suspended", "terminated"]


class Standing(Doc):
    """An account's standing; its id is the tenant."""

    KIND: ClassVar[str] = "standing"

    status: StandingName = "active"
    """In force: the lifecycle's `base` standing, or worse when enforcement actions say so."""
    base: StandingName = "active"
    """What billing and the lifecycle alone make of the account."""
    plan: str = "default"
    trial_ends: datetime | None = None
    suspended_by: Literal["enforcement", "billing"] | None = None
    suspended_channels: tuple[str, ...] = ()
    suspended_senders: tuple[str, ...] = ()
    held_keys: tuple[str, ...] = ()
    """API key ids under an open credential-compromise incident: their messages are held."""
    throttle_until: datetime | None = None
    throttle_seconds: float = 0
    reason: str = ""
    invoices: dict[str, Invoice] = Field(default_factory=dict)
    trial_expired_at: datetime | None = None
    past_due_at: datetime | None = None
    notice_at: datetime | None = None
    terminate_at: datetime | None = None
    terminated_at: datetime | None = None
    export_until: datetime | None = None
    scrubbed_at: datetime | None = None
    storage_bytes: int = 0

    @property
    def due_index(self) -> datetime | None:
        """When the lifecycle job must look at this account next (None: only billing events
        change it)."""
        if self.scrubbed_at is not None:
            return None
        moments = [self.terminate_at, self.export_until]
        if self.base == "trial" and self.trial_expired_at is None:
            moments.append(self.trial_ends)
        moments.extend(
            i.issued for i in self.invoices.values() if i.paid is None and i.disputed is None
        )
        return min((m for m in moments if m is not None), default=None)


class Strike(Doc):
    KIND: ClassVar[str] = "strike"

    rule: str
    clauses: tuple[str, ...]
    severity: str
    weight: int = Field(ge=0)
    at: datetime
    case: str | None = None
    event: str | None = None
    status: Literal["counted", "void"] = "counted"


class Action(Doc):
    """One enforcement action, with what caused it and whether it was reversed."""

    KIND: ClassVar[str] = "action"

    step: Step
    target: str = ""
    """The channel or sender a channel suspension applies to ("" for the account)."""
    reason: str
    clauses: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    decisions: tuple[str, ...] = ()
    reports: tuple[str, ...] = ()
    case: str | None = None
    by: str
    at: datetime
    until: datetime | None = None
    """When a throttle lapses by itself (None: until reversed)."""
    status: Literal["active", "reversed"] = "active"
    reversed_by: str | None = None
    reversed_at: datetime | None = None
    reversed_reason: str | None = None

    @property
    def key_index(self) -> str | None:
        return self.case


class CaseNote(BaseModel):
    model_config = _FROZEN

    at: datetime
    by: str
    text: str = Field(min_length=1, max_length=4000)


CaseType = Literal[
    "rule_hits",
    "abuse_report",
    "carrier_complaint",
    "robocall_complaint",
    "traceback",
    "legal",
]


class Case(Doc):
    KIND: ClassVar[str] = "case"

    type: CaseType
    subject: str
    """What the case is about: a rule family, a reported URL or number, a complaint."""
    status: Literal["open", "needs_info", "decided", "appealed", "closed"] = "open"
    opened: datetime
    due: datetime
    assignee: str | None = None
    notes: tuple[CaseNote, ...] = ()
    evidence: tuple[dict[str, Any], ...] = ()
    hits: int = 0
    outcome: Literal["violation", "no_violation", "upheld", "reversed"] | None = None
    decided_by: tuple[str, ...] = ()
    decided_at: datetime | None = None
    reason: str | None = None
    appeal_reason: str | None = None
    appealed_at: datetime | None = None
    actions: tuple[str, ...] = ()
    reports: tuple[str, ...] = ()
    dedupe: str | None = None

    @property
    def key_index(self) -> str | None:
        return self.dedupe

    @property
    def due_index(self) -> datetime | None:
        return self.due if self.status in ("open", "needs_info", "appealed") else None


class Report(Doc):
    KIND: ClassVar[str] = "report"

    reported: str
    reported_kind: Literal["url", "number", "workspace"]
    seen_at: datetime
    description: str
    reporter: str
    case: str
    status: Literal["received", "needs_info", "confirmed", "rejected"] = "received"


class Reporter(Doc):
    """A reporter's record (tenant: the platform); its id is their contact, normalised."""

    KIND: ClassVar[str] = "reporter"

    account: str | None = None
    """The reporter's own account on the platform, when known."""
    reports: int = 0
    confirmed: int = 0
    rejected: int = 0
    flagged: bool = False

    @property
    def status_index(self) -> str | None:
        return "flagged" if self.flagged else "ok"


class Disclosure(BaseModel):
    model_config = _FROZEN

    at: datetime
    by: str
    manifest: tuple[dict[str, Any], ...]
    """One entry per file disclosed: name, bytes, sha256."""
    bundle_sha256: str


class LegalRequest(Doc):
    KIND: ClassVar[str] = "legal"

    authority: str
    basis: str
    scope: str
    deadline: datetime
    emergency: bool = False
    received: datetime
    status: Literal["open", "disclosed", "refused", "closed"] = "open"
    disclosures: tuple[Disclosure, ...] = ()
    by: str

    @property
    def due_index(self) -> datetime | None:
        return self.deadline if self.status == "open" else None


class Penalty(Doc):
    KIND: ClassVar[str] = "penalty"

    operator: str
    category: str
    amount: int
    currency: str
    incurred: datetime
    case: str | None = None
    reference: str = ""
    by: str

    @property
    def key_index(self) -> str | None:
        return self.incurred.strftime("%Y-%m")


class PolicyVersion(Doc):
    """A version of the policy (tenant: the platform); its id is the version."""

    KIND: ClassVar[str] = "policy_version"

    effective: date
    summary: str
    pack: str
    status: Literal["scheduled", "noticed"] = "scheduled"
    noticed_at: datetime | None = None


class Notice(Doc):
    """A change notice sent to one account; its id is ``<version>``."""

    KIND: ClassVar[str] = "notice"

    version: str
    sent: datetime
    effective: date
    outbox: str


class Acceptance(Doc):
    """An account's acceptance of a policy version; its id is the version."""

    KIND: ClassVar[str] = "acceptance"

    version: str
    method: Literal["click_through", "continued_use"]
    at: datetime
    by: str
    notice: str | None = None


IncidentKind = Literal[
    "credential_compromise", "data_exposure", "abuse_campaign", "account_takeover", "other"
]
IncidentStatus = Literal["open", "contained", "resolved"]


class IncidentNote(BaseModel):
    model_config = _FROZEN

    at: datetime
    by: str
    text: str = Field(min_length=1, max_length=4000)
    status: IncidentStatus | None = None
    """The status the incident moved to with this note (None: a note only)."""


class Incident(Doc):
    """A security incident (V2 "report incidents", S5): one tenant's, or platform-wide
    (tenant `_platform`), from a report or a detector."""

    KIND: ClassVar[str] = "incident"

    kind: IncidentKind
    severity: Literal["low", "medium", "high", "critical"]
    description: str
    source: Literal["tenant", "staff", "detector"]
    reported_by: str
    detected_at: datetime
    reported_at: datetime
    keys: tuple[str, ...] = ()
    """API key ids affected."""
    users: tuple[str, ...] = ()
    """Console users (or other user ids) affected."""
    clauses: tuple[str, ...] = ()
    status: IncidentStatus = "open"
    contained_at: datetime | None = None
    resolved_at: datetime | None = None
    notes: tuple[IncidentNote, ...] = ()
    response: Literal["notify", "hold", "revoke"] | None = None
    """What was done about a compromised credential (None: not a credential incident)."""
    held_keys: tuple[str, ...] = ()
    """Keys whose messages are held until the incident is contained."""
    revoked_keys: tuple[str, ...] = ()
    dedupe: str | None = None
    """Detector incidents about the same thing join the open one."""

    @property
    def key_index(self) -> str | None:
        return self.dedupe


class OutboxMessage(Doc):
    """A notification to the customer: an e-mail, or a webhook signed with Ed25519.

    Webhooks are delivered by `aupguard.enforcement.notify` (pending -> sent, or
    failed after the last attempt); e-mails wait for a mail transport."""

    KIND: ClassVar[str] = "outbox"

    channel: Literal["email", "webhook"]
    topic: str
    body: dict[str, Any]
    signature: str | None = None
    key_id: str | None = None
    status: Literal["pending", "sent", "failed"] = "pending"
    attempts: int = Field(default=0, ge=0)
    next_attempt: datetime | None = None
    """Not before this time (None: at once)."""
    last_error: str | None = None

    @property
    def due_index(self) -> datetime | None:
        # only webhooks are delivered: e-mails (waiting for a mail transport) are never due,
        # so they cannot crowd the delivery queue
        if self.channel != "webhook":
            return None
        return self.next_attempt or self.created


class Contact(Doc):
    """Where an account is told of actions on it (one per account: id = tenant)."""

    KIND: ClassVar[str] = "contact"

    webhook_url: str | None = Field(default=None, max_length=2048)
    email: str | None = Field(default=None, max_length=320)

    @field_validator("webhook_url")
    @classmethod
    def _http_only(cls, value: str | None) -> str | None:
        if value is not None:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError("must be an http:// or https:// URL with a host")
        return value

    @field_validator("email")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is not None and (value.count("@") != 1 or " " in value or value.startswith("@")):
            raise ValueError("must be one e-mail address (name@domain)")
        return value


class ContentItem(Doc):
    """Content the platform stores for an account (message bodies, media)."""

    KIND: ClassVar[str] = "content"

    data_class: Literal["content", "evidence"] = "content"
    name: str
    body: str
    bytes: int = Field(ge=0)
    sha256: str


class ScrubJob(Doc):
    """Deleting a terminated account's content; resumable, with a signed record."""

    KIND: ClassVar[str] = "scrub"

    status: Literal["running", "done"] = "running"
    deleted: int = 0
    classes: tuple[str, ...]
    kept: tuple[str, ...]
    finished: datetime | None = None
    record: dict[str, Any] | None = None
    signature: str | None = None
    key_id: str | None = None


class Tally(Doc):
    """Recent hits of one rule for an account (its id is the rule): what decides when
    hits are enough to open a case."""

    KIND: ClassVar[str] = "tally"

    times: tuple[datetime, ...] = ()


class Candidate(Doc):
    """A rule hit waiting for the enforcement worker (enqueued by the send path)."""

    KIND: ClassVar[str] = "candidate"

    event: str | None
    at: datetime
    verdict: str
    rules: tuple[tuple[str, str, tuple[str, ...]], ...]
    """(rule, severity, clauses) of each enforced hit."""
    channel: str | None = None
    sender: str | None = None
    recipient: str | None = None
    api_key: str | None = None
    source_ip: str | None = None
    upstream: str | None = None
    pack_version: str | None = None
    content_sha256: str | None = None
    evidence: tuple[dict[str, Any], ...] = ()
    leaked_keys: tuple[tuple[str, str], ...] = ()
    """(tenant, key id) of this platform's live API keys found in clear in the event (the
    secret itself is never kept)."""
    status: Literal["queued", "done"] = "queued"
