"""The console over HTTP, as a browser uses it: sign-in, sessions, CSRF, pages, roles."""

from __future__ import annotations

import html
from dataclasses import replace
from datetime import timedelta

import httpx
import pyotp
import pytest
from markupsafe import escape
from structlog.testing import capture_logs

from aupguard import Engine
from aupguard.actors import Actor, Role
from aupguard.api.routes.enforcement import enforcement
from aupguard.api.services import Services, build_services
from aupguard.config import Settings
from aupguard.console import Accounts, Sessions
from aupguard.console.app import COOKIE, console_accounts
from aupguard.enforcement.incidents import incidents
from aupguard.enforcement.records import OutboxMessage
from tests.console.conftest import (
    ADMIN,
    PASSWORD,
    Browserish,
    Clock,
    csrf_of,
    make_user,
    sign_in,
)

XSS_SCRIPT = "<script>alert('pwned')</script> win a free prize"
XSS_ATTRIBUTE = '"onmouseover="alert(1)" x="'
NUMBERS = {"sender": "+12025550143", "to": "+14155550123"}


def test_signed_out_pages_lead_to_the_sign_in(client: Browserish) -> None:
    for path in ("/console/", "/console/test-message", "/console/users", "/console/members"):
        answer = client.get(path)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/console/sign-in"


def test_sign_in_with_password_and_totp(
    client: Browserish, accounts: Accounts, clock: Clock
) -> None:
    person = make_user(accounts, "rita", None, "reviewer")
    sign_in(client, person, clock)
    home = client.get("/console/")
    assert home.status_code == 200
    assert "Welcome, rita" in home.text
    assert "Test a message" in home.text
    assert "Membership review" not in home.text  # admin only
    assert '/console/queue">Queue</a></li>' in home.text  # a reviewer's page
    stored = accounts.users.find(None, person.user.id)
    assert stored is not None
    assert stored.last_sign_in_at == clock.now


def test_cookie_flags_and_security_headers(client: Browserish) -> None:
    page = client.get("/console/sign-in")
    cookie = page.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"secure", "httponly", "samesite=strict", "path=/"} <= flags
    assert not any(f.startswith("domain") for f in flags)
    assert "script-src" not in page.headers["content-security-policy"]
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"


def test_the_session_id_changes_at_every_sign_in_step(
    client: Browserish, accounts: Accounts, clock: Clock, sessions: Sessions
) -> None:
    """Session fixation: an id known before sign-in is worthless after it."""
    person = make_user(accounts, "rita", None, "reviewer")
    page = client.get("/console/sign-in")
    planted = client.cookies[COOKIE]
    answer = client.post(
        "/console/sign-in",
        data={"csrf": csrf_of(page.text), "name": "rita", "password": PASSWORD},
    )
    after_password = client.cookies[COOKIE]
    assert after_password != planted
    assert sessions.load(planted) is None
    step = client.get(answer.headers["location"])
    clock.advance(seconds=30)
    client.post(
        "/console/second-factor",
        data={"csrf": csrf_of(step.text), "code": person.totp.at(clock.now)},
    )
    signed_in = client.cookies[COOKIE]
    assert signed_in not in (planted, after_password)
    assert sessions.load(after_password) is None
    # an attacker holding the planted id gets nothing
    client.cookies.clear()
    assert client.get("/console/", headers={"cookie": f"{COOKIE}={planted}"}).status_code == 303
    assert client.get("/console/", headers={"cookie": f"{COOKIE}={signed_in}"}).status_code == 200


def test_session_ids_are_stored_only_as_digests(
    client: Browserish, accounts: Accounts, clock: Clock, sessions: Sessions
) -> None:
    person = make_user(accounts, "rita", None, "reviewer")
    sign_in(client, person, clock)
    raw = client.cookies[COOKIE]
    loaded = sessions.load(raw)
    assert loaded is not None
    assert raw not in loaded.record.digest
    assert len(raw) >= 40


def test_missing_or_wrong_csrf_is_refused(
    client: Browserish, accounts: Accounts, clock: Clock
) -> None:
    person = make_user(accounts, "rita", None, "reviewer")
    page = client.get("/console/sign-in")
    missing = client.post("/console/sign-in", data={"name": "rita", "password": PASSWORD})
    assert missing.status_code == 403
    assert "CSRF" in missing.text
    wrong = client.post(
        "/console/sign-in", data={"csrf": "0" * 64, "name": "rita", "password": PASSWORD}
    )
    assert wrong.status_code == 403
    sign_in(client, person, clock)
    home = client.get("/console/test-message")
    assert client.post("/console/test-message", data={"body": "hi"}).status_code == 403
    assert (
        client.post("/console/test-message", data={"csrf": csrf_of(page.text), "body": "hi"})
    ).status_code == 403  # the token of an earlier session
    assert (
        client.post(
            "/console/test-message", data={"csrf": csrf_of(home.text), "body": "hi", **NUMBERS}
        )
    ).status_code == 200
    assert client.post("/console/sign-out", data={}).status_code == 403
    assert client.get("/console/").status_code == 200  # still signed in


def test_wrong_password_and_lockout(client: Browserish, accounts: Accounts, clock: Clock) -> None:
    make_user(accounts, "rita", None, "reviewer")
    page = client.get("/console/sign-in")
    token = csrf_of(page.text)
    for _ in range(4):
        answer = client.post(
            "/console/sign-in", data={"csrf": token, "name": "rita", "password": "not it at all"}
        )
        assert answer.status_code == 401
        assert "wrong" in answer.text
    locked = client.post(
        "/console/sign-in", data={"csrf": token, "name": "rita", "password": "not it at all"}
    )
    assert locked.status_code == 429
    right = client.post(
        "/console/sign-in", data={"csrf": token, "name": "rita", "password": PASSWORD}
    )
    assert right.status_code == 429
    assert "locked" in right.text
    clock.advance(minutes=2)
    page = client.get("/console/sign-in")
    later = client.post(
        "/console/sign-in", data={"csrf": csrf_of(page.text), "name": "rita", "password": PASSWORD}
    )
    assert later.status_code == 303


def test_first_sign_in_enrols_totp_and_shows_recovery_codes(
    client: Browserish, accounts: Accounts, clock: Clock
) -> None:
    made = accounts.create(ADMIN, "newbie", "acme", ["tenant_admin"], PASSWORD)
    page = client.get("/console/sign-in")
    answer = client.post(
        "/console/sign-in",
        data={"csrf": csrf_of(page.text), "name": "newbie", "password": PASSWORD},
    )
    assert answer.headers["location"] == "/console/enrol"
    enrol = client.get("/console/enrol")
    assert made.user.totp_secret in enrol.text
    assert html.escape(made.otpauth_uri) in enrol.text
    assert '<svg width="' in enrol.text.split('id="qr"')[1]  # the QR code of the link
    wrong = client.post("/console/enrol", data={"csrf": csrf_of(enrol.text), "code": "000000"})
    assert wrong.status_code == 401
    codes_page = client.post(
        "/console/enrol",
        data={
            "csrf": csrf_of(enrol.text),
            "code": pyotp.TOTP(made.user.totp_secret).at(clock.now),
        },
    )
    assert codes_page.status_code == 200
    assert codes_page.text.count("<li>") == 10
    assert client.get("/console/").status_code == 200
    # sign out, then in again with a recovery code
    code = codes_page.text.split("<li>")[1].split("</li>")[0]
    home = client.get("/console/")
    out = client.post("/console/sign-out", data={"csrf": csrf_of(home.text)})
    assert out.status_code == 303
    assert client.get("/console/").status_code == 303
    page = client.get("/console/sign-in")
    client.post(
        "/console/sign-in",
        data={"csrf": csrf_of(page.text), "name": "newbie", "password": PASSWORD},
    )
    recovery = client.get("/console/recovery")
    used = client.post("/console/recovery", data={"csrf": csrf_of(recovery.text), "code": code})
    assert used.status_code == 303
    assert client.get("/console/").status_code == 200
    assert accounts.users.recovery_codes_left("acme", made.user.id) == 9


def test_the_second_factor_step_cannot_be_skipped(client: Browserish, accounts: Accounts) -> None:
    make_user(accounts, "rita", None, "reviewer")
    page = client.get("/console/sign-in")
    client.post(
        "/console/sign-in", data={"csrf": csrf_of(page.text), "name": "rita", "password": PASSWORD}
    )
    assert client.get("/console/").status_code == 303
    assert client.get("/console/test-message").status_code == 303


def test_a_message_body_is_shown_as_text(
    client: Browserish, accounts: Accounts, clock: Clock
) -> None:
    person = make_user(accounts, "rita", None, "reviewer")
    sign_in(client, person, clock)
    for body in (XSS_SCRIPT, XSS_ATTRIBUTE):
        page = client.get("/console/test-message")
        answer = client.post(
            "/console/test-message",
            data={
                "csrf": csrf_of(page.text),
                "body": body,
                "sender": "+12025550143",
                "to": "+14155550123",
            },
        )
        assert answer.status_code == 200
        assert body not in answer.text
        assert str(escape(body)) in answer.text
        assert "<script>" not in answer.text


def test_test_a_message_shows_verdict_rules_clauses_and_redacted_evidence(
    client: Browserish, accounts: Accounts, clock: Clock
) -> None:
    person = make_user(accounts, "tess", "acme", "sender")
    sign_in(client, person, clock)
    page = client.get("/console/test-message")
    phish = "Your parcel is held, pay the fee at hxxp://dhl-track[.]top/pay"
    answer = client.post(
        "/console/test-message",
        data={
            "csrf": csrf_of(page.text),
            "body": phish,
            "sender": "+12025550143",
            "to": "+14155550123",
        },
    )
    assert answer.status_code == 200
    assert 'id="verdict">block<' in answer.text
    assert "V1" in answer.text
    card = "Card 4111 1111 1111 1111 exp 12/29 cvv 123"
    dlp = client.post(
        "/console/test-message",
        data={
            "csrf": csrf_of(page.text),
            "body": card,
            "sender": "+12025550143",
            "to": "+14155550123",
        },
    )
    result = dlp.text.split('id="hits"')[1]
    assert "4111 1111 1111 1111" not in result  # evidence is redacted
    bad = client.post(
        "/console/test-message",
        data={"csrf": csrf_of(page.text), "body": "hi", "sender": "", "to": "+14155550123"},
    )
    assert bad.status_code == 400
    assert "from:" in bad.text


def test_pages_follow_roles(client: Browserish, accounts: Accounts, clock: Clock) -> None:
    person = make_user(accounts, "rita", None, "reviewer")
    sign_in(client, person, clock)
    assert client.get("/console/users").status_code == 403
    assert client.get("/console/members").status_code == 403
    home = client.get("/console/")
    other = make_user(accounts, "olga", None, "admin")
    revoke = client.post(
        f"/console/members/{other.user.id}/revoke", data={"csrf": csrf_of(home.text)}
    )
    assert revoke.status_code == 403
    assert accounts.fresh(None, other.user.id) is not None


def test_admin_manages_users(client: Browserish, accounts: Accounts, clock: Clock) -> None:
    admin = make_user(accounts, "adam", None, "admin")
    rita = make_user(accounts, "rita", None, "reviewer")
    sign_in(client, admin, clock)
    page = client.get("/console/users")
    assert page.status_code == 200
    assert "rita" in page.text
    token = csrf_of(page.text)
    weak = client.post(
        "/console/users",
        data={"csrf": token, "name": "lena", "password": "password123", "roles": "legal"},
    )
    assert weak.status_code == 400
    assert "12 characters" in weak.text
    made = client.post(
        "/console/users",
        data={
            "csrf": token,
            "name": "lena",
            "password": "a long and unusual one",
            "roles": ["legal", "reviewer"],
        },
    )
    assert made.status_code == 303
    assert "note=created" in made.headers["location"]
    lena = accounts.users.by_name("lena")
    assert lena is not None
    assert {r.value for r in lena.roles} == {"legal", "reviewer"}
    roles = client.post(
        f"/console/users/{rita.user.id}/roles", data={"csrf": token, "roles": ["admin"]}
    )
    assert roles.status_code == 303
    after = accounts.users.find(None, rita.user.id)
    assert after is not None
    assert {r.value for r in after.roles} == {"admin"}
    reset = client.post(f"/console/users/{rita.user.id}/reset-2fa", data={"csrf": token})
    assert reset.status_code == 303
    after = accounts.users.find(None, rita.user.id)
    assert after is not None
    assert not after.totp_confirmed
    # tenant users are managed on the tenant's list
    tenant_made = client.post(
        "/console/users",
        data={
            "csrf": token,
            "tenant": "acme",
            "name": "tom",
            "password": "a long and unusual one",
            "roles": "viewer",
        },
    )
    assert tenant_made.status_code == 303
    assert "tenant=acme" in tenant_made.headers["location"]
    listed = client.get("/console/users?tenant=acme")
    assert "tom" in listed.text
    assert "rita" not in listed.text


def test_a_tenant_admin_cannot_reach_another_tenant(
    client: Browserish, accounts: Accounts, clock: Clock, services: Services
) -> None:
    ann = make_user(accounts, "ann", "acme", "tenant_admin")
    gus = make_user(accounts, "gus", "globex", "viewer")
    staff = make_user(accounts, "rita", None, "reviewer")
    sign_in(client, ann, clock)
    page = client.get("/console/users?tenant=globex")  # the parameter is ignored
    assert page.status_code == 200
    assert "gus" not in page.text
    assert "ann" in page.text
    token = csrf_of(page.text)
    edit = client.post(
        f"/console/users/{gus.user.id}/roles",
        data={"csrf": token, "tenant": "globex", "roles": "tenant_admin"},
    )
    assert edit.status_code == 404
    reset = client.post(f"/console/users/{staff.user.id}/reset-2fa", data={"csrf": token})
    assert reset.status_code == 404
    assert client.get("/console/members").status_code == 403
    still = accounts.users.find("globex", gus.user.id)
    assert still == gus.user
    denied = services.component(enforcement).store.audit.entries("acme", kind="access.denied")
    assert [(e.subject, e.payload["status"]) for e in denied] == [
        (f"/console/users/{gus.user.id}/roles", 404),
        (f"/console/users/{staff.user.id}/reset-2fa", 404),
        ("/console/members", 403),
    ]
    assert all(e.actor == "user:ann" for e in denied)


def test_membership_review_and_one_click_revoke(
    client: Browserish, accounts: Accounts, clock: Clock, sessions: Sessions
) -> None:
    olga = make_user(accounts, "olga", None, "reviewer")
    clock.advance(days=100)
    admin = make_user(accounts, "adam", None, "admin")
    sign_in(client, admin, clock)
    page = client.get("/console/members")
    assert page.status_code == 200
    listed = page.text.split('id="inactive"')[1]
    assert "olga" in listed
    assert "adam" not in listed
    assert "100 days" in listed
    revoked = client.post(
        f"/console/members/{olga.user.id}/revoke", data={"csrf": csrf_of(page.text)}
    )
    assert revoked.status_code == 303
    assert accounts.fresh(None, olga.user.id) is None
    after = client.get("/console/members?note=revoked")
    assert "olga" not in after.text
    assert "was revoked" in after.text


def test_sessions_expire_when_idle_and_absolutely(
    client: Browserish, accounts: Accounts, clock: Clock
) -> None:
    person = make_user(accounts, "rita", None, "reviewer")
    sign_in(client, person, clock)
    clock.advance(minutes=29)
    assert client.get("/console/").status_code == 200
    clock.advance(minutes=31)  # idle for more than 30 minutes
    assert client.get("/console/").status_code == 303
    sign_in(client, person, clock)
    for _ in range(25):  # active all along, but 12 hours is the limit
        clock.advance(minutes=29)
        client.get("/console/")
    assert client.get("/console/").status_code == 303


def test_revoking_ends_open_sessions(client: Browserish, accounts: Accounts, clock: Clock) -> None:
    person = make_user(accounts, "rita", None, "reviewer")
    sign_in(client, person, clock)
    assert client.get("/console/").status_code == 200
    accounts.revoke(ADMIN, None, person.user.id)
    assert client.get("/console/").status_code == 303


def test_oversized_and_non_form_posts_are_refused(
    client: Browserish, accounts: Accounts, clock: Clock
) -> None:
    person = make_user(accounts, "rita", None, "reviewer")
    sign_in(client, person, clock)
    page = client.get("/console/test-message")
    big = client.post(
        "/console/test-message", data={"csrf": csrf_of(page.text), "body": "x" * 70_000}
    )
    assert big.status_code == 413
    as_json = client.post("/console/test-message", json={"csrf": csrf_of(page.text)})
    assert as_json.status_code == 415
    clock.advance(seconds=timedelta(minutes=1).total_seconds())
    long_body = client.post(
        "/console/test-message", data={"csrf": csrf_of(page.text), "body": "x" * 10_001}
    )
    assert long_body.status_code == 400


def test_expired_sessions_are_purged(client: Browserish, sessions: Sessions, clock: Clock) -> None:
    first = sessions.start()
    clock.advance(minutes=16)  # past the 15 minutes a session before sign-in lasts
    assert sessions.store.get(first.record.digest) is not None  # not yet purged
    clock.advance(minutes=10)
    second = sessions.start()
    assert sessions.store.get(first.record.digest) is None
    assert sessions.store.get(second.record.digest) is not None


def test_a_lockout_does_not_end_a_signed_in_session(
    client: Browserish, services: Services, accounts: Accounts, clock: Clock
) -> None:
    """Otherwise anyone could sign a user out by failing to sign in as them."""
    person = make_user(accounts, "rita", None, "reviewer")
    sign_in(client, person, clock)
    attacker = Browserish(services)
    page = attacker.get("/console/sign-in")
    for _ in range(6):
        attacker.post(
            "/console/sign-in",
            data={"csrf": csrf_of(page.text), "name": "rita", "password": "guessing wildly"},
        )
    attacker.close()
    assert accounts.fresh(None, person.user.id) is None  # locked for new sign-ins
    assert client.get("/console/").status_code == 200  # the open session goes on


PAGES_BY_ROLE = {
    ("reviewer", None): {"/console/", "/console/test-message", "/console/password"},
    ("legal", None): {"/console/", "/console/test-message", "/console/password"},
    ("admin", None): {
        "/console/",
        "/console/test-message",
        "/console/password",
        "/console/users",
        "/console/members",
    },
    ("tenant_admin", "acme"): {
        "/console/",
        "/console/test-message",
        "/console/password",
        "/console/users",
    },
    ("sender", "acme"): {"/console/", "/console/test-message", "/console/password"},
    ("viewer", "acme"): {"/console/", "/console/test-message", "/console/password"},
}


@pytest.mark.parametrize(("role", "tenant"), list(PAGES_BY_ROLE))
def test_each_role_opens_only_its_pages(
    role: str,
    tenant: str | None,
    client: Browserish,
    accounts: Accounts,
    clock: Clock,
) -> None:
    person = make_user(accounts, f"someone-{role}", tenant, role)
    with capture_logs() as logged:
        sign_in(client, person, clock)
        every = {
            "/console/",
            "/console/test-message",
            "/console/password",
            "/console/users",
            "/console/members",
        }
        allowed = {p for p in every if client.get(p).status_code == 200}
        assert allowed == PAGES_BY_ROLE[(role, tenant)]
        home = client.get("/console/").text
        for path in every - allowed:
            assert f'href="{path}"' not in home  # not offered in the navigation either
            assert client.get(path).status_code == 403
    refused = [e for e in logged if e["event"] == "console_refused"]
    assert {e["path"] for e in refused} == every - allowed
    assert {e["actor"] for e in refused} <= {f"user:someone-{role}"}


def test_changing_the_password(
    client: Browserish, services: Services, accounts: Accounts, clock: Clock
) -> None:
    person = make_user(accounts, "rita", None, "reviewer")
    elsewhere = Browserish(services)
    sign_in(elsewhere, person, clock)
    sign_in(client, person, clock)
    page = client.get("/console/password")
    token = csrf_of(page.text)

    def change(current: str, new: str, confirm: str | None = None) -> httpx.Response:
        return client.post(
            "/console/password",
            data={"csrf": token, "current": current, "new": new, "confirm": confirm or new},
        )

    wrong = change("not my password", "a brand new long secret")
    assert wrong.status_code == 400
    assert "current password is wrong" in wrong.text
    assert "differ" in change(PASSWORD, "a brand new long secret", "something else").text
    assert "most commonly used" in change(PASSWORD, "Password12345").text
    assert "must differ" in change(PASSWORD, PASSWORD).text
    done = change(PASSWORD, "a brand new long secret")
    assert done.status_code == 200
    assert "was changed" in done.text
    assert client.get("/console/").status_code == 200  # this browser goes on
    assert elsewhere.get("/console/").status_code == 303  # the other one is signed out
    elsewhere.close()
    assert accounts.check_password("rita", "a brand new long secret").ok
    assert not accounts.check_password("rita", PASSWORD).ok


def test_no_navigation_before_the_second_factor(client: Browserish, accounts: Accounts) -> None:
    make_user(accounts, "rita", None, "reviewer")
    page = client.get("/console/sign-in")
    client.post(
        "/console/sign-in", data={"csrf": csrf_of(page.text), "name": "rita", "password": PASSWORD}
    )
    step = client.get("/console/second-factor")
    assert step.status_code == 200
    assert "/console/test-message" not in step.text
    assert 'id="sign-out"' in step.text  # leaving is possible


STAFF = Actor("ann", frozenset({Role.REVIEWER}))


def test_an_expired_password_must_be_changed_at_the_next_sign_in(
    client: Browserish, accounts: Accounts, clock: Clock
) -> None:
    person = make_user(accounts, "rita", None, "reviewer")
    clock.advance(days=181)
    sign_in(client, person, clock)
    for path in ("/console/", "/console/test-message", "/console/users"):
        held = client.get(path)
        assert held.status_code == 303
        assert held.headers["location"] == "/console/password"
    page = client.get("/console/password")
    assert page.status_code == 200
    assert "more than 180 days old" in page.text
    assert 'href="/console/test-message"' not in page.text  # no navigation until changed
    token = csrf_of(page.text)
    same = client.post(
        "/console/password",
        data={"csrf": token, "current": PASSWORD, "new": PASSWORD, "confirm": PASSWORD},
    )
    assert same.status_code == 400 and "must differ" in same.text
    new = "blue harbour lantern at dusk"
    done = client.post(
        "/console/password", data={"csrf": token, "current": PASSWORD, "new": new, "confirm": new}
    )
    assert done.status_code == 200 and "was changed" in done.text
    assert client.get("/console/").status_code == 200
    client.post("/console/sign-out", data={"csrf": csrf_of(client.get("/console/").text)})
    sign_in(client, replace(person, password=new), clock)
    assert client.get("/console/").status_code == 200


def test_expiry_is_configured_by_settings(engine: Engine) -> None:
    off = build_services(
        Settings(database_url="", console_password_max_age_days=0, console_password_history=2),
        engine=engine,
    )
    accounts = console_accounts(off)
    assert (accounts.password_max_age, accounts.password_history) == (timedelta(0), 2)
    default = console_accounts(build_services(Settings(database_url=""), engine=engine))
    assert default.password_max_age == timedelta(days=180)


def test_one_account_signed_in_from_two_addresses_is_an_incident(
    services: Services, accounts: Accounts, clock: Clock
) -> None:
    person = make_user(accounts, "ann", "acme", "tenant_admin")
    here = Browserish(services)
    again_here = Browserish(services)
    there = Browserish(services, address="203.0.113.9")
    svc = services.component(enforcement)
    sign_in(here, person, clock)
    sign_in(again_here, person, clock)  # two browsers, one address: not sharing
    assert incidents(svc, STAFF, "acme") == []
    sign_in(there, person, clock)
    (found,) = incidents(svc, STAFF, "acme")
    assert found.users == ("ann",) and found.clauses == ("O2", "S5")
    assert "2 addresses" in found.description
    assert {m.topic for m in svc.store.find(OutboxMessage, "acme")} == {"incident.opened"}
    for browser in (here, again_here, there):
        browser.close()
