"""The endpoints of the HTTP API, one module per domain.

To add a domain's endpoints: write ``aupguard/api/routes/<domain>.py`` with a
module-level ``router = Router(tag="<domain>")`` and its handlers (see
`aupguard.api.routing`), then add the router to ``ROUTERS`` below (one import,
one list entry; keep the list in the order the OpenAPI document should show).
"""

from __future__ import annotations

from aupguard.api.routes import (
    calls,
    consent,
    dnc,
    enforcement,
    health,
    inbound,
    keys,
    messages,
    screen,
    twilio,
    twilio_inbound,
    upstream,
)
from aupguard.api.routing import Router

ROUTERS: list[Router] = [
    health.router,
    screen.router,
    keys.router,
    messages.router,
    inbound.router,
    consent.router,
    dnc.router,
    calls.router,
    twilio.router,
    twilio_inbound.router,
    upstream.router,
    enforcement.router,
]
