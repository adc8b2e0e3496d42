"""GET /metrics, /readyz with a downstream, and the shutdown of the send path."""

from __future__ import annotations

import asyncio
import re

from prometheus_client.parser import text_string_to_metric_families

from aupguard.api import Services
from aupguard.api.delivery import delivery_settings, gateway_for, stop
from aupguard.outbox.config import DeliverySettings
from tests.api.conftest import AsgiClient, Keys
from tests.api.test_http import PHISH
from tests.api.test_messages import MESSAGE, send
from tests.services import REDIS_URL


def samples(client: AsgiClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_metrics_count_decisions_rules_clauses_latency_and_the_queue(
    client: AsgiClient, keys: Keys
) -> None:
    before = samples(client)
    send(client, keys.acme_send)
    blocked = send(client, keys.acme_send, {**MESSAGE, "body": PHISH})
    assert blocked.status_code == 403
    after = samples(client)

    def grew(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0) - before.get(key, 0)

    assert grew("aupguard_decisions_total", kind="message", verdict="allow") == 1
    assert grew("aupguard_decisions_total", kind="message", verdict="block") == 1
    rules = [k for k in after if k[0] == "aupguard_rule_hits_total" and grew(k[0], **dict(k[1]))]
    clauses = [
        k for k in after if k[0] == "aupguard_clause_hits_total" and grew(k[0], **dict(k[1]))
    ]
    assert rules and clauses
    assert grew("aupguard_request_seconds_count", route="/v1/messages") == 2
    assert after[("aupguard_outbox_pending", ())] == 1


def test_readyz_reports_an_unreachable_downstream(services: Services, client: AsgiClient) -> None:
    services.provide(
        delivery_settings, DeliverySettings(downstream="nats://127.0.0.1:1/aupguard.none")
    )
    r = client.get("/readyz")
    assert r.status_code == 503
    assert re.search(r"downstream: unreachable", r.json()["error"]["message"])


def test_shutdown_commits_what_is_queued(services: Services, keys: Keys) -> None:
    from aupguard.api import create_app

    app = create_app(services=services)
    import httpx

    async def run() -> list[int]:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as c:
            sends = [
                asyncio.create_task(
                    c.post(
                        "/v1/messages",
                        json={**MESSAGE, "from": f"+1202555{i:04d}", "body": f"bye {i}"},
                        headers=keys.header(keys.acme_send),
                    )
                )
                for i in range(20)
            ]
            await asyncio.sleep(0)
            answers = await asyncio.gather(*sends)
            await stop(services)  # what the lifespan does on SIGTERM
            return [a.status_code for a in answers]

    assert asyncio.run(run()) == [202] * 20
    assert services.component(gateway_for).store.pending() == 20


def test_readyz_checks_redis_when_configured(services: Services, client: AsgiClient) -> None:
    services.settings = services.settings.model_copy(update={"redis_url": REDIS_URL})
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["redis"] == "ok"
    services.settings = services.settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    down = client.get("/readyz")
    assert down.status_code == 503
    assert "redis: unreachable" in down.json()["error"]["message"]
