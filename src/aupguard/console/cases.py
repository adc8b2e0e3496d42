"""Cases as the console shows them: lists with SLA clocks, a case's timeline, and what
a reviewer does with it (notes, assignment, decision, enforcement action), all
through the enforcement service, which authorizes on the `Actor` and audits.

A case id under another tenant in the URL is a 404 and an `access.denied` entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, get_args

from aupguard.actors import Actor, Role
from aupguard.enforcement.datasets import STEPS, Step
from aupguard.enforcement.records import Action, Case, CaseType
from aupguard.enforcement.service import Enforcement, NotFound

__all__ = [
    "CASE_STATUSES",
    "CASE_TYPES",
    "CaseRow",
    "Moment",
    "case_rows",
    "clock_text",
    "find_cases",
    "open_case_page",
    "take_action",
    "timeline",
]

CASE_STATUSES = ("open", "needs_info", "appealed", "decided", "closed")
CASE_TYPES: tuple[str, ...] = get_args(CaseType)
LIST_LIMIT = 200
WAITING = ("open", "needs_info", "appealed")
READERS = (Role.REVIEWER, Role.ADMIN, Role.LEGAL)


@dataclass(frozen=True, slots=True)
class CaseRow:
    case: Case
    clock: str
    overdue: bool


@dataclass(frozen=True, slots=True)
class Moment:
    """One line of a case's timeline."""

    at: datetime
    what: str
    detail: str
    by: str = ""


def clock_text(case: Case, now: datetime) -> tuple[str, bool]:
    """The SLA clock: "due in 5 h" / "overdue by 2 d 3 h" (overdue: True), or the
    decision time when the case waits for nobody."""
    if case.status not in WAITING:
        when = case.decided_at or case.updated
        return f"{case.status} {when:%Y-%m-%d %H:%M}", False
    left = case.due - now
    overdue = left < timedelta(0)
    span = abs(left)
    days, hours = span.days, span.seconds // 3600
    minutes = (span.seconds % 3600) // 60
    text = (
        f"{days} d {hours} h"
        if days
        else (f"{hours} h {minutes} min" if hours else f"{minutes} min")
    )
    return (f"overdue by {text}", True) if overdue else (f"due in {text}", False)


def case_rows(cases: Sequence[Case], now: datetime) -> list[CaseRow]:
    rows = []
    for case in cases:
        text, overdue = clock_text(case, now)
        rows.append(CaseRow(case, text, overdue))
    return rows


def find_cases(
    svc: Enforcement,
    actor: Actor,
    *,
    tenant: str | None,
    status: str | None,
    type_: str | None,
    overdue: bool,
    assignee: str | None,
    now: datetime,
) -> list[Case]:
    """Cases by filter, oldest first, at most LIST_LIMIT: of one tenant, or (staff)
    across tenants; `overdue` keeps the waiting ones past their clock."""
    narrowed = type_ is not None or assignee is not None
    fetch = LIST_LIMIT * 10 if narrowed else LIST_LIMIT  # filtered here, after the query
    if tenant is not None:
        found = svc.cases(actor, tenant, status)
        if overdue:
            found = [c for c in found if c.status in WAITING and c.due <= now]
    else:
        svc.guard(actor, *READERS, action="list cases across accounts")
        due_before = now if overdue else None
        found = svc.store.find_any(Case, status=status, due_before=due_before, limit=fetch)
    return [
        c
        for c in found
        if (status is None or c.status == status)
        and (type_ is None or c.type == type_)
        and (assignee is None or c.assignee == assignee)
    ][:LIST_LIMIT]


def open_case_page(svc: Enforcement, actor: Actor, tenant: str, case_id: str) -> Case:
    """The case, or NotFound after an `access.denied` entry (an edited URL)."""
    try:
        return svc.case(actor, tenant, case_id)
    except NotFound:
        svc.store.audit.append(
            [
                svc.draft(
                    actor,
                    tenant,
                    "access.denied",
                    case_id,
                    {"action": "open a case", "reason": "not in this tenant"},
                )
            ]
        )
        raise


def actions_of(svc: Enforcement, case: Case) -> list[Action]:
    found = [svc.store.get(Action, case.tenant, a) for a in case.actions]
    by_case = svc.store.find(Action, case.tenant, key=case.id)
    seen = {a.id: a for a in (*[a for a in found if a is not None], *by_case)}
    return sorted(seen.values(), key=lambda a: a.at)


def timeline(case: Case, actions: Sequence[Action]) -> list[Moment]:
    """Everything that happened to the case, in time order."""
    moments = [Moment(case.opened, "opened", f"{case.type}: {case.subject}")]
    for ev in case.evidence:
        moments.append(_evidence_moment(ev, case.opened))
    for note in case.notes:
        moments.append(Moment(note.at, "note", note.text, note.by))
    for action in actions:
        detail = f"{action.step}{' ' + action.target if action.target else ''}: {action.reason}"
        moments.append(Moment(action.at, "action", detail, action.by))
        if action.reversed_at is not None:
            moments.append(
                Moment(
                    action.reversed_at,
                    "reversed",
                    f"{action.step}: {action.reversed_reason or ''}",
                    action.reversed_by or "",
                )
            )
    if case.decided_at is not None:
        by = case.decided_by[-1] if case.decided_by else ""
        moments.append(Moment(case.decided_at, "decided", f"{case.outcome}: {case.reason}", by))
    if case.appealed_at is not None:
        moments.append(Moment(case.appealed_at, "appealed", case.appeal_reason or ""))
    return sorted(moments, key=lambda m: m.at)


def _evidence_moment(ev: dict[str, Any], default: datetime) -> Moment:
    raw = ev.get("at")
    try:
        at = datetime.fromisoformat(str(raw)) if raw else default
    except ValueError:
        at = default
    if at.tzinfo is None:
        at = at.replace(tzinfo=default.tzinfo)
    subject = ev.get("message") or ev.get("event") or ev.get("report") or ""
    parts = [
        f"{ev.get('rule')}" if ev.get("rule") else "",
        f"({', '.join(ev.get('clauses') or ())})" if ev.get("clauses") else "",
        f"{subject}" if subject else "",
        f"reviewer: {ev.get('review')}" if ev.get("review") else "",
    ]
    excerpts = [str(x) for x in ev.get("excerpts") or () if x]
    if excerpts:
        parts.append("evidence: " + " | ".join(excerpts[:3]))
    return Moment(at, "evidence", " ".join(p for p in parts if p), str(ev.get("by") or ""))


def take_action(
    svc: Enforcement, actor: Actor, case: Case, step: str, reason: str, target: str
) -> Action:
    """An enforcement step against the case's account, linked to the case."""
    if step not in STEPS:
        from aupguard.enforcement.service import EnforcementError

        raise EnforcementError("bad_step", f"step must be one of {', '.join(STEPS)}", "step")
    rules = tuple(dict.fromkeys(str(e["rule"]) for e in case.evidence if e.get("rule")))
    clauses = tuple(dict.fromkeys(str(c) for e in case.evidence for c in e.get("clauses") or ()))
    chosen: Step = STEPS[STEPS.index(step)]
    action = svc.act(
        actor,
        case.tenant,
        chosen,
        reason,
        target=target,
        case=case.id,
        clauses=clauses,
        rules=rules,
    )
    current = svc.store.get(Case, case.tenant, case.id) or case
    svc.store.put([current.model_copy(update={"actions": (*current.actions, action.id)})])
    return action
