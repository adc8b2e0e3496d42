"""The account page's senders and their verification, throughput against limits and
consent statistics, and a sender's own page, over HTTP as a reviewer's browser uses them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from markupsafe import escape

from aupguard.actors import Actor, Role
from aupguard.api.delivery import gateway_for
from aupguard.api.routes.enforcement import enforcement
from aupguard.api.send_path import send_path
from aupguard.api.services import Services
from aupguard.consent.model import ConsentEvent, ConsentKind, ConsentMethod
from aupguard.console import Accounts
from aupguard.console.app import consent_ledger
from aupguard.console.usage import counter_store, sender_registry
from aupguard.engine.events import OutboundMessage, SenderType
from aupguard.identity.registry import EvidenceKind
from aupguard.identity.service import record_evidence, register_sender, start_verification
from aupguard.service.gateway import prepare_send
from aupguard.traffic.counters import CheckResult, CounterStore, CounterUnavailable, Limit
from tests.console.conftest import Browserish, Clock, make_user, sign_in
from tests.console.test_review import HATE_FREE

LONG_CODE = "+12025550143"
TOLL_FREE = "+18005550199"
TEN_DLC = "+12025550177"
WHATSAPP = "+12025550166"


@pytest.fixture
def reviewer(client: Browserish, accounts: Accounts, clock: Clock) -> Browserish:
    sign_in(client, make_user(accounts, "rita", None, "reviewer"), clock)
    return client


def send(services: Services, tenant: str, body: str, sender: str) -> None:
    """A message through the gateway's send path, limits included (POST /v1/messages)."""
    gateway = services.component(gateway_for)
    actor = Actor(id=f"key-{tenant}", roles=frozenset({Role.SENDER}), tenant=tenant)
    event = OutboundMessage.model_validate({"from": sender, "to": "+14155550123", "body": body})
    prepared = prepare_send(gateway, services.component(send_path).screener, actor, event)
    assert prepared.message is not None and prepared.message.status == "queued"


def table(page: str, name: str) -> str:
    return page.split(f'id="{name}"')[1].split("</table>", maxsplit=1)[0]


def row_of(part: str, text: str) -> str:
    return next(r for r in part.split("<tr>") if text in r)


def register(services: Services) -> None:
    registry = services.component(sender_registry)
    now = datetime.now(UTC)
    record_evidence(registry, "acme", LONG_CODE, EvidenceKind.PLATFORM_ASSIGNED, now, by="ops")
    register_sender(registry, "acme", TOLL_FREE, now, kind=SenderType.TOLL_FREE)
    start_verification(registry, "acme", TOLL_FREE, now, channel="call")
    register_sender(
        registry, "acme", TEN_DLC, now, kind=SenderType.TEN_DLC, brand="acme", campaign="C1"
    )
    record_evidence(
        registry, "acme", TEN_DLC, EvidenceKind.BRAND_REGISTRATION, now, reference="TCR B1"
    )
    register_sender(registry, "acme", WHATSAPP, now, kind=SenderType.WHATSAPP_BUSINESS)
    record_evidence(
        registry, "globex", "+12025550188", EvidenceKind.CARRIER_LOA, now, reference="L"
    )


def test_senders_with_their_type_and_verification(services: Services, reviewer: Browserish) -> None:
    register(services)
    page = reviewer.get("/console/accounts?tenant=acme")
    assert page.status_code == 200
    senders = table(page.text, "senders")
    long_code = row_of(senders, LONG_CODE)
    assert "long_code" in long_code and "verified" in long_code
    assert "platform_assigned" in long_code and "<td>A</td>" in long_code
    toll_free = row_of(senders, TOLL_FREE)
    assert "toll_free" in toll_free and "pending (code sent by call)" in toll_free
    ten = row_of(senders, TEN_DLC)
    assert "10dlc" in ten and "brand_registration" in ten and "acme / C1" in ten
    assert "<td>B</td>" in ten  # the customer's registration vouches for the brand only
    assert "+12025550188" not in page.text  # another account's number


def test_throughput_against_the_plans_limits_read_from_the_send_paths_counters(
    services: Services, reviewer: Browserish
) -> None:
    register(services)
    send(services, "acme", HATE_FREE, sender=LONG_CODE)
    send(services, "acme", HATE_FREE, sender=TEN_DLC)
    limits = table(reviewer.get("/console/accounts?tenant=acme").text, "limits")
    quota = row_of(limits, "segments per day")
    assert "the account" in quota and "100000 per day (UTC)" in quota
    assert "2 of 100000 (0 %)" in quota  # two one-segment messages today
    assert "1 per 1 s (burst 1)" in row_of(limits, f"sender {LONG_CODE}")
    assert "3 per 1 s (burst 3)" in row_of(limits, f"sender {TOLL_FREE}")
    assert "2000 per day (America/Los_Angeles)" in row_of(limits, "brand acme")
    assert "4500 per 60 s" not in limits and "75 per 60 s" in row_of(limits, "campaign C1")
    assert "20 at once" in row_of(limits, "concurrent calls")
    assert "0 of 20 (0 %)" in row_of(limits, "concurrent calls")
    assert "250 distinct recipients per 24 h" in row_of(limits, "portfolio portfolio")
    pair = row_of(limits, f"number {WHATSAPP}, per recipient")
    assert "no one figure for the account" in pair and " of " not in pair


def test_an_account_without_senders_shows_the_plans_limits(
    services: Services, reviewer: Browserish
) -> None:
    page = reviewer.get("/console/accounts?tenant=nobody")
    assert "No sender registered" in page.text
    limits = table(page.text, "limits")
    assert "messages per second" in limits and "segments per day" in limits
    assert "sender " not in limits


class Unreachable:
    def check(self, tenant: str, limits: Sequence[Limit]) -> CheckResult:
        raise CounterUnavailable("connection refused")

    def check_many(self, batch: Sequence[tuple[str, Sequence[Limit]]]) -> list[CheckResult]:
        raise CounterUnavailable("connection refused")

    def release(self, tenant: str, limit: Limit) -> None:
        raise CounterUnavailable("connection refused")

    def usage(self, tenant: str, limit: Limit) -> float:
        raise CounterUnavailable("connection refused")


def test_a_counter_store_that_does_not_answer_shows_the_limits_and_says_so(
    services: Services, reviewer: Browserish
) -> None:
    unreachable: CounterStore | None = Unreachable()
    services.provide(counter_store, unreachable)
    limits = table(reviewer.get("/console/accounts?tenant=acme").text, "limits")
    quota = row_of(limits, "segments per day")
    assert "100000 per day" in quota
    assert "did not answer (connection refused)" in quota and " of " not in quota


def test_consent_statistics_of_the_last_30_days(services: Services, reviewer: Browserish) -> None:
    now = datetime.now(UTC)

    def event(recipient: str, kind: ConsentKind, days: float, **kw: object) -> ConsentEvent:
        return ConsentEvent.model_validate(
            {"tenant": "acme", "recipient": recipient, "kind": kind,
             "at": now - timedelta(days=days), **kw}
        )  # fmt: skip

    services.component(consent_ledger).append(
        [
            event("+14155550101", ConsentKind.OPT_IN, 40),
            event("+14155550101", ConsentKind.OPT_OUT, 2, method=ConsentMethod.KEYWORD),
            event("+14155550102", ConsentKind.OPT_IN, 3, method=ConsentMethod.WEB_FORM),
            event("+14155550103", ConsentKind.OPT_OUT, 1, channel="whatsapp"),
            event("+14155550104", ConsentKind.OPT_OUT, 60),  # opted out long ago: still out
            event("+14155550105", ConsentKind.OPT_OUT, 5, tenant="globex"),
        ]
    )
    page = reviewer.get("/console/accounts?tenant=acme").text
    consent = table(page, "consent")
    assert '<td id="opt-ins">1</td>' in consent
    assert '<td id="opt-outs">2</td>' in consent
    assert '<td id="opted-out">3</td>' in consent
    assert "keyword 1" in consent and "whatsapp 1" in consent and "web_form 1" in consent


def test_a_senders_page_and_another_tenants_number_by_url(
    services: Services, reviewer: Browserish
) -> None:
    register(services)
    page = reviewer.get(f"/console/accounts/acme/senders/{quote(TEN_DLC)}")
    assert page.status_code == 200
    assert "TCR B1" in table(page.text, "evidence")
    assert "campaign C1" in table(page.text, "limits")
    assert "segments per day" not in page.text  # the account's own limits stay on its page
    svc = services.component(enforcement)
    before = len(svc.store.audit.recent("acme", kind="access.denied", limit=50))
    other = reviewer.get(f"/console/accounts/acme/senders/{quote('+12025550188')}")
    assert other.status_code == 404
    assert "There is no such sender" in other.text
    denied = svc.store.audit.recent("acme", kind="access.denied", limit=50)
    assert len(denied) == before + 1 and denied[0].subject == "+12025550188"


def test_registration_values_are_escaped(services: Services, reviewer: Browserish) -> None:
    hostile = '<script>alert(1)</script>"onmouseover=x'
    registry = services.component(sender_registry)
    register_sender(
        registry, "acme", TEN_DLC, datetime.now(UTC), kind=SenderType.TEN_DLC, campaign=hostile
    )
    for path in (
        "/console/accounts?tenant=acme",
        f"/console/accounts/acme/senders/{quote(TEN_DLC)}",
    ):
        page = reviewer.get(path)
        assert page.status_code == 200
        assert "<script>alert" not in page.text
        assert str(escape(hostile)) in page.text


def test_tenant_users_have_no_sender_page(
    services: Services, client: Browserish, accounts: Accounts, clock: Clock
) -> None:
    register(services)
    sign_in(client, make_user(accounts, "tom", "acme", "tenant_admin"), clock)
    assert client.get(f"/console/accounts/acme/senders/{quote(LONG_CODE)}").status_code == 403
