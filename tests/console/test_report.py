"""The public abuse-report form: no sign-in, every missing field named, CSRF, a
honeypot field, and a limit per client address."""

from __future__ import annotations

from aupguard.api.routes.enforcement import enforcement
from aupguard.api.services import Services
from aupguard.console.app import report_limiter
from aupguard.console.ratelimit import RateLimit
from aupguard.enforcement.records import Case, Report
from tests.console.conftest import Browserish, csrf_of

COMPLETE = {
    "url": "https://dhl-track.example/pay",
    "timestamp": "2026-11-20T14:05:00Z",
    "description": "A text said my parcel was held and asked for a fee at this link.",
    "contact": "reporter@example.org",
}


def reports(services: Services) -> list[Report]:
    return services.component(enforcement).store.find_any(Report)


def test_the_form_needs_no_sign_in_and_names_every_missing_field(
    services: Services, client: Browserish
) -> None:
    page = client.get("/console/report")
    assert page.status_code == 200
    assert 'name="website"' in page.text  # the honeypot
    missing = client.post(
        "/console/report", data={"csrf": csrf_of(page.text), "description": "short"}
    )
    assert missing.status_code == 422
    for field in ("url|number|workspace", "timestamp", "contact", "description"):
        assert f"<strong>{field}</strong>" in missing.text
    assert reports(services) == []
    done = client.post("/console/report", data={"csrf": csrf_of(missing.text), **COMPLETE})
    assert done.status_code == 200
    assert "your report was received" in done.text
    (report,) = reports(services)
    assert report.id in done.text
    assert report.reported == "https://dhl-track.example/pay"
    (case,) = services.component(enforcement).store.find_any(Case)
    assert case.type == "abuse_report" and report.id in case.reports


def test_a_report_without_csrf_is_refused(services: Services, client: Browserish) -> None:
    client.get("/console/report")
    assert client.post("/console/report", data=COMPLETE).status_code == 403
    assert reports(services) == []


def test_the_honeypot_files_nothing(services: Services, client: Browserish) -> None:
    page = client.get("/console/report")
    trapped = client.post(
        "/console/report",
        data={"csrf": csrf_of(page.text), **COMPLETE, "website": "http://spam.example"},
    )
    assert trapped.status_code == 200 and "your report was received" in trapped.text
    assert reports(services) == []


def test_reports_are_limited_per_address(services: Services, client: Browserish) -> None:
    now = [0.0]
    services.provide(report_limiter, RateLimit(2, 600.0, clock=lambda: now[0]))
    page = client.get("/console/report")
    token = csrf_of(page.text)
    for _ in range(2):
        ok = client.post("/console/report", data={"csrf": token, **COMPLETE})
        assert ok.status_code == 200
    refused = client.post("/console/report", data={"csrf": token, **COMPLETE})
    assert refused.status_code == 429
    assert "Too many reports" in refused.text
    assert len(reports(services)) == 2
    now[0] += 601
    assert client.post("/console/report", data={"csrf": token, **COMPLETE}).status_code == 200


def test_rate_limit_window_slides() -> None:
    now = [0.0]
    limit = RateLimit(2, 10.0, clock=lambda: now[0])
    assert limit.allow("a") and limit.allow("a") and not limit.allow("a")
    assert limit.allow("b")
    now[0] = 10.5
    assert limit.allow("a")
