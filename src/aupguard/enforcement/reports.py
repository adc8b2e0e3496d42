"""Abuse-report intake (V11): required fields, de-duplication into open cases,
reporter reputation, and the flag on reporters whose reports keep being false.

`file_report` is what the public endpoint and the CLI call. A report names
what is reported (a URL, a number or a workspace id), when it was seen, what
happened, and how to reach the reporter; each missing or bad field is named.
Reports about the same thing while its case is open join that case.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from aupguard.audit.chain import PLATFORM, AuditDraft
from aupguard.enforcement.records import ONE_LINE, Report, Reporter, new_id
from aupguard.enforcement.service import SYSTEM, Enforcement, EnforcementError
from aupguard.engine.events import Timestamp

__all__ = ["ReportInvalid", "ReportRequest", "file_report", "judge_reporter"]


class ReportInvalid(EnforcementError):
    """A report with missing or bad fields; `problems` maps each field to what is wrong."""

    def __init__(self, problems: dict[str, str]) -> None:
        text = "; ".join(f"{field}: {why}" for field, why in problems.items())
        super().__init__(
            "invalid_report", f"the report cannot be accepted: {text}", ",".join(problems)
        )
        self.problems = problems


Url = Annotated[str, StringConstraints(min_length=1, max_length=2048, pattern=ONE_LINE)]
E164 = Annotated[str, StringConstraints(pattern=r"^\+[1-9][0-9]{1,14}$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=ONE_LINE)]


class ReportRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            # at least one of them given, and not null
            "anyOf": [
                {"required": [name], "properties": {name: {"type": "string"}}}
                for name in ("url", "number", "workspace")
            ]
        },
    )

    url: Url | None = None
    number: E164 | None = Field(
        default=None, description="E.164 (spaces, dashes, dots and brackets are dropped first)."
    )
    workspace: Name | None = None
    account: Name | None = None
    """The account reported, when the platform already knows it (else: the workspace, or
    the platform's own queue for a reviewer to attribute)."""
    timestamp: Timestamp
    description: str = Field(min_length=10, max_length=10_000, pattern=r"^[^\x00]*\S[^\x00]*$")
    contact: str = Field(
        min_length=3, max_length=320, pattern=r"^[^\x00-\x1f\x7f]*\S[^\x00-\x1f\x7f]*$"
    )
    reporter_account: Name | None = None

    @field_validator("timestamp")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("give a time zone (e.g. 2026-11-20T14:05:00Z)")
        return value

    @field_validator("number", mode="before")
    @classmethod
    def _number(cls, value: object) -> object:
        if isinstance(value, str):
            return re.sub(r"[\s\-.()]", "", value)
        return value

    def reported(self) -> tuple[str, str]:
        if self.url:
            return "url", self.url.lower()
        if self.number:
            return "number", self.number
        assert self.workspace is not None
        return "workspace", self.workspace


def _problems(data: dict[str, Any]) -> dict[str, str]:
    problems: dict[str, str] = {}
    if not any(data.get(k) for k in ("url", "number", "workspace")):
        problems["url|number|workspace"] = "say what is reported: a URL, a number or a workspace id"
    try:
        ReportRequest.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "report"
            problems.setdefault(field, "required" if err["type"] == "missing" else err["msg"])
    return problems


def file_report(svc: Enforcement, data: dict[str, Any], now: datetime | None = None) -> Report:
    """Accept a public abuse report, or raise ReportInvalid naming every bad field."""
    problems = _problems(data)
    if problems:
        raise ReportInvalid(problems)
    request = ReportRequest.model_validate(data)
    kind, reported = request.reported()
    tenant = request.account or (request.workspace if kind == "workspace" else None) or PLATFORM
    when = svc.now(now)
    reporter_id = reporter_key(request.contact)
    reporter = svc.store.get(Reporter, PLATFORM, reporter_id) or Reporter(
        tenant=PLATFORM, id=reporter_id, created=when, updated=when
    )
    report_id = new_id("rep")
    case, new = svc.open_case(
        SYSTEM,
        tenant,
        "abuse_report",
        f"{kind} {reported}",
        evidence=[
            {"report": report_id, "reported": reported, "seen": request.timestamp.isoformat()}
        ],
        dedupe=f"report:{hashlib.sha256(f'{kind}:{reported}'.encode()).hexdigest()[:40]}",
        reports=[report_id],
        now=when,
    )
    report = Report(
        tenant=tenant,
        id=report_id,
        created=when,
        updated=when,
        reported=reported,
        reported_kind=kind,
        seen_at=request.timestamp,
        description=request.description,
        reporter=request.contact,
        case=case.id,
    )
    counted = reporter.model_copy(
        update={
            "reports": reporter.reports + 1,
            "account": request.reporter_account or reporter.account,
            "updated": when,
        }
    )
    svc.store.put(
        [report, counted],
        [
            AuditDraft(
                tenant,
                f"reporter:{reporter_id}",
                "report.received",
                report_id,
                {"case": case.id, "new_case": new, "reported": f"{kind} {reported}"},
            )
        ],
    )
    return report


def judge_reporter(svc: Enforcement, report: Report, *, confirmed: bool, now: datetime) -> None:
    """Record the outcome of a report on it and on its reporter's reputation; a reporter
    whose rejected reports reach the threshold (and outnumber the confirmed) is flagged."""
    reporter_id = reporter_key(report.reporter)
    reporter = svc.store.get(Reporter, PLATFORM, reporter_id) or Reporter(
        tenant=PLATFORM, id=reporter_id, created=now, updated=now
    )
    if confirmed:
        reporter = reporter.model_copy(update={"confirmed": reporter.confirmed + 1, "updated": now})
    else:
        reporter = reporter.model_copy(update={"rejected": reporter.rejected + 1, "updated": now})
    threshold = svc.ladder.cases.false_report_flag
    newly_flagged = (
        not reporter.flagged
        and reporter.rejected >= threshold
        and reporter.rejected > reporter.confirmed
    )
    drafts = [
        AuditDraft(
            report.tenant,
            SYSTEM.id,
            "report.confirmed" if confirmed else "report.rejected",
            report.id,
            {"case": report.case},
        )
    ]
    if newly_flagged:
        reporter = reporter.model_copy(update={"flagged": True})
        drafts.append(
            AuditDraft(
                PLATFORM,
                SYSTEM.id,
                "reporter.flagged",
                reporter_id,
                {"rejected": reporter.rejected, "confirmed": reporter.confirmed, "clause": "V11"},
            )
        )
    judged = report.model_copy(
        update={"status": "confirmed" if confirmed else "rejected", "updated": now}
    )
    svc.store.put([judged, reporter], drafts)
    if newly_flagged and reporter.account:
        svc.open_case(
            SYSTEM,
            reporter.account,
            "abuse_report",
            f"repeated false abuse reports by {reporter_id} (V11)",
            evidence=[{"reporter": reporter_id, "rejected": reporter.rejected}],
            dedupe="false-reports",
            now=now,
        )


def reporter_key(contact: str) -> str:
    """A reporter's record id: a digest of the contact as given, case-folded (a contact
    may be longer than an id, and is personal data besides)."""
    return hashlib.sha256(contact.strip().lower().encode()).hexdigest()[:40]


def reporter(svc: Enforcement, contact: str) -> Reporter | None:
    return svc.store.get(Reporter, PLATFORM, reporter_key(contact))
