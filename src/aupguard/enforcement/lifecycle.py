"""Account standing over time (S2 S3 S9 S10 V12): billing events, the lifecycle
job, content storage with plan quotas, export after termination, and the scrub.

The periods are pack data (`account_lifecycle`): a trial lasts 30 days (on
day 31 the account cannot send); an invoice is due 30 days after issue and an
account with an invoice still unpaid then (and not disputed within the
15-day dispute window) becomes past due and is suspended, with a notice of
termination; termination follows when the notice period ends. Termination,
by billing or by enforcement, opens an export window (30 days), after which
the scrub deletes the account's content in batches, keeping what retention
rules require (audit, legal, penalties), and signs a record of what it did.
An interrupted scrub resumes where it stopped: every batch deletes and
records its progress in one transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from aupguard.actors import Actor, Role
from aupguard.audit.chain import AuditDraft, canonical
from aupguard.enforcement.records import (
    ONE_LINE,
    Candidate,
    ContentItem,
    Doc,
    Invoice,
    ScrubJob,
    Standing,
    new_id,
)
from aupguard.enforcement.service import (
    SYSTEM,
    Enforcement,
    EnforcementError,
    effective_status,
)

__all__ = [
    "BillingEvent",
    "billing_event",
    "export_content",
    "retention_sweep",
    "run_lifecycle",
    "scrub",
    "store_content",
]

BillingKind = Literal[
    "trial_started",
    "subscribed",
    "plan_changed",
    "invoice_issued",
    "invoice_paid",
    "invoice_disputed",
    "dispute_resolved",
]


class BillingEvent(BaseModel):
    """An event from the billing system (`POST /v1/billing-events`, `aupguard account
    billing-event`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: BillingKind
    at: datetime
    invoice: str | None = Field(default=None, min_length=1, max_length=128, pattern=ONE_LINE)
    amount: float | None = Field(default=None, ge=0)
    plan: str | None = Field(default=None, min_length=1, max_length=64, pattern=ONE_LINE)
    upheld: bool | None = None
    """For dispute_resolved: True when the customer was right (the invoice is void)."""

    @field_validator("at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("give a time zone")
        return value


def _need(event: BillingEvent, *fields: str) -> None:
    for name in fields:
        if getattr(event, name) is None:
            raise EnforcementError("missing_field", f"{event.type} needs {name}", name)


def billing_event(svc: Enforcement, actor: Actor, tenant: str, event: BillingEvent) -> Standing:
    """Apply a billing event to the account's standing (and whatever time has made due)."""
    svc.guard(actor, Role.ADMIN, action="record a billing event", tenant=tenant)
    now = event.at
    standing = svc.standing(tenant, now)
    invoices = dict(standing.invoices)
    changes: dict[str, Any] = {}
    if event.type == "trial_started":
        days = svc.lifecycle.trial_days
        changes = {
            "base": "trial",
            "trial_ends": now + timedelta(days=days),
            "trial_expired_at": None,
        }
    elif event.type == "subscribed":
        changes = {"base": "active", "trial_ends": None, "trial_expired_at": None}
        if event.plan:
            changes["plan"] = event.plan
    elif event.type == "plan_changed":
        _need(event, "plan")
        if event.plan not in svc.lifecycle.plans:
            known = ", ".join(sorted(svc.lifecycle.plans))
            raise EnforcementError("unknown_plan", f"plan must be one of {known}", "plan")
        changes = {"plan": event.plan}
    else:
        invoices = _invoices(svc, tenant, invoices, event)
    standing = standing.model_copy(update={**changes, "invoices": invoices, "updated": now})
    drafts = [
        svc.draft(
            actor,
            tenant,
            f"billing.{event.type}",
            event.invoice or tenant,
            event.model_dump(mode="json", exclude_none=True),
        )
    ]
    if event.type in ("invoice_paid", "dispute_resolved"):
        standing, more = _settled(svc, standing, now)
        drafts.extend(more)
    standing, more, docs = _advance(svc, standing, now)
    drafts.extend(more)
    _save(svc, tenant, standing, docs, drafts, now)
    return svc.standing(tenant, now)


def _invoices(
    svc: Enforcement, tenant: str, invoices: dict[str, Invoice], event: BillingEvent
) -> dict[str, Invoice]:
    """The account's invoices after an invoice event."""
    now = event.at
    _need(event, "invoice")
    assert event.invoice is not None
    if event.type == "invoice_issued":
        _need(event, "amount")
        assert event.amount is not None
        if event.invoice in invoices:
            raise EnforcementError(
                "duplicate_invoice", f"invoice {event.invoice} was already issued", "invoice"
            )
        return {
            **invoices,
            event.invoice: Invoice(id=event.invoice, issued=now, amount=event.amount),
        }
    invoice = invoices.get(event.invoice)
    if invoice is None:
        raise EnforcementError(
            "unknown_invoice", f"no invoice {event.invoice} for {tenant}", "invoice"
        )
    if event.type == "invoice_paid":
        changed = invoice.model_copy(update={"paid": now})
    elif event.type == "invoice_disputed":
        closes = invoice.issued + timedelta(days=svc.lifecycle.dispute_window_days)
        if now > closes:
            raise EnforcementError(
                "dispute_window_closed",
                f"the dispute window of invoice {invoice.id} closed on {closes.date().isoformat()}",
                "at",
            )
        changed = invoice.model_copy(update={"disputed": now})
    else:  # dispute_resolved
        _need(event, "upheld")
        update = {"paid": now} if event.upheld else {"disputed": None}
        changed = invoice.model_copy(update=update)
    return {**invoices, invoice.id: changed}


def _overdue(svc: Enforcement, standing: Standing, now: datetime) -> list[Invoice]:
    due = timedelta(days=svc.lifecycle.payment_due_days)
    return [
        i
        for i in standing.invoices.values()
        if i.paid is None and i.disputed is None and now >= i.issued + due
    ]


def _settled(
    svc: Enforcement, standing: Standing, now: datetime
) -> tuple[Standing, list[AuditDraft]]:
    """A suspension for non-payment lifts when nothing is overdue any more."""
    if standing.base not in ("past_due", "suspended") or _overdue(svc, standing, now):
        return standing, []
    back = (
        "trial"
        if standing.trial_ends is not None and standing.trial_expired_at is None
        else "active"
    )
    lifted = standing.model_copy(
        update={"base": back, "past_due_at": None, "notice_at": None, "terminate_at": None}
    )
    return lifted, [
        AuditDraft(
            standing.tenant, SYSTEM.id, "standing.restored", standing.tenant, {"standing": back}
        )
    ]


def _advance(
    svc: Enforcement, standing: Standing, now: datetime
) -> tuple[Standing, list[AuditDraft], list[Doc]]:
    """What time has made due: trial expiry, past due and suspension, termination."""
    tenant = standing.tenant
    drafts: list[AuditDraft] = []
    docs: list[Doc] = []

    def note(kind: str, payload: dict[str, Any]) -> None:
        drafts.append(AuditDraft(tenant, SYSTEM.id, kind, tenant, payload))

    if (
        standing.base == "trial"
        and standing.trial_ends is not None
        and standing.trial_expired_at is None
        and now >= standing.trial_ends
    ):
        ended = standing.trial_ends
        standing = standing.model_copy(update={"trial_expired_at": now})
        note("standing.trial_expired", {"trial_ended": ended.isoformat(), "clause": "S2"})
    overdue = _overdue(svc, standing, now)
    if overdue and standing.base in ("trial", "active"):
        standing = standing.model_copy(update={"base": "past_due", "past_due_at": now})
        note("standing.past_due", {"invoices": [i.id for i in overdue], "clause": "S3"})
    if standing.base == "past_due":
        terminate_at = now + timedelta(days=svc.lifecycle.termination_notice_days)
        standing = standing.model_copy(
            update={"base": "suspended", "notice_at": now, "terminate_at": terminate_at}
        )
        note(
            "standing.suspended",
            {"reason": "unpaid invoice", "terminate_at": terminate_at.isoformat(), "clause": "S3"},
        )
        docs.extend(
            svc.notify(
                tenant,
                "account.termination_notice",
                {
                    "reason": "unpaid invoice",
                    "invoices": [i.id for i in overdue],
                    "terminate_at": terminate_at.isoformat(),
                },
                now,
            )
        )
    if (
        standing.base == "suspended"
        and standing.terminate_at is not None
        and now >= standing.terminate_at
    ):
        window = timedelta(days=svc.lifecycle.export_window_days)
        standing = standing.model_copy(
            update={
                "base": "terminated",
                "terminate_at": None,
                "terminated_at": standing.terminated_at or now,
                "export_until": standing.export_until or now + window,
            }
        )
        note(
            "standing.terminated",
            {
                "after_notice_of": standing.notice_at.isoformat() if standing.notice_at else None,
                "export_until": (standing.export_until or now).isoformat(),
            },
        )
        docs.extend(
            svc.notify(
                tenant,
                "account.terminated",
                {"export_until": (standing.export_until or now).isoformat()},
                now,
            )
        )
    return standing, drafts, docs


def _save(
    svc: Enforcement,
    tenant: str,
    standing: Standing,
    docs: list[Doc],
    drafts: list[AuditDraft],
    now: datetime,
) -> None:
    standing = effective_status(standing, svc.actions(tenant), now)
    if standing.status == "terminated" and standing.terminated_at is None:
        window = timedelta(days=svc.lifecycle.export_window_days)
        standing = standing.model_copy(update={"terminated_at": now, "export_until": now + window})
    svc.store.put([standing, *docs], drafts)
    svc.changed(tenant)


def run_lifecycle(
    svc: Enforcement, actor: Actor, now: datetime | None = None, *, scrub_batch: int = 500
) -> list[str]:
    """The periodic job: move every account whose time has come; scrub accounts whose
    export window has closed."""
    svc.guard(actor, Role.ADMIN, action="run the account lifecycle job")
    when = svc.now(now)
    done: list[str] = []
    for standing in svc.store.find_any(Standing, due_before=when):
        advanced, drafts, docs = _advance(svc, standing, when)
        if drafts:
            _save(svc, standing.tenant, advanced, docs, drafts, when)
            done.extend(f"{standing.tenant}: {d.kind}" for d in drafts)
        current = svc.standing(standing.tenant, when)
        if (
            current.status == "terminated"
            and current.export_until is not None
            and when >= current.export_until
            and current.scrubbed_at is None
        ):
            job = scrub(svc, actor, standing.tenant, when, batch=scrub_batch)
            done.append(f"{standing.tenant}: scrubbed {job.deleted} item(s)")
    return done


# -- content, quotas, export, scrub -------------------------------------------------------


def store_content(
    svc: Enforcement,
    actor: Actor,
    tenant: str,
    name: str,
    body: str,
    *,
    data_class: Literal["content", "evidence"] = "content",
    now: datetime | None = None,
) -> ContentItem:
    """Keep content for an account, within its plan's storage quota (S9)."""
    svc.guard(
        actor, Role.SENDER, Role.TENANT_ADMIN, Role.ADMIN, action="store content", tenant=tenant
    )
    when = svc.now(now)
    standing = svc.standing(tenant, when)
    if standing.status == "terminated":
        raise EnforcementError(
            "terminated", f"account {tenant} is terminated; nothing more is stored"
        )
    size = len(body.encode())
    plan = svc.lifecycle.plans.get(standing.plan)
    limit = plan.storage_bytes if plan is not None else None
    if limit is not None and standing.storage_bytes + size > limit:
        raise EnforcementError(
            "storage_quota",
            f"the {standing.plan} plan keeps {limit} bytes; {standing.storage_bytes} are used and this adds {size}",
            "body",
        )
    item = ContentItem(
        tenant=tenant,
        id=new_id("cnt"),
        created=when,
        updated=when,
        data_class=data_class,
        name=name,
        body=body,
        bytes=size,
        sha256=hashlib.sha256(body.encode()).hexdigest(),
    )
    grown = standing.model_copy(
        update={"storage_bytes": standing.storage_bytes + size, "updated": when}
    )
    svc.store.put(
        [item, grown],
        [
            svc.draft(
                actor,
                tenant,
                "content.stored",
                item.id,
                {"bytes": size, "sha256": item.sha256, "class": data_class},
            )
        ],
    )
    return item


def export_content(
    svc: Enforcement, actor: Actor, tenant: str, now: datetime | None = None
) -> dict[str, Any]:
    """The account's content with a manifest of SHA-256 hashes; after termination only
    within the export window."""
    svc.guard(actor, Role.TENANT_ADMIN, Role.ADMIN, action="export content", tenant=tenant)
    when = svc.now(now)
    standing = svc.standing(tenant, when)
    if standing.scrubbed_at is not None:
        raise EnforcementError(
            "export_closed",
            f"account {tenant}'s content was scrubbed on {standing.scrubbed_at.date().isoformat()}",
        )
    if (
        standing.status == "terminated"
        and standing.export_until is not None
        and when > standing.export_until
    ):
        raise EnforcementError(
            "export_closed",
            f"the export window of {tenant} closed on {standing.export_until.isoformat()}",
        )
    items = svc.store.find(ContentItem, tenant)
    manifest = [{"id": i.id, "name": i.name, "bytes": i.bytes, "sha256": i.sha256} for i in items]
    bundle = {
        "tenant": tenant,
        "exported_at": when.isoformat(),
        "export_until": standing.export_until.isoformat() if standing.export_until else None,
        "manifest": manifest,
        "manifest_sha256": hashlib.sha256(canonical({"manifest": manifest})).hexdigest(),
        "items": [
            {"id": i.id, "name": i.name, "class": i.data_class, "body": i.body} for i in items
        ],
    }
    svc.store.audit.append(
        [
            svc.draft(
                actor,
                tenant,
                "content.exported",
                tenant,
                {"items": len(items), "manifest_sha256": bundle["manifest_sha256"]},
            )
        ]
    )
    return bundle


def scrub(
    svc: Enforcement,
    actor: Actor,
    tenant: str,
    now: datetime | None = None,
    *,
    batch: int = 500,
    after_batch: Callable[[int], None] | None = None,
) -> ScrubJob:
    """Delete a terminated account's content once its export window closed; resumable.

    `after_batch` is called with the number of batches done (tests interrupt it there)."""
    svc.guard(actor, Role.ADMIN, action="scrub an account", tenant=tenant)
    when = svc.now(now)
    standing = svc.standing(tenant, when)
    if standing.status != "terminated":
        raise EnforcementError(
            "not_terminated",
            f"account {tenant} is {standing.status}; only terminated accounts are scrubbed",
        )
    if standing.export_until is not None and when < standing.export_until:
        raise EnforcementError(
            "export_open",
            f"the export window of {tenant} is open until {standing.export_until.isoformat()}",
        )
    kept = tuple(svc.lifecycle.kept_after_scrub)
    classes = tuple(c for c in ("content", "evidence") if c not in kept)
    job = svc.store.get(ScrubJob, tenant, "scrub")
    if job is not None and job.status == "done":
        return job
    if job is None:
        job = ScrubJob(
            tenant=tenant, id="scrub", created=when, updated=when, classes=classes, kept=kept
        )
        svc.store.put(
            [job],
            [
                svc.draft(
                    actor,
                    tenant,
                    "scrub.started",
                    job.id,
                    {"classes": list(classes), "kept": list(kept)},
                )
            ],
        )
    else:
        svc.store.audit.append(
            [svc.draft(actor, tenant, "scrub.resumed", job.id, {"deleted_so_far": job.deleted})]
        )
    rounds = 0
    while True:
        items = [i for i in svc.store.find(ContentItem, tenant) if i.data_class in classes][:batch]
        if not items:
            break
        job = job.model_copy(update={"deleted": job.deleted + len(items), "updated": when})
        svc.store.delete(ContentItem, tenant, [i.id for i in items], put=[job])
        rounds += 1
        if after_batch is not None:
            after_batch(rounds)
    record = {
        "tenant": tenant,
        "started": job.created.isoformat(),
        "finished": when.isoformat(),
        "deleted": job.deleted,
        "classes": list(classes),
        "kept": list(kept),
        "terminated_at": standing.terminated_at.isoformat() if standing.terminated_at else None,
    }
    signature = svc.signer.sign(canonical(record)) if svc.signer else None
    job = job.model_copy(
        update={
            "status": "done",
            "finished": when,
            "record": record,
            "signature": signature,
            "key_id": svc.signer.key_id if svc.signer else None,
            "updated": when,
        }
    )
    final = svc.standing(tenant, when).model_copy(
        update={"scrubbed_at": when, "storage_bytes": 0, "updated": when}
    )
    svc.store.put(
        [job, final],
        [
            svc.draft(
                actor, tenant, "scrub.finished", job.id, {"record": record, "signature": signature}
            )
        ],
    )
    return job


def retention_sweep(svc: Enforcement, actor: Actor, now: datetime | None = None) -> int:
    """Delete stored content older than its data class's retention period, and the
    evidence of processed rule hits older than the evidence period (W13 S8)."""
    svc.guard(actor, Role.ADMIN, action="run the retention job")
    when = svc.now(now)
    gone = 0
    evidence_days = svc.lifecycle.retention_days.get("evidence")
    if evidence_days is not None:
        cutoff = when - timedelta(days=evidence_days)
        old: dict[str, list[str]] = {}
        for candidate in svc.store.find_any(Candidate, status="done"):
            if candidate.at <= cutoff:
                old.setdefault(candidate.tenant, []).append(candidate.id)
        for tenant, ids in old.items():
            gone += svc.store.delete(
                Candidate,
                tenant,
                ids,
                audit=[
                    svc.draft(actor, tenant, "retention.deleted", tenant, {"evidence": len(ids)})
                ],
            )
    by_tenant: dict[str, list[ContentItem]] = {}
    for item in svc.store.find_any(ContentItem):
        days = svc.lifecycle.retention_days.get(item.data_class)
        if days is not None and item.created + timedelta(days=days) <= when:
            by_tenant.setdefault(item.tenant, []).append(item)
    for tenant, items in by_tenant.items():
        freed = sum(i.bytes for i in items)
        standing = svc.standing(tenant, when)
        left = standing.model_copy(
            update={"storage_bytes": max(0, standing.storage_bytes - freed), "updated": when}
        )
        gone += svc.store.delete(
            ContentItem,
            tenant,
            [i.id for i in items],
            audit=[
                svc.draft(
                    actor,
                    tenant,
                    "retention.deleted",
                    tenant,
                    {"items": len(items), "bytes": freed},
                )
            ],
            put=[left],
        )
    return gone
