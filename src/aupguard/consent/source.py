"""`ConsentSource`: the consent and do-not-call state of one outbound event, for the
Screener. It fails closed: when the ledger cannot be read, the message is
blocked citing the consent clauses (an opt-out that is not honoured costs
$500-$1,500 per message under the TCPA)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from aupguard.consent.model import ConsentStatus, fold, scopes_for
from aupguard.consent.store import PLATFORM_LIST, ConsentStore, DncStore
from aupguard.engine.events import AnyEvent, CallAttempt, OutboundMessage
from aupguard.engine.state import ConsentState
from aupguard.identity.numbering import e164

__all__ = ["ConsentSource", "recipient_key"]


def recipient_key(address: str) -> str:
    """The form recipients are stored under: E.164 when it is a number, else as given."""
    return e164(address) or address.strip()


class ConsentSource:
    name = "consent"
    fail_mode: Literal["open", "closed"] = "closed"
    clauses: tuple[str, ...] = ("P28", "P15")

    def __init__(
        self, ledger: ConsentStore, dnc: DncStore | None = None, *, platform_dnc: bool = True
    ) -> None:
        self.ledger = ledger
        self.dnc = dnc
        self.platform_dnc = platform_dnc

    def read(self, event: AnyEvent, now: datetime) -> dict[str, Any]:
        if isinstance(event, OutboundMessage):
            channel = event.channel.value
            scopes = scopes_for(event.sender, event.brand, event.campaign)
        elif isinstance(event, CallAttempt) and event.direction == "outbound":
            channel = "voice"
            scopes = scopes_for(event.caller, None, None)
        else:
            return {}
        recipient = recipient_key(event.to)
        view = fold(self.ledger.history(event.account, recipient), now, scopes, channel)
        listed = False
        if self.dnc is not None:
            listed = (
                self.dnc.listed_in((event.account, PLATFORM_LIST), recipient)
                if self.platform_dnc
                else self.dnc.listed(event.account, recipient)
            )
        if view.status is ConsentStatus.UNKNOWN and not listed:
            return {}
        return {
            "consent": ConsentState(
                status=view.status.value,
                since=view.since,
                method=view.method,
                dnc_listed=listed,
                age_verified=view.age_verified,
            )
        }
