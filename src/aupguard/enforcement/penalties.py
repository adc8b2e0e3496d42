"""The penalties ledger (P30): operator fines passed on to the account that caused
them, priced from the pack's schedule on the day incurred, linked to the case;
reports per account and month.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from aupguard.actors import Actor, Role
from aupguard.enforcement.records import Case, Penalty, new_id
from aupguard.enforcement.service import STAFF, Enforcement, EnforcementError, NotFound

__all__ = ["monthly_report", "record_penalty"]


def record_penalty(
    svc: Enforcement,
    actor: Actor,
    tenant: str,
    *,
    operator: str,
    category: str | None = None,
    rule: str | None = None,
    incurred: datetime,
    case: str | None = None,
    reference: str = "",
    now: datetime | None = None,
) -> Penalty:
    """Charge a fine to an account: by category, or by the rule whose hit caused it."""
    svc.guard(actor, Role.ADMIN, action="record a penalty", tenant=tenant)
    if category is None and rule is not None:
        category = svc.penalties.category_for(rule)
        if category is None:
            raise EnforcementError("no_category", f"no penalty category covers rule {rule}", "rule")
    if category is None:
        raise EnforcementError("missing_field", "give the category or the rule", "category")
    item = svc.penalties.find(operator, category, incurred.date())
    if item is None:
        known = sorted({f"{i.operator}/{i.category}" for i in svc.penalties.items})
        raise EnforcementError(
            "unknown_penalty",
            f"no {operator}/{category} fee in force on {incurred.date()} (known: {', '.join(known)})",
            "category",
        )
    if case is not None and svc.store.get(Case, tenant, case) is None:
        raise NotFound("case", case)
    when = svc.now(now)
    penalty = Penalty(
        tenant=tenant,
        id=new_id("pen"),
        created=when,
        updated=when,
        operator=operator,
        category=category,
        amount=item.amount,
        currency=svc.penalties.currency,
        incurred=incurred,
        case=case,
        reference=reference,
        by=actor.id,
    )
    svc.store.put(
        [penalty],
        [
            svc.draft(
                actor,
                tenant,
                "penalty.recorded",
                penalty.id,
                {
                    "operator": operator,
                    "category": category,
                    "amount": item.amount,
                    "currency": penalty.currency,
                    "case": case,
                    "clause": "P30",
                },
            )
        ],
    )
    return penalty


def monthly_report(
    svc: Enforcement, actor: Actor, tenant: str, month: str | None = None
) -> dict[str, dict[str, int]]:
    """Totals per month (``YYYY-MM``) and category for one account."""
    svc.guard(actor, *STAFF, Role.TENANT_ADMIN, action="see penalties", tenant=tenant)
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for penalty in svc.store.find(Penalty, tenant, key=month):
        key = penalty.incurred.strftime("%Y-%m")
        totals[key][penalty.category] += penalty.amount
        totals[key]["total"] += penalty.amount
    return {m: dict(c) for m, c in sorted(totals.items())}
