"""The policy page (rules with hits per day, clause coverage) and the account page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aupguard.actors import Actor, Role
from aupguard.api.routes.enforcement import enforcement
from aupguard.api.services import Services
from aupguard.console import Accounts
from aupguard.console.app import hit_chart, shadow_results
from aupguard.console.insight import DAYS, HitChart, ShadowResults, bars
from aupguard.outbox.model import Accept, DecisionRecord
from tests.console.conftest import Browserish, Clock, make_user, sign_in
from tests.console.test_review import THREAT, held_store, send


def decision(at: datetime, *rules: str) -> Accept:
    return Accept(
        "acme", DecisionRecord(id=f"DC{at.timestamp()}{rules}", tenant="acme", at=at,
                               kind="message", verdict="hold", rules=rules),
    )  # fmt: skip


def test_hit_chart_counts_per_day_and_rule(services: Services) -> None:
    store = held_store(services)
    now = datetime(2026, 6, 14, 12, tzinfo=UTC)
    store.accept(
        [
            decision(now, "content.threat"),
            decision(now - timedelta(hours=1), "content.threat", "spam.promo"),
            decision(now - timedelta(days=3), "content.threat"),
            decision(now - timedelta(days=DAYS + 1), "content.threat"),  # too old
        ],
        now,
    )
    chart = HitChart(store, lambda: now, ttl=0)
    today, counts = chart.counts()
    assert today == now.date()
    assert counts["content.threat"][-1] == 2
    assert counts["content.threat"][-4] == 1
    assert sum(counts["content.threat"]) == 3
    assert counts["spam.promo"][-1] == 1


def test_bars_scale_to_the_highest_day() -> None:
    drawn = bars((0, 2, 4), width=8, height=24)
    assert [b["h"] for b in drawn] == [0, 12, 24]
    assert [b["x"] for b in drawn] == [0, 10, 20]


def test_policy_page_shows_rules_hits_and_coverage(
    services: Services, client: Browserish, accounts: Accounts, clock: Clock
) -> None:
    send(services, "acme", THREAT)
    services.provide(hit_chart, HitChart(held_store(services), lambda: datetime.now(UTC), ttl=0))
    sign_in(client, make_user(accounts, "rita", None, "reviewer"), clock)
    page = client.get("/console/policy")
    assert page.status_code == 200
    rules = page.text.split('id="rules"')[1].split("</table>")[0]
    first_row = rules.split("<tr>")[2]
    assert "content.threat" in first_row  # the rule with hits comes first
    assert "<svg" in first_row and "<rect" in first_row
    assert 'id="coverage"' in page.text and "W3" in page.text


SHADOWED = "Amazon deals this week at dealsite.shop"  # impersonation.brand_link_any (shadow)


def test_policy_page_shows_what_shadow_rules_would_change(
    services: Services, client: Browserish, accounts: Accounts, clock: Clock
) -> None:
    allowed = send(services, "acme", SHADOWED)  # allowed: the shadow rule would hold it
    blocked = send(services, "globex", SHADOWED + " " + THREAT)  # held already: no change
    store = held_store(services)
    record = next(d for d in store.decision_log if d.message_id == allowed)
    assert record.verdict == "allow"
    assert record.shadow == record.shadow_changes == ("impersonation.brand_link_any",)
    other = next(d for d in store.decision_log if d.message_id == blocked)
    assert other.verdict == "hold" and other.shadow and not other.shadow_changes
    services.provide(shadow_results, ShadowResults(store, lambda: datetime.now(UTC), ttl=0))
    sign_in(client, make_user(accounts, "rita", None, "reviewer"), clock)
    page = client.get("/console/policy")
    assert page.status_code == 200
    table = page.text.split('id="shadow"')[1].split("</table>")[0]
    row = next(r for r in table.split("<tr>") if "impersonation.brand_link_any" in r)
    cells = [c.split("</td>")[0] for c in row.split("<td")[1:]]
    assert cells[3].strip(">") == "2"  # fired on both
    assert cells[4].split(">", 1)[1].startswith("1 (50 %)")  # would have changed one
    assert f'href="/console/queue/acme/{allowed}"' in row
    assert blocked not in row
    # the example opens where a reviewer sees the message
    assert client.get(f"/console/queue/acme/{allowed}").status_code == 200


def test_shadow_examples_are_not_links_for_legal(
    services: Services, client: Browserish, accounts: Accounts, clock: Clock
) -> None:
    allowed = send(services, "acme", SHADOWED)
    services.provide(
        shadow_results, ShadowResults(held_store(services), lambda: datetime.now(UTC), ttl=0)
    )
    sign_in(client, make_user(accounts, "lena", None, "legal"), clock)
    page = client.get("/console/policy")
    assert page.status_code == 200
    assert f"<code>{allowed}</code>" in page.text and "/console/queue/" not in page.text


def test_account_page(
    services: Services, client: Browserish, accounts: Accounts, clock: Clock
) -> None:
    svc = services.component(enforcement)
    reviewer = Actor(id="user:rita", roles=frozenset({Role.REVIEWER}))
    svc.act(reviewer, "acme", "throttle", "too many complaints")
    sign_in(client, make_user(accounts, "rita", None, "reviewer"), clock)
    empty = client.get("/console/accounts")
    assert empty.status_code == 200 and 'id="standing"' not in empty.text
    page = client.get("/console/accounts?tenant=acme")
    assert "too many complaints" in page.text
    assert "throttle" in page.text
    assert client.get("/console/accounts?tenant=nobody").status_code == 200  # no records yet


def test_tenant_users_have_no_policy_or_account_page(
    services: Services, client: Browserish, accounts: Accounts, clock: Clock
) -> None:
    sign_in(client, make_user(accounts, "tom", "acme", "tenant_admin"), clock)
    assert client.get("/console/policy").status_code == 403
    assert client.get("/console/accounts?tenant=acme").status_code == 403
