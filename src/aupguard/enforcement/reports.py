"""Abuse-report intake (V11): required fields, de-duplication into open cases,
reporter reputation, and the flag on reporters whose reports keep being false.

`file_report` is what the public endpoint and the CLI call. A report names
what is reported (a URL, a number or a workspace id), when it was seen, what
happened, and how to reach the reporter; each missing or bad field is named.
Reports about the same thing while its case is open join that case.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from aupguard.audit.chain import PLATFORM, AuditDraft
from aupguard.enforcement.records import Report, Reporter, new_id
from aupguard.enforcement.service import SYSTEM, Enforcement, EnforcementError

__all__ = ["ReportInvalid", "ReportRequest", "file_report", "judge_reporter"]


class ReportInvalid(EnforcementError):
    """A report with missing or bad fields; `problems` maps each field to what is wrong."""

    def __init__(self, problems: dict[str, str]) -> None:
        text = "; ".join(f"{field}: {why}" for field, why in problems.items())
        super().__init__(
            "invalid_report", f"the report cannot be accepted: {text}", ",".join(problems)
        )
        self.problems = problems


class ReportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    url: str | None = Field(default=None, max_length=2048)
    number: str | None = Field(default=None, max_length=64)
    workspace: str | None = Field(default=None, max_length=128)
    account: str | None = Field(default=None, max_length=128)
    """The account reported, when the platform already knows it (else: the workspace, or
    the platform's own queue for a reviewer to attribute)."""
    timestamp: datetime
    description: str = Field(min_length=10, max_length=10_000)
    contact: str = Field(min_length=3, max_length=320)
    reporter_account: str | None = Field(default=None, max_length=128)

    @field_validator("timestamp")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("give a time zone (e.g. 2026-11-20T14:05:00Z)")
        return value

    @field_validator("number")
    @classmethod
    def _number(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            parsed = phonenumbers.parse(value, None)
        except phonenumbers.NumberParseException as exc:
            raise ValueError("give the number in international form (+...)") from exc
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)

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
            field = ".".join(str(p) for p in err["loc"]) or "report"
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
    reporter_id = request.contact.lower()
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
        dedupe=f"report:{kind}:{reported}",
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
    reporter_id = report.reporter.lower()
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


def reporter(svc: Enforcement, contact: str) -> Reporter | None:
    return svc.store.get(Reporter, PLATFORM, contact.strip().lower())
