"""Enforcement operations: actions on the ladder, reinstatement, strikes, cases and
appeals, and the worker that turns rule hits into cases and immediate actions.

Every operation takes the `Actor` doing it, checks its roles (least
privilege: a refused attempt is itself audited), and writes the change with
its audit entry in one transaction. Time is an argument (`now`), defaulting
to the service's clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aupguard.actors import Actor, Forbidden, Role, require, require_tenant
from aupguard.audit.chain import PLATFORM, AuditDraft, canonical
from aupguard.audit.keys import Signer
from aupguard.enforcement.datasets import (
    STEPS,
    AccountLifecycle,
    EnforcementLadder,
    PenaltySchedule,
    Step,
)
from aupguard.enforcement.records import (
    Action,
    Candidate,
    Case,
    CaseNote,
    Doc,
    OutboxMessage,
    Report,
    Standing,
    Strike,
    Tally,
    new_id,
)
from aupguard.enforcement.store import RecordStore

__all__ = [
    "STAFF",
    "SYSTEM",
    "Enforcement",
    "EnforcementError",
    "HitInfo",
    "NotFound",
    "effective_status",
]

SYSTEM = Actor("system:enforcement", frozenset({Role.ADMIN}))
"""The worker and the lifecycle job act as this staff actor."""

STAFF = (Role.REVIEWER, Role.ADMIN)

_RANK = {"trial": 0, "active": 0, "past_due": 1, "suspended": 2, "terminated": 3}


def _utc_now() -> datetime:
    return datetime.now(UTC)


class EnforcementError(ValueError):
    """A request the service cannot carry out, with a machine-readable code."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.field = field


class NotFound(EnforcementError):
    def __init__(self, what: str, id_: str) -> None:
        super().__init__("not_found", f"no {what} {id_!r}", field=what)


@dataclass(frozen=True, slots=True)
class HitInfo:
    rule: str
    severity: str
    clauses: tuple[str, ...]


def effective_status(standing: Standing, actions: Iterable[Action], now: datetime) -> Standing:
    """Standing with the enforcement-derived fields recomputed from the active actions."""
    active = [a for a in actions if a.status == "active"]
    channels = sorted({a.target[8:] for a in active if a.target.startswith("channel:")})
    senders = sorted({a.target[7:] for a in active if a.target.startswith("sender:")})
    throttles = [a for a in active if a.step == "throttle" and (a.until is None or a.until > now)]
    status = standing.base
    suspended_by = "billing" if status == "suspended" else None
    if any(a.step == "terminate" for a in active):
        status, suspended_by = "terminated", "enforcement"
    elif any(a.step == "suspend_account" for a in active) and _RANK[status] < _RANK["suspended"]:
        status, suspended_by = "suspended", "enforcement"
    until = max((a.until for a in throttles if a.until is not None), default=None)
    return standing.model_copy(
        update={
            "status": status,
            "suspended_by": suspended_by if status in ("suspended", "terminated") else None,
            "suspended_channels": tuple(channels),
            "suspended_senders": tuple(senders),
            "throttle_until": until if throttles else None,
            "updated": now,
        }
    )


class Enforcement:
    def __init__(
        self,
        store: RecordStore,
        data: Mapping[str, Any],
        signer: Signer | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.store = store
        self.data = data
        self.ladder: EnforcementLadder = data["enforcement_ladder"]
        self.penalties: PenaltySchedule = data["carrier_penalties"]
        self.lifecycle: AccountLifecycle = data["account_lifecycle"]
        self.signer = signer
        self.clock = clock
        self.listeners: list[Callable[[str], None]] = []
        """Called with the tenant whenever its standing changes (caches listen)."""
        self.revoke_key: Callable[[str, str], bool] | None = None
        """Revokes an API key (tenant, key id) when the pack says a compromised key is
        revoked (see `enforcement.incidents`); None: such keys are held instead."""

    # -- helpers ---------------------------------------------------------------------------

    def guard(
        self,
        actor: Actor,
        *roles: Role,
        action: str,
        tenant: str | None = None,
        subject: str = "",
    ) -> None:
        """Refuse (and audit the attempt) unless the actor holds a role and may see the tenant."""
        try:
            require(actor, *roles, action=action)
            if tenant is not None:
                require_tenant(actor, tenant, action=action)
        except Forbidden as exc:
            self._denied(actor, exc, tenant, subject or action)
            raise

    def _denied(self, actor: Actor, exc: Forbidden, tenant: str | None, subject: str) -> None:
        self.store.audit.append(
            [
                AuditDraft(
                    tenant or actor.tenant or PLATFORM,
                    actor.id,
                    "access.denied",
                    subject,
                    {"action": exc.needed, "reason": str(exc)},
                )
            ]
        )

    def refuse(self, actor: Actor, needed: str, tenant: str | None, subject: str) -> None:
        """Refuse an actor who holds the role but may not do this (audited)."""
        exc = Forbidden(actor, needed)
        self._denied(actor, exc, tenant, subject)
        raise exc

    def draft(
        self, actor: Actor, tenant: str, kind: str, subject: str, payload: dict[str, Any]
    ) -> AuditDraft:
        return AuditDraft(tenant, actor.id, kind, subject, payload)

    def now(self, now: datetime | None) -> datetime:
        return now if now is not None else self.clock()

    def changed(self, tenant: str) -> None:
        for listener in self.listeners:
            listener(tenant)

    def notify(self, tenant: str, topic: str, body: dict[str, Any], now: datetime) -> list[Doc]:
        """The customer notifications of a change: an e-mail and a signed webhook (outbox)."""
        payload = {"tenant": tenant, "topic": topic, "at": now.isoformat(), **body}
        email = OutboxMessage(
            tenant=tenant,
            id=new_id("out"),
            created=now,
            updated=now,
            channel="email",
            topic=topic,
            body=payload,
        )
        signature = self.signer.sign(canonical(payload)) if self.signer else None
        hook = OutboxMessage(
            tenant=tenant,
            id=new_id("out"),
            created=now,
            updated=now,
            channel="webhook",
            topic=topic,
            body=payload,
            signature=signature,
            key_id=self.signer.key_id if self.signer else None,
        )
        return [email, hook]

    # -- standing --------------------------------------------------------------------------

    def standing(self, tenant: str, now: datetime | None = None) -> Standing:
        """The account's standing (active, on the default plan, when nothing is recorded)."""
        found = self.store.get(Standing, tenant, tenant)
        if found is not None:
            return found
        when = self.now(now)
        return Standing(tenant=tenant, id=tenant, created=when, updated=when)

    def actions(self, tenant: str, *, active_only: bool = False) -> list[Action]:
        found = self.store.find(Action, tenant)
        return [a for a in found if a.status == "active"] if active_only else found

    def show_standing(self, actor: Actor, tenant: str, now: datetime | None = None) -> Standing:
        self.guard(
            actor,
            *STAFF,
            Role.LEGAL,
            Role.TENANT_ADMIN,
            Role.VIEWER,
            action="see standing",
            tenant=tenant,
        )
        return self.standing(tenant, now)

    # -- actions on the ladder -------------------------------------------------------------

    def act(
        self,
        actor: Actor,
        tenant: str,
        step: Step,
        reason: str,
        *,
        target: str = "",
        case: str | None = None,
        clauses: Sequence[str] = (),
        rules: Sequence[str] = (),
        decisions: Sequence[str] = (),
        reports: Sequence[str] = (),
        now: datetime | None = None,
    ) -> Action:
        """Take one ladder step against an account, recorded with what caused it."""
        self.guard(actor, *STAFF, action=f"take the enforcement step {step}", tenant=tenant)
        if step not in STEPS:
            raise EnforcementError("bad_step", f"step must be one of {', '.join(STEPS)}", "step")
        if not reason.strip():
            raise EnforcementError("missing_reason", "an action needs a reason", "reason")
        if step == "suspend_channel" and not target.startswith(("channel:", "sender:")):
            raise EnforcementError(
                "bad_target",
                "suspend_channel needs --target channel:<name> or sender:<id>",
                "target",
            )
        when = self.now(now)
        until = when + timedelta(days=self.ladder.decay_days) if step == "throttle" else None
        action = Action(
            tenant=tenant,
            id=new_id("act"),
            created=when,
            updated=when,
            step=step,
            target=target,
            reason=reason,
            clauses=tuple(clauses),
            rules=tuple(rules),
            decisions=tuple(decisions),
            reports=tuple(reports),
            case=case,
            by=actor.id,
            at=when,
            until=until,
        )
        docs = self._with_standing(tenant, [action], when)
        if step == "terminate":
            self._open_export(docs, when)
        docs.extend(
            self.notify(
                tenant,
                f"enforcement.{step}",
                {"action": action.id, "reason": reason, "clauses": list(clauses), "target": target},
                when,
            )
        )
        payload = action.model_dump(
            mode="json",
            include={
                "step",
                "target",
                "reason",
                "clauses",
                "rules",
                "decisions",
                "reports",
                "case",
            },
        )
        self.store.put(docs, [self.draft(actor, tenant, f"enforcement.{step}", action.id, payload)])
        self.changed(tenant)
        return action

    def _with_standing(self, tenant: str, changed: list[Action], now: datetime) -> list[Doc]:
        by_id = {a.id: a for a in self.actions(tenant)}
        by_id.update({a.id: a for a in changed})
        standing = effective_status(self.standing(tenant, now), by_id.values(), now)
        return [*changed, standing]

    def _open_export(self, docs: list[Doc], now: datetime) -> None:
        """Open the export window of a terminated account (on its standing record)."""
        for i, doc in enumerate(docs):
            if isinstance(doc, Standing) and doc.terminated_at is None:
                window = timedelta(days=self.lifecycle.export_window_days)
                docs[i] = doc.model_copy(
                    update={"terminated_at": now, "export_until": now + window}
                )

    def reinstate(
        self, actor: Actor, tenant: str, action_id: str, reason: str, now: datetime | None = None
    ) -> Action:
        """Reverse an action (with a reason); the standing follows the remaining actions."""
        self.guard(actor, *STAFF, action="reinstate an account", tenant=tenant, subject=action_id)
        if not reason.strip():
            raise EnforcementError("missing_reason", "reinstatement needs a reason", "reason")
        action = self.store.get(Action, tenant, action_id)
        if action is None:
            raise NotFound("action", action_id)
        if action.status == "reversed":
            raise EnforcementError("already_reversed", f"action {action_id} was already reversed")
        when = self.now(now)
        reversed_ = action.model_copy(
            update={
                "status": "reversed",
                "reversed_by": actor.id,
                "reversed_at": when,
                "reversed_reason": reason,
                "updated": when,
            }
        )
        docs = self._with_standing(tenant, [reversed_], when)
        for i, doc in enumerate(docs):
            if isinstance(doc, Standing) and doc.status != "terminated":
                docs[i] = doc.model_copy(update={"terminated_at": None, "export_until": None})
        docs.extend(
            self.notify(
                tenant, "enforcement.reinstated", {"action": action_id, "reason": reason}, when
            )
        )
        self.store.put(
            docs,
            [
                self.draft(
                    actor,
                    tenant,
                    "enforcement.reinstated",
                    action_id,
                    {"step": action.step, "target": action.target, "reason": reason},
                )
            ],
        )
        self.changed(tenant)
        return reversed_

    def _current_rank(self, tenant: str) -> int:
        active = self.actions(tenant, active_only=True)
        return max((STEPS.index(a.step) for a in active), default=-1)

    def strike(
        self,
        tenant: str,
        hits: Sequence[HitInfo],
        case: Case,
        now: datetime,
    ) -> Action | None:
        """Count a confirmed violation and climb the ladder if the total reaches a new step."""
        weight = max((self.ladder.strikes_for(h.severity, h.clauses) for h in hits), default=0)
        worst = max(
            hits, key=lambda h: self.ladder.strikes_for(h.severity, h.clauses), default=None
        )
        if worst is None or weight == 0:
            return None
        strike = Strike(
            tenant=tenant,
            id=new_id("stk"),
            created=now,
            updated=now,
            rule=worst.rule,
            clauses=worst.clauses,
            severity=worst.severity,
            weight=weight,
            at=now,
            case=case.id,
        )
        self.store.put(
            [strike],
            [
                AuditDraft(
                    tenant,
                    SYSTEM.id,
                    "enforcement.strike",
                    strike.id,
                    {"rule": worst.rule, "weight": weight, "case": case.id},
                )
            ],
        )
        total = self.strike_total(tenant, now)
        step = self.ladder.step_for(total)
        if step is None or STEPS.index(step) <= self._current_rank(tenant):
            return None
        target = ""
        if step == "suspend_channel":
            last = case.evidence[-1] if case.evidence else {}
            sender, channel = last.get("sender"), last.get("channel")
            target = f"sender:{sender}" if sender else f"channel:{channel or 'sms'}"
        return self.act(
            SYSTEM,
            tenant,
            step,
            f"{total} strikes within {self.ladder.decay_days:g} days",
            target=target,
            case=case.id,
            clauses=tuple(dict.fromkeys(c for h in hits for c in h.clauses)),
            rules=tuple(h.rule for h in hits),
            decisions=tuple(str(e["event"]) for e in case.evidence if e.get("event")),
            reports=case.reports,
            now=now,
        )

    def strike_total(self, tenant: str, now: datetime) -> int:
        since = now - timedelta(days=self.ladder.decay_days)
        return sum(
            s.weight for s in self.store.find(Strike, tenant, status="counted") if s.at > since
        )

    # -- cases -----------------------------------------------------------------------------

    def open_case(
        self,
        actor: Actor,
        tenant: str,
        type_: str,
        subject: str,
        *,
        evidence: Sequence[dict[str, Any]] = (),
        dedupe: str | None = None,
        reports: Sequence[str] = (),
        now: datetime | None = None,
    ) -> tuple[Case, bool]:
        """Open a case, or add to the open case with the same de-duplication key.

        Returns the case and whether it is new."""
        self.guard(actor, *STAFF, Role.LEGAL, action="open a case", tenant=tenant)
        sla = self.ladder.cases.sla_hours.get(type_)
        if sla is None:
            known = ", ".join(sorted(self.ladder.cases.sla_hours))
            raise EnforcementError("bad_case_type", f"case type must be one of {known}", "type")
        when = self.now(now)
        if dedupe is not None:
            for case in self.store.find(Case, tenant, key=dedupe):
                if case.status in ("open", "needs_info", "appealed"):
                    updated = case.model_copy(
                        update={
                            "evidence": (*case.evidence, *evidence)[-50:],
                            "hits": case.hits + len(evidence),
                            "reports": (*case.reports, *reports),
                            "updated": when,
                        }
                    )
                    self.store.put(
                        [updated],
                        [
                            self.draft(
                                actor,
                                tenant,
                                "case.added",
                                case.id,
                                {"evidence": len(evidence), "reports": list(reports)},
                            )
                        ],
                    )
                    return updated, False
        case = Case(
            tenant=tenant,
            id=new_id("case"),
            created=when,
            updated=when,
            type=type_,
            subject=subject,
            opened=when,
            due=when + timedelta(hours=sla),
            evidence=tuple(evidence)[-50:],
            hits=len(evidence),
            reports=tuple(reports),
            dedupe=dedupe,
        )
        self.store.put(
            [case],
            [
                self.draft(
                    actor,
                    tenant,
                    "case.opened",
                    case.id,
                    {"type": type_, "subject": subject, "due": case.due.isoformat()},
                )
            ],
        )
        return case, True

    def case(self, actor: Actor, tenant: str, case_id: str) -> Case:
        self.guard(
            actor,
            *STAFF,
            Role.LEGAL,
            Role.TENANT_ADMIN,
            action="see a case",
            tenant=tenant,
            subject=case_id,
        )
        found = self.store.get(Case, tenant, case_id)
        if found is None:
            raise NotFound("case", case_id)
        return found

    def cases(self, actor: Actor, tenant: str, status: str | None = None) -> list[Case]:
        self.guard(actor, *STAFF, Role.LEGAL, Role.TENANT_ADMIN, action="list cases", tenant=tenant)
        return self.store.find(Case, tenant, status=status)

    def overdue(self, actor: Actor, now: datetime | None = None) -> list[Case]:
        """Open, waiting and appealed cases past their SLA clock, across accounts (staff)."""
        self.guard(actor, *STAFF, Role.LEGAL, action="list overdue cases")
        return self.store.find_any(Case, due_before=self.now(now))

    def _update_case(
        self,
        actor: Actor,
        case: Case,
        kind: str,
        payload: dict[str, Any],
        now: datetime,
        **changes: Any,
    ) -> Case:
        updated = case.model_copy(update={**changes, "updated": now})
        self.store.put([updated], [self.draft(actor, case.tenant, kind, case.id, payload)])
        return updated

    def assign(
        self, actor: Actor, tenant: str, case_id: str, assignee: str, now: datetime | None = None
    ) -> Case:
        self.guard(actor, *STAFF, action="assign a case", tenant=tenant, subject=case_id)
        case = self.case(actor, tenant, case_id)
        return self._update_case(
            actor, case, "case.assigned", {"assignee": assignee}, self.now(now), assignee=assignee
        )

    def note(
        self, actor: Actor, tenant: str, case_id: str, text: str, now: datetime | None = None
    ) -> Case:
        self.guard(
            actor, *STAFF, Role.LEGAL, action="add a case note", tenant=tenant, subject=case_id
        )
        if not text.strip():
            raise EnforcementError("missing_text", "a note needs text", "text")
        case = self.case(actor, tenant, case_id)
        when = self.now(now)
        note = CaseNote(at=when, by=actor.id, text=text)
        return self._update_case(
            actor, case, "case.note", {"length": len(text)}, when, notes=(*case.notes, note)
        )

    def request_info(
        self, actor: Actor, tenant: str, case_id: str, question: str, now: datetime | None = None
    ) -> Case:
        """Ask the reporters (or the account) for more information; the case waits."""
        self.guard(actor, *STAFF, action="request information", tenant=tenant, subject=case_id)
        if not question.strip():
            raise EnforcementError("missing_text", "say what information is needed", "question")
        case = self.case(actor, tenant, case_id)
        when = self.now(now)
        docs: list[Doc] = []
        for report_id in case.reports:
            report = self.store.get(Report, tenant, report_id)
            if report is not None:
                docs.append(report.model_copy(update={"status": "needs_info", "updated": when}))
                docs.append(
                    OutboxMessage(
                        tenant=tenant,
                        id=new_id("out"),
                        created=when,
                        updated=when,
                        channel="email",
                        topic="report.more_information",
                        body={"to": report.reporter, "report": report.id, "question": question},
                    )
                )
        note = CaseNote(at=when, by=actor.id, text=f"information requested: {question}")
        updated = case.model_copy(
            update={"status": "needs_info", "notes": (*case.notes, note), "updated": when}
        )
        self.store.put(
            [updated, *docs],
            [self.draft(actor, tenant, "case.needs_info", case.id, {"question": question})],
        )
        return updated

    def decide(
        self,
        actor: Actor,
        tenant: str,
        case_id: str,
        outcome: str,
        reason: str,
        now: datetime | None = None,
    ) -> Case:
        """Decide a case: violation (strikes, the ladder) or no violation (actions reversed);
        an appealed case is decided upheld or reversed by a reviewer who did not decide it."""
        self.guard(actor, *STAFF, action="decide a case", tenant=tenant, subject=case_id)
        case = self.case(actor, tenant, case_id)
        when = self.now(now)
        if not reason.strip():
            raise EnforcementError("missing_reason", "a decision needs a reason", "reason")
        if case.status == "appealed":
            if outcome not in ("upheld", "reversed"):
                raise EnforcementError(
                    "bad_outcome", "an appeal is decided upheld or reversed", "outcome"
                )
            if actor.id in case.decided_by:
                self.refuse(
                    actor,
                    "decide an appeal of a case they decided (a different reviewer must)",
                    tenant,
                    case_id,
                )
        elif case.status in ("decided", "closed"):
            raise EnforcementError(
                "already_decided", f"case {case_id} is decided; appeal it to reopen it"
            )
        elif outcome not in ("violation", "no_violation"):
            raise EnforcementError(
                "bad_outcome", "a case is decided violation or no_violation", "outcome"
            )
        updated = self._update_case(
            actor,
            case,
            "case.decided",
            {"outcome": outcome, "reason": reason, "appeal": case.status == "appealed"},
            when,
            status="decided",
            outcome=outcome,
            reason=reason,
            decided_by=(*case.decided_by, actor.id),
            decided_at=when,
        )
        if outcome in ("no_violation", "reversed"):
            self._undo(actor, updated, reason, when)
        if outcome == "violation":
            hits = [
                HitInfo(
                    str(e["rule"]), str(e.get("severity", "medium")), tuple(e.get("clauses", ()))
                )
                for e in case.evidence
                if e.get("rule")
            ]
            action = self.strike(tenant, hits, updated, when)
            if action is not None:
                updated = self._link(updated, action)
        self._judge_reports(updated, confirmed=outcome in ("violation", "upheld"), now=when)
        return updated

    def _link(self, case: Case, action: Action) -> Case:
        current = self.store.get(Case, case.tenant, case.id) or case
        linked = current.model_copy(update={"actions": (*current.actions, action.id)})
        self.store.put([linked])
        return linked

    def _undo(self, actor: Actor, case: Case, reason: str, now: datetime) -> None:
        for action in self.store.find(Action, case.tenant, key=case.id):
            if action.status == "active":
                self.reinstate(actor, case.tenant, action.id, f"case {case.id}: {reason}", now)
        strikes = [
            s.model_copy(update={"status": "void", "updated": now})
            for s in self.store.find(Strike, case.tenant, status="counted")
            if s.case == case.id
        ]
        if strikes:
            self.store.put(
                strikes,
                [
                    self.draft(
                        actor,
                        case.tenant,
                        "enforcement.strikes_void",
                        case.id,
                        {"strikes": [s.id for s in strikes]},
                    )
                ],
            )

    def _judge_reports(self, case: Case, *, confirmed: bool, now: datetime) -> None:
        for report_id in case.reports:
            report = self.store.get(Report, case.tenant, report_id)
            if report is None or report.status in ("confirmed", "rejected"):
                continue
            from aupguard.enforcement.reports import judge_reporter

            judge_reporter(self, report, confirmed=confirmed, now=now)

    def appeal(
        self, actor: Actor, tenant: str, case_id: str, reason: str, now: datetime | None = None
    ) -> Case:
        """The account appeals a decided case: it reopens for a different reviewer."""
        self.guard(
            actor,
            Role.TENANT_ADMIN,
            Role.ADMIN,
            action="appeal a decision",
            tenant=tenant,
            subject=case_id,
        )
        if not reason.strip():
            raise EnforcementError("missing_reason", "an appeal needs a reason", "reason")
        case = self.case(actor, tenant, case_id)
        if case.appealed_at is not None:
            raise EnforcementError(
                "not_appealable", f"case {case_id} was appealed already; its appeal is final"
            )
        if case.status != "decided" or case.outcome not in ("violation", "upheld"):
            raise EnforcementError(
                "not_appealable", f"case {case_id} has no decision against the account to appeal"
            )
        when = self.now(now)
        due = when + timedelta(hours=self.ladder.cases.sla_hours.get("appeal", 48))
        return self._update_case(
            actor,
            case,
            "case.appealed",
            {"reason": reason, "previous_deciders": list(case.decided_by)},
            when,
            status="appealed",
            appeal_reason=reason,
            appealed_at=when,
            assignee=None,
            due=due,
        )

    # -- the worker: rule hits to cases and immediate actions ------------------------------

    def process(self, candidate: Candidate, now: datetime | None = None) -> list[str]:
        """Handle one queued rule hit; returns what was done (for logs and the CLI)."""
        when = self.now(now)
        tenant = candidate.tenant
        done: list[str] = []
        evidence_base = {
            "event": candidate.event,
            "at": candidate.at.isoformat(),
            "verdict": candidate.verdict,
            "sender": candidate.sender,
            "channel": candidate.channel,
            "content_sha256": candidate.content_sha256,
            "excerpts": list(candidate.evidence),
        }

        def proof(hit: HitInfo) -> dict[str, Any]:
            return {
                **evidence_base,
                "rule": hit.rule,
                "severity": hit.severity,
                "clauses": list(hit.clauses),
            }

        immediate: dict[str, list[HitInfo]] = {}
        families: dict[str, list[HitInfo]] = {}
        tallies = {rule: self._tally(tenant, rule, when) for rule, _, _ in candidate.rules}
        for rule, severity, clauses in candidate.rules:
            hit = HitInfo(rule, severity, clauses)
            spec_ = self.ladder.immediate_for(rule)
            if spec_ is not None:
                immediate.setdefault(spec_.name, []).append(hit)
            else:
                families.setdefault(rule.split(".", 1)[0], []).append(hit)
        if not immediate:
            for family, hits in families.items():
                key = f"hits:{family}"
                existing = [
                    c
                    for c in self.store.find(Case, tenant, key=key)
                    if c.status in ("open", "needs_info", "appealed")
                ]
                reached = any(
                    h.severity in self.ladder.cases.open_at
                    and len(tallies[h.rule].times) >= self.ladder.cases.open_at[h.severity]
                    for h in hits
                )
                if existing or reached:
                    case, new = self.open_case(
                        SYSTEM,
                        tenant,
                        "rule_hits",
                        f"hits of {family}.* rules",
                        evidence=[proof(h) for h in hits],
                        dedupe=key,
                        now=when,
                    )
                    done.append(f"{'opened' if new else 'added to'} {case.id} ({family})")
        others = [h for hits in families.values() for h in hits]
        for name, hits in immediate.items():
            spec = next(i for i in self.ladder.immediate if i.name == name)
            proofs = [proof(h) for h in (*hits, *others)]
            others = []  # the first immediate case takes the event's other hits as evidence
            case, _ = self.open_case(
                SYSTEM,
                tenant,
                "rule_hits",
                f"immediate: {name}",
                evidence=proofs,
                dedupe=f"immediate:{name}",
                now=when,
            )
            if STEPS.index(spec.action) <= self._current_rank(tenant):
                done.append(f"added to {case.id} ({name}; already at {spec.action} or beyond)")
                continue
            action = self.act(
                SYSTEM,
                tenant,
                spec.action,
                f"immediate action: {name}",
                case=case.id,
                clauses=spec.clauses or tuple(dict.fromkeys(c for h in hits for c in h.clauses)),
                rules=tuple(h.rule for h in hits),
                decisions=(candidate.event,) if candidate.event else (),
                now=when,
            )
            decided = case.model_copy(
                update={
                    "status": "decided",
                    "outcome": "violation",
                    "decided_by": (*case.decided_by, SYSTEM.id),
                    "decided_at": when,
                    "reason": f"immediate action: {name}",
                    "actions": (*case.actions, action.id),
                    "updated": when,
                }
            )
            self.store.put(
                [decided],
                [
                    self.draft(
                        SYSTEM,
                        tenant,
                        "case.decided",
                        case.id,
                        {"outcome": "violation", "reason": decided.reason, "immediate": True},
                    )
                ],
            )
            done.append(f"{spec.action} ({name}) {action.id} in {case.id}")
        from aupguard.enforcement.incidents import credential_findings

        done.extend(credential_findings(self, candidate, when))
        finished = candidate.model_copy(update={"status": "done", "updated": when})
        self.store.put(
            [finished, *tallies.values()],
            [
                AuditDraft(
                    tenant,
                    SYSTEM.id,
                    f"decision.{candidate.verdict}",
                    candidate.event or candidate.id,
                    {
                        "rules": [r for r, _, _ in candidate.rules],
                        "content_sha256": candidate.content_sha256,
                        "pack_version": candidate.pack_version,
                        "at": candidate.at.isoformat(),
                    },
                )
            ],
        )
        return done

    def _tally(self, tenant: str, rule: str, now: datetime) -> Tally:
        """The account's hits of `rule` within the case window, this one included."""
        since = now - timedelta(hours=self.ladder.cases.window_hours)
        found = self.store.get(Tally, tenant, rule)
        times = tuple(t for t in (found.times if found else ()) if t > since)
        return Tally(
            tenant=tenant,
            id=rule,
            created=found.created if found else now,
            updated=now,
            times=(*times, now),
        )

    def drain(self, now: datetime | None = None, limit: int = 10_000) -> list[str]:
        """Process queued candidates of every account, oldest first."""
        done: list[str] = []
        for candidate in self.store.find_any(Candidate, status="queued", limit=limit):
            done.extend(self.process(candidate, now))
        return done
