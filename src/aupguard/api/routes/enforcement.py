"""Enforcement over HTTP: public abuse reports, appeals, billing events, an account's
cases, security incidents.

- `POST /v1/reports` needs no key (anyone may report abuse); every missing or
  bad field is named in a 422.
- `POST /v1/appeals`: a tenant's admin key appeals a decided case of its own
  account; it reopens for a different reviewer.
- `POST /v1/billing-events`: the billing system (a staff admin key) reports
  trials, invoices, payments and disputes.
- `GET /v1/cases`: a tenant's cases (staff keys name the tenant).
- `POST /v1/incidents`: a tenant's admin key reports a security incident of its
  account (a staff key names the account, or none for a platform-wide one);
  `GET /v1/incidents` and `GET /v1/incidents/{incident_id}`: the account's
  incidents (staff keys: any account's, or all).

The service functions authorize on the key's `Actor`; a refusal is a 403 and
is recorded in the audit log.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from aupguard.api.errors import ApiError
from aupguard.api.routing import Call, QueryParam, Router, created
from aupguard.api.services import Services
from aupguard.audit.chain import PLATFORM
from aupguard.audit.keys import load_signer
from aupguard.audit.log import MemoryAuditLog
from aupguard.audit.sql import SqlAuditLog
from aupguard.enforcement.incidents import (
    NOT_BLANK,
    IncidentReport,
    incident,
    incidents,
    open_incident,
)
from aupguard.enforcement.lifecycle import BillingEvent, billing_event
from aupguard.enforcement.records import ONE_LINE, Case, Incident
from aupguard.enforcement.reports import ReportInvalid, ReportRequest, file_report
from aupguard.enforcement.service import Enforcement, EnforcementError, NotFound
from aupguard.enforcement.sql import SqlRecordStore
from aupguard.enforcement.store import MemoryRecordStore

router = Router(
    tag="enforcement",
    description="Abuse reports, appeals, billing events, cases and security incidents.",
)

_CONFLICTS = frozenset(
    {
        "already_decided",
        "not_appealable",
        "already_reversed",
        "duplicate_invoice",
        "bad_transition",
    }
)


def enforcement(services: Services) -> Enforcement:
    """The enforcement service on the server's database (memory when there is none)."""
    signer = load_signer()
    data = services.engine.pack.data
    if services.database is None:
        svc = Enforcement(MemoryRecordStore(MemoryAuditLog(signer)), data, signer=signer)
    else:
        audit = SqlAuditLog(services.database, signer)
        svc = Enforcement(SqlRecordStore(services.database, audit), data, signer=signer)
    svc.revoke_key = services.keys.revoke_compromised
    return svc


def _refused(exc: EnforcementError) -> ApiError:
    fields = [{"field": exc.field, "code": exc.code, "message": str(exc)}] if exc.field else []
    if isinstance(exc, NotFound):
        return ApiError(404, "not_found", _sentence(str(exc)))
    status = 409 if exc.code in _CONFLICTS else 422
    return ApiError(status, exc.code, _sentence(str(exc)), fields)


def _sentence(text: str) -> str:
    return text[0].upper() + text[1:] + ("" if text.endswith(".") else ".")


class ReportOut(BaseModel):
    report: str
    case: str


def _staff_account(description: str) -> Any:
    """The optional `account` field by which a staff key names the account."""
    return Field(
        default=None, min_length=1, max_length=128, pattern=ONE_LINE, description=description
    )


class AppealIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    case: str = Field(min_length=1, max_length=128, pattern=ONE_LINE)
    reason: str = Field(min_length=1, max_length=4000, pattern=NOT_BLANK)
    account: str | None = _staff_account("Staff keys only: the account.")


class CaseOut(BaseModel):
    id: str
    account: str
    type: str
    status: str
    outcome: str | None
    subject: str
    opened: datetime
    due: datetime
    appeal_reason: str | None


class CaseOne(BaseModel):
    case: CaseOut


class CaseList(BaseModel):
    cases: list[CaseOut]


class BillingIn(BillingEvent):
    model_config = ConfigDict(extra="forbid", frozen=True)
    account: str = Field(min_length=1, max_length=128, pattern=ONE_LINE)


class StandingOut(BaseModel):
    account: str
    status: str


def case_json(case: Case) -> dict[str, Any]:
    return {
        "id": case.id,
        "account": case.tenant,
        "type": case.type,
        "status": case.status,
        "outcome": case.outcome,
        "subject": case.subject,
        "opened": case.opened.isoformat(),
        "due": case.due.isoformat(),
        "appeal_reason": case.appeal_reason,
    }


@router.post(
    "/v1/reports",
    summary="Report abuse",
    auth=False,
    body=ReportRequest,
    responses={201: ReportOut},
)
async def report_abuse(call: Call) -> Any:
    """File an abuse report: a URL, number or workspace id, when it was seen, what
    happened and how to reach the reporter. Reports about the same thing join its open
    case."""
    svc = call.services.component(enforcement)
    data = call.body.model_dump(exclude_none=True)
    try:
        report = await run_in_threadpool(file_report, svc, data)
    except ReportInvalid as exc:
        fields = [
            {"field": f, "code": "invalid", "message": why} for f, why in exc.problems.items()
        ]
        raise ApiError(422, "validation_failed", "The report is missing fields.", fields) from None
    return created({"report": report.id, "case": report.case})


@router.post(
    "/v1/appeals",
    summary="Appeal a decision",
    body=AppealIn,
    responses={200: CaseOne},
    errors=(404, 409),
)
async def appeal(call: Call) -> Any:
    """Appeal a decided case of the key's account (tenant admin scope): it reopens for a
    reviewer who did not decide it."""
    body: AppealIn = call.body
    actor = call.actor
    tenant = actor.tenant if actor.tenant is not None else body.account
    if tenant is None:
        raise ApiError(
            422,
            "validation_failed",
            "A staff key must name the account.",
            [{"field": "account", "code": "missing", "message": "Field required"}],
        )
    svc = call.services.component(enforcement)
    try:
        case = await run_in_threadpool(svc.appeal, actor, tenant, body.case, body.reason)
    except EnforcementError as exc:
        raise _refused(exc) from None
    return {"case": case_json(case)}


@router.post(
    "/v1/billing-events",
    summary="Record a billing event",
    body=BillingIn,
    responses={200: StandingOut},
    errors=(409,),
)
async def record_billing_event(call: Call) -> Any:
    """Trials, invoices, payments and disputes from the billing system (staff admin
    keys); the account's standing follows (trial expiry, past due, suspension,
    termination after notice)."""
    body: BillingIn = call.body
    event = BillingEvent.model_validate(body.model_dump(exclude={"account"}))
    svc = call.services.component(enforcement)
    try:
        standing = await run_in_threadpool(billing_event, svc, call.actor, body.account, event)
    except EnforcementError as exc:
        raise _refused(exc) from None
    return {"account": body.account, "status": standing.status}


@router.get(
    "/v1/cases",
    summary="List an account's cases",
    query={
        "tenant": QueryParam(
            "The account (staff keys only; a tenant key sees its own).",
            pattern=r"^[A-Za-z0-9._:@-]{1,128}$",
            max_length=128,
        )
    },
    responses={200: CaseList},
)
async def list_cases(call: Call) -> Any:
    """The account's cases, with their status, outcome and SLA clock (tenant admin
    scope, or staff)."""
    actor = call.actor
    tenant = actor.tenant or call.query("tenant")
    if tenant is None:
        raise ApiError(
            422,
            "validation_failed",
            "A staff key must name the tenant in the 'tenant' query parameter.",
            [{"field": "tenant", "code": "missing", "message": "Field required"}],
        )
    svc = call.services.component(enforcement)
    cases = await run_in_threadpool(svc.cases, actor, tenant)
    return {"cases": [case_json(c) for c in cases]}


class IncidentIn(IncidentReport):
    account: str | None = _staff_account(
        "Staff keys only: the account (omitted: a platform-wide incident)."
    )


class IncidentOut(BaseModel):
    id: str
    account: str
    kind: str
    severity: str
    status: str
    source: str
    description: str
    reported_by: str
    detected_at: datetime
    reported_at: datetime
    contained_at: datetime | None
    resolved_at: datetime | None
    keys: list[str]
    users: list[str]
    clauses: list[str]
    response: str | None
    held_keys: list[str]
    revoked_keys: list[str]
    notes: list[dict[str, Any]]


class IncidentOne(BaseModel):
    incident: IncidentOut


class IncidentList(BaseModel):
    incidents: list[IncidentOut]


def incident_json(found: Incident) -> dict[str, Any]:
    data = found.model_dump(mode="json", exclude={"tenant", "created", "updated", "dedupe"})
    return {"account": found.tenant, **data}


@router.post(
    "/v1/incidents",
    summary="Report a security incident",
    body=IncidentIn,
    responses={201: IncidentOne},
)
async def report_incident(call: Call) -> Any:
    """Report a security incident of the key's account (tenant admin scope): a compromised
    credential, data exposure, an abuse campaign, an account takeover. The account is
    notified; keys named in a credential compromise are held (or revoked, as the policy
    pack says) until staff contain the incident."""
    body: IncidentIn = call.body
    actor = call.actor
    tenant = actor.tenant if actor.tenant is not None else (body.account or PLATFORM)
    report = IncidentReport.model_validate(body.model_dump(exclude={"account"}))
    svc = call.services.component(enforcement)
    try:
        found = await run_in_threadpool(open_incident, svc, actor, tenant, report)
    except EnforcementError as exc:
        raise _refused(exc) from None
    return created({"incident": incident_json(found)})


@router.get(
    "/v1/incidents",
    summary="List security incidents",
    query={
        "tenant": QueryParam(
            "The account (staff keys only; without it, every account's and the platform's).",
            pattern=r"^[A-Za-z0-9._:@-]{1,128}$",
            max_length=128,
        ),
        "status": QueryParam(
            "open, contained or resolved.", pattern=r"^(open|contained|resolved)$"
        ),
    },
    responses={200: IncidentList},
)
async def list_incidents(call: Call) -> Any:
    """The account's incidents with their status and response (tenant admin scope), or
    staff's view of every account."""
    actor = call.actor
    tenant = actor.tenant or call.query("tenant")
    svc = call.services.component(enforcement)
    found = await run_in_threadpool(incidents, svc, actor, tenant, call.query("status"))
    return {"incidents": [incident_json(i) for i in found]}


@router.get(
    "/v1/incidents/{incident_id}",
    summary="Show a security incident",
    query={
        "tenant": QueryParam(
            "The account (staff keys only; default: the platform).",
            pattern=r"^[A-Za-z0-9._:@-]{1,128}$",
            max_length=128,
        )
    },
    responses={200: IncidentOne},
    errors=(404,),
)
async def show_incident(call: Call) -> Any:
    """One incident with its notes and timestamps."""
    actor = call.actor
    tenant = actor.tenant or call.query("tenant") or PLATFORM
    svc = call.services.component(enforcement)
    try:
        found = await run_in_threadpool(incident, svc, actor, tenant, call.path("incident_id"))
    except EnforcementError as exc:
        raise _refused(exc) from None
    return {"incident": incident_json(found)}
