"""Policy versions (W0 P0 V13 O5 S12): dated versions, change notices to every
account before the effective date, and acceptance records (explicit
click-through, or continued use after notice once the version is in force).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from aupguard.actors import Actor, Role
from aupguard.audit.chain import PLATFORM, AuditDraft
from aupguard.enforcement.records import Acceptance, Doc, Notice, PolicyVersion, Standing
from aupguard.enforcement.service import SYSTEM, Enforcement, EnforcementError, NotFound

__all__ = [
    "accept",
    "acceptances",
    "in_force",
    "record_use",
    "schedule_version",
    "send_notices",
    "versions",
]


def schedule_version(
    svc: Enforcement,
    actor: Actor,
    version: str,
    effective: date,
    summary: str,
    pack: str = "aupguard-default",
    now: datetime | None = None,
) -> PolicyVersion:
    svc.guard(actor, Role.ADMIN, action="schedule a policy version")
    when = svc.now(now)
    if svc.store.get(PolicyVersion, PLATFORM, version) is not None:
        raise EnforcementError("duplicate_version", f"version {version} already exists", "version")
    if not summary.strip():
        raise EnforcementError("missing_field", "say what changes (summary)", "summary")
    record = PolicyVersion(
        tenant=PLATFORM,
        id=version,
        created=when,
        updated=when,
        effective=effective,
        summary=summary,
        pack=pack,
    )
    svc.store.put(
        [record],
        [
            svc.draft(
                actor,
                PLATFORM,
                "policy.scheduled",
                version,
                {"effective": effective.isoformat(), "summary": summary, "pack": pack},
            )
        ],
    )
    return record


def versions(svc: Enforcement) -> list[PolicyVersion]:
    return sorted(svc.store.find(PolicyVersion, PLATFORM), key=lambda v: v.effective)


def in_force(svc: Enforcement, on: date) -> PolicyVersion | None:
    """The version in force on a day: the latest whose effective date has come."""
    started = [v for v in versions(svc) if v.effective <= on]
    return started[-1] if started else None


def send_notices(
    svc: Enforcement,
    actor: Actor,
    version: str,
    tenants: Iterable[str] = (),
    now: datetime | None = None,
) -> list[Notice]:
    """Notify every account (those with a standing record, and `tenants`) of a version,
    before its effective date."""
    svc.guard(actor, Role.ADMIN, action="send policy change notices")
    record = svc.store.get(PolicyVersion, PLATFORM, version)
    if record is None:
        raise NotFound("policy version", version)
    when = svc.now(now)
    if when.date() >= record.effective:
        raise EnforcementError(
            "too_late",
            f"notices must go out before the effective date {record.effective.isoformat()}",
            "version",
        )
    accounts = {s.tenant for s in svc.store.find_any(Standing)} | set(tenants)
    docs: list[Doc] = []
    notices: list[Notice] = []
    drafts: list[AuditDraft] = []
    for tenant in sorted(accounts):
        if svc.store.get(Notice, tenant, version) is not None:
            continue
        outbox = svc.notify(
            tenant,
            "policy.change_notice",
            {
                "version": version,
                "effective": record.effective.isoformat(),
                "summary": record.summary,
            },
            when,
        )
        notice = Notice(
            tenant=tenant,
            id=version,
            created=when,
            updated=when,
            version=version,
            sent=when,
            effective=record.effective,
            outbox=outbox[0].id,
        )
        notices.append(notice)
        docs.extend([notice, *outbox])
        drafts.append(
            svc.draft(
                actor,
                tenant,
                "policy.notice_sent",
                version,
                {"effective": record.effective.isoformat()},
            )
        )
    noticed = record.model_copy(update={"status": "noticed", "noticed_at": when, "updated": when})
    svc.store.put([*docs, noticed], drafts)
    return notices


def accept(
    svc: Enforcement, actor: Actor, tenant: str, version: str, now: datetime | None = None
) -> Acceptance:
    """Explicit acceptance (click-through) by the account's admin."""
    svc.guard(actor, Role.TENANT_ADMIN, action="accept a policy version", tenant=tenant)
    if svc.store.get(PolicyVersion, PLATFORM, version) is None:
        raise NotFound("policy version", version)
    return _accept(svc, actor, tenant, version, "click_through", svc.now(now))


def _accept(
    svc: Enforcement, actor: Actor, tenant: str, version: str, method: str, now: datetime
) -> Acceptance:
    existing = svc.store.get(Acceptance, tenant, version)
    if existing is not None:
        return existing
    notice = svc.store.get(Notice, tenant, version)
    record = Acceptance(
        tenant=tenant,
        id=version,
        created=now,
        updated=now,
        version=version,
        method=method,
        at=now,
        by=actor.id,
        notice=notice.id if notice else None,
    )
    svc.store.put(
        [record],
        [
            svc.draft(
                actor,
                tenant,
                "policy.accepted",
                version,
                {"method": method, "notice": record.notice},
            )
        ],
    )
    return record


def record_use(
    svc: Enforcement, tenants: Iterable[str], now: datetime | None = None
) -> list[Acceptance]:
    """Accounts that used the service once a version they were notified of is in force
    accept it by continued use (recorded with the notice)."""
    when = svc.now(now)
    current = in_force(svc, when.date())
    if current is None:
        return []
    made = []
    for tenant in tenants:
        if svc.store.get(Acceptance, tenant, current.id) is not None:
            continue
        if svc.store.get(Notice, tenant, current.id) is None:
            continue
        made.append(_accept(svc, SYSTEM, tenant, current.id, "continued_use", when))
    return made


def acceptances(svc: Enforcement, actor: Actor, tenant: str) -> list[Acceptance]:
    svc.guard(
        actor,
        Role.ADMIN,
        Role.REVIEWER,
        Role.LEGAL,
        Role.TENANT_ADMIN,
        action="see acceptances",
        tenant=tenant,
    )
    return svc.store.find(Acceptance, tenant)
