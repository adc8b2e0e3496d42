"""The gateway reads consent from the ledger in its own database (no source passed in)."""

from __future__ import annotations

from datetime import UTC, datetime

from aupguard.api.services import Services
from aupguard.consent import ConsentEvent, ConsentKind
from aupguard.consent.model import ConsentMethod
from aupguard.consent.sql import SqlConsentStore
from tests.api.conftest import AsgiClient, Keys

MESSAGE = {"from": "+12025550143", "to": "+14155550123", "body": "see you at 7"}


def test_an_opt_out_in_the_ledger_is_honoured_over_http(
    services: Services, client: AsgiClient, keys: Keys
) -> None:
    assert services.database is not None
    before = client.post("/v1/screen", json=MESSAGE, headers=Keys.header(keys.acme_send))
    assert before.json()["verdict"] == "allow"
    SqlConsentStore(services.database).append(
        [
            ConsentEvent(
                tenant="acme",
                recipient=MESSAGE["to"],
                kind=ConsentKind.OPT_OUT,
                at=datetime(2026, 3, 1, tzinfo=UTC),
                method=ConsentMethod.KEYWORD,
                wording="STOP",
            )
        ]
    )
    after = client.post("/v1/screen", json=MESSAGE, headers=Keys.header(keys.acme_send))
    assert after.json()["verdict"] == "block"
    assert after.json()["code"] == 21610
    other_tenant = client.post("/v1/screen", json=MESSAGE, headers=Keys.header(keys.globex_admin))
    assert other_tenant.json()["verdict"] == "allow"  # acme's ledger is acme's
