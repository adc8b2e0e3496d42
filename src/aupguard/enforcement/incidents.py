"""The incident register (V2 "report incidents") and what happens to a compromised
credential (S5 "protect credentials", O2 "no shared credentials").

An incident belongs to one account, or to the platform (tenant `_platform`, staff
only). A tenant's admin reports one for its own account; staff report, list and
move any through open -> contained -> resolved, each step with a note and its
time. Detectors report too (`report_compromise`): an API key of this platform
found in clear in a message, one key used from many addresses or clients, one
console account signed in from several addresses at once. Incidents about the
same thing (`dedupe`) join the open one.

A credential-compromise incident that names API keys gets the response the pack
chooses (`credential_policy.on_compromise`): `notify` (the customer's e-mail and
signed webhook in the outbox, as for every incident of an account), `hold` (the
key's messages are held until a reviewer contains the incident) or `revoke` (the
key stops working at once; the service needs a revoker for that, else it holds).
Every change is written with its audit entry in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from aupguard.actors import Actor, Role
from aupguard.audit.chain import PLATFORM
from aupguard.enforcement.datasets import CredentialPolicy
from aupguard.enforcement.records import (
    ONE_LINE,
    Candidate,
    Doc,
    Incident,
    IncidentKind,
    IncidentNote,
    IncidentStatus,
    Standing,
    new_id,
)
from aupguard.enforcement.service import (
    STAFF,
    SYSTEM,
    Enforcement,
    EnforcementError,
    NotFound,
)

__all__ = [
    "IncidentReport",
    "KeyRevoker",
    "incident",
    "incidents",
    "open_incident",
    "report_compromise",
    "update_incident",
]

KeyRevoker = Callable[[str, str], bool]
"""Revoke the API key (tenant, key id); False when the tenant has no such key."""

_ORDER: dict[str, int] = {"open": 0, "contained": 1, "resolved": 2}
_CLAUSES: dict[str, tuple[str, ...]] = {
    "credential_compromise": ("V2", "S5"),
    "account_takeover": ("V2", "S5"),
}
"""Clauses a reported incident cites by kind (V2 "report incidents"; S5 "protect
credentials")."""

Severity = Literal["low", "medium", "high", "critical"]
Response = Literal["notify", "hold", "revoke"]
Id = Annotated[str, Field(min_length=1, max_length=128, pattern=ONE_LINE)]

NOT_BLANK = r"[^\s\x85\ufeff]"
"""At least one character that is not white space: pydantic (Rust regex) and the
OpenAPI document's readers (ECMAScript regex) disagree on U+0085 and U+FEFF, so both
are named and the server and a schema-driven client accept the same strings."""


class IncidentReport(BaseModel):
    """What a person reports (CLI and `POST /v1/incidents`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: IncidentKind
    severity: Severity
    description: str = Field(min_length=1, max_length=4000, pattern=NOT_BLANK)
    detected_at: AwareDatetime
    keys: tuple[Id, ...] = Field(default=(), max_length=50)
    """Ids of the API keys affected."""
    users: tuple[Id, ...] = Field(default=(), max_length=50)
    """Users affected (console sign-in names or the customer's own ids)."""


def credential_policy(svc: Enforcement) -> CredentialPolicy:
    policy = svc.data.get("credential_policy")
    if not isinstance(policy, CredentialPolicy):
        raise EnforcementError("no_policy", "the pack has no credential_policy data")
    return policy


def open_incident(
    svc: Enforcement,
    actor: Actor,
    tenant: str,
    report: IncidentReport,
    *,
    clauses: Sequence[str] = (),
    dedupe: str | None = None,
    response: Response | None = None,
    now: datetime | None = None,
) -> Incident:
    """Record an incident of `tenant` (PLATFORM for a platform-wide one), notify the
    account, and respond to a compromised key as the pack says (or as `response` says)."""
    svc.guard(actor, *STAFF, Role.TENANT_ADMIN, action="report a security incident", tenant=tenant)
    when = svc.now(now)
    source: Literal["tenant", "staff", "detector"] = (
        "detector" if actor == SYSTEM else "staff" if actor.is_staff else "tenant"
    )
    incident = Incident(
        tenant=tenant,
        id=new_id("inc"),
        created=when,
        updated=when,
        kind=report.kind,
        severity=report.severity,
        description=report.description,
        source=source,
        reported_by=actor.id,
        detected_at=report.detected_at,
        reported_at=when,
        keys=tuple(dict.fromkeys(report.keys)),
        users=tuple(dict.fromkeys(report.users)),
        clauses=tuple(clauses) or _CLAUSES.get(report.kind, ("V2",)),
        dedupe=dedupe,
    )
    docs: list[Doc] = []
    if incident.kind == "credential_compromise" and incident.keys and tenant != PLATFORM:
        chosen = response or credential_policy(svc).on_compromise
        incident, docs = _respond(svc, incident, chosen, when)
    docs.append(incident)
    if tenant != PLATFORM:
        docs.extend(svc.notify(tenant, "incident.opened", _notice(incident), when))
    payload = incident.model_dump(
        mode="json",
        include={
            "kind",
            "severity",
            "source",
            "detected_at",
            "keys",
            "users",
            "clauses",
            "response",
            "held_keys",
            "revoked_keys",
        },
    )
    svc.store.put(docs, [svc.draft(actor, tenant, "incident.opened", incident.id, payload)])
    if incident.held_keys:
        svc.changed(tenant)
    return incident


def _notice(incident: Incident) -> dict[str, Any]:
    """What the customer is told (the description is theirs or the detector's)."""
    return {
        "incident": incident.id,
        "kind": incident.kind,
        "severity": incident.severity,
        "status": incident.status,
        "description": incident.description,
        "keys": list(incident.keys),
        "users": list(incident.users),
        "response": incident.response,
        "held_keys": list(incident.held_keys),
        "revoked_keys": list(incident.revoked_keys),
    }


def _respond(
    svc: Enforcement, incident: Incident, response: Response, now: datetime
) -> tuple[Incident, list[Doc]]:
    """Hold or revoke the incident's keys; the standing to write."""
    revoked: list[str] = []
    held: list[str] = []
    if response == "revoke" and svc.revoke_key is not None:
        revoked = [k for k in incident.keys if svc.revoke_key(incident.tenant, k)]
    elif response in ("hold", "revoke"):
        response, held = "hold", list(incident.keys)
    docs: list[Doc] = []
    if held:
        standing = svc.standing(incident.tenant, now)
        keys = tuple(dict.fromkeys((*standing.held_keys, *held)))
        docs.append(standing.model_copy(update={"held_keys": keys, "updated": now}))
    return (
        incident.model_copy(
            update={"response": response, "held_keys": tuple(held), "revoked_keys": tuple(revoked)}
        ),
        docs,
    )


def _release(svc: Enforcement, incident: Incident, now: datetime) -> list[Doc]:
    """The standing without this incident's held keys (keys another open incident holds
    stay held)."""
    if not incident.held_keys:
        return []
    still = {
        k
        for other in svc.store.find(Incident, incident.tenant, status="open")
        if other.id != incident.id
        for k in other.held_keys
    }
    standing = svc.standing(incident.tenant, now)
    keys = tuple(k for k in standing.held_keys if k not in incident.held_keys or k in still)
    return [standing.model_copy(update={"held_keys": keys, "updated": now})]


def incident(svc: Enforcement, actor: Actor, tenant: str, incident_id: str) -> Incident:
    svc.guard(
        actor,
        *STAFF,
        Role.TENANT_ADMIN,
        action="see an incident",
        tenant=tenant,
        subject=incident_id,
    )
    found = svc.store.get(Incident, tenant, incident_id)
    if found is None:
        raise NotFound("incident", incident_id)
    return found


def incidents(
    svc: Enforcement, actor: Actor, tenant: str | None, status: str | None = None
) -> list[Incident]:
    """An account's incidents, or (staff, `tenant` None) every account's and the
    platform's."""
    if status is not None and status not in _ORDER:
        raise EnforcementError("bad_status", "status is open, contained or resolved", "status")
    if tenant is None:
        svc.guard(actor, *STAFF, action="list incidents of every account")
        return svc.store.find_any(Incident, status=status)
    svc.guard(actor, *STAFF, Role.TENANT_ADMIN, action="list incidents", tenant=tenant)
    return svc.store.find(Incident, tenant, status=status)


def update_incident(
    svc: Enforcement,
    actor: Actor,
    tenant: str,
    incident_id: str,
    note: str,
    *,
    status: IncidentStatus | None = None,
    severity: Severity | None = None,
    now: datetime | None = None,
) -> Incident:
    """Add a note, and move the incident on (open -> contained -> resolved) or change its
    severity. Containing or resolving it releases the keys it held."""
    svc.guard(actor, *STAFF, action="update an incident", tenant=tenant, subject=incident_id)
    if not note.strip():
        raise EnforcementError("missing_note", "say what was done (a note)", "note")
    if len(note) > 4000:
        raise EnforcementError("bad_note", "a note has at most 4000 characters", "note")
    found = incident(svc, actor, tenant, incident_id)
    if status is not None and _ORDER[status] <= _ORDER[found.status]:
        raise EnforcementError(
            "bad_transition",
            f"incident {incident_id} is {found.status}; it can only move on"
            f" ({' -> '.join(_ORDER)})",
            "status",
        )
    when = svc.now(now)
    changes: dict[str, Any] = {
        "notes": (*found.notes, IncidentNote(at=when, by=actor.id, text=note, status=status)),
        "updated": when,
    }
    if severity is not None:
        changes["severity"] = severity
    docs: list[Doc] = []
    if status is not None:
        changes["status"] = status
        if status == "contained" or found.contained_at is None:
            changes["contained_at"] = when
        if status == "resolved":
            changes["resolved_at"] = when
        if found.status == "open":
            docs.extend(_release(svc, found, when))
    updated = found.model_copy(update=changes)
    docs.append(updated)
    if status is not None and tenant != PLATFORM:
        docs.extend(
            svc.notify(tenant, f"incident.{status}", {**_notice(updated), "note": note}, when)
        )
    kind = f"incident.{status}" if status is not None else "incident.note"
    payload = {"status": status, "severity": severity, "note_length": len(note)}
    svc.store.put(docs, [svc.draft(actor, tenant, kind, incident_id, payload)])
    if any(isinstance(d, Standing) for d in docs):
        svc.changed(tenant)
    return updated


def report_compromise(
    svc: Enforcement,
    tenant: str,
    description: str,
    *,
    dedupe: str,
    keys: Sequence[str] = (),
    users: Sequence[str] = (),
    clauses: Sequence[str] = ("S5", "V2"),
    response: Response | None = None,
    detected_at: datetime | None = None,
    now: datetime | None = None,
) -> tuple[Incident, bool]:
    """A detector suspects a credential: open an incident (or add to the open one about the
    same thing). Returns the incident and whether it is new."""
    when = svc.now(now)
    for open_ in svc.store.find(Incident, tenant, key=dedupe):
        if open_.status == "open":
            note = IncidentNote(at=when, by=SYSTEM.id, text=f"seen again: {description}")
            updated = open_.model_copy(
                update={"notes": (*open_.notes[-49:], note), "updated": when}
            )
            svc.store.put(
                [updated],
                [svc.draft(SYSTEM, tenant, "incident.seen_again", open_.id, {"dedupe": dedupe})],
            )
            return updated, False
    report = IncidentReport(
        kind="credential_compromise",
        severity=credential_policy(svc).severity,
        description=description,
        detected_at=detected_at or when,
        keys=tuple(keys),
        users=tuple(users),
    )
    found = open_incident(
        svc, SYSTEM, tenant, report, clauses=clauses, dedupe=dedupe, response=response, now=when
    )
    return found, True


def credential_findings(svc: Enforcement, candidate: Candidate, now: datetime) -> list[str]:
    """The worker's part: incidents for live keys found in clear and for shared credentials
    among a queued hit's findings (what was done, for the worker's log)."""
    policy = svc.data.get("credential_policy")
    if not isinstance(policy, CredentialPolicy):
        return []
    done: list[str] = []
    where = f"a message of account {candidate.tenant}"
    if candidate.event:
        where += f" (event {candidate.event})"
    for tenant, key in candidate.leaked_keys:
        found, new = report_compromise(
            svc,
            tenant,
            f"API key {key} found in clear in {where}",
            dedupe=f"key:{key}",
            keys=[key],
            clauses=("S5", "V2", "O2"),
            response=policy.on_compromise,
            now=now,
        )
        done.append(f"{'opened' if new else 'added to'} incident {found.id} (key {key} in clear)")
    shared = [rule for rule, _, _ in candidate.rules if policy.is_shared(rule)]
    if shared:
        api_key = candidate.api_key
        via = f" (API key {api_key}, last from {candidate.source_ip or 'an unknown address'})"
        found, new = report_compromise(
            svc,
            candidate.tenant,
            f"{', '.join(shared)}: one credential used from many places at once"
            + (via if api_key else ""),
            dedupe=f"shared:{api_key or candidate.tenant}",
            keys=[api_key] if api_key else [],
            clauses=("O2", "S5"),
            response=policy.on_shared,
            now=now,
        )
        done.append(f"{'opened' if new else 'added to'} incident {found.id} (shared credential)")
    return done
