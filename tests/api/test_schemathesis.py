"""schemathesis against the OpenAPI document, over ASGI: generated requests (valid
and invalid) for every operation, every answer checked against the document
(status codes, content types, headers, response schemas), no 5xx, missing
authentication refused.

The app is built at import (schemathesis parametrizes at collection): all in
memory, the default pack, one tenant key holding every scope."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.openapi import from_asgi

from aupguard.api import build_services, create_app
from aupguard.config import Settings
from tests.api.conftest import OPERATOR

_services = build_services(Settings(database_url="", access_log=False))
_key = _services.keys.issue(OPERATOR, "acme", ["admin", "send", "read"], "schemathesis").secret
_app = create_app(services=_services)

schema = from_asgi("/openapi.json", _app)
schema.config.headers = {"Authorization": f"Bearer {_key}"}


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_document(case: Case[Any]) -> None:
    case.call_and_validate()
