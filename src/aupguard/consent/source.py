"""`ConsentSource`: the consent and do-not-call state of one outbound event, for the
Screener. It fails closed: when the ledger cannot be read, the message is
blocked citing the consent clauses (an opt-out that is not honoured costs
$500-$1,500 per message under the TCPA).

On SQL stores the reads go through `aupguard.consent.cache.CachedLookup`: one
query of the consent versions per message when the recipient was read before
and nothing changed since, the full reads otherwise."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from aupguard.consent.cache import RecipientLookup, lookup_for
from aupguard.consent.model import ConsentStatus, fold, scopes_for
from aupguard.consent.store import PLATFORM_LIST, ConsentStore, DncStore
from aupguard.engine.events import AnyEvent, CallAttempt, OutboundMessage
from aupguard.engine.state import ConsentState
from aupguard.identity.numbering import e164, region_of

__all__ = ["ConsentSource", "recipient_key"]


def recipient_key(address: str, region: str | None = None) -> str:
    """The form numbers are stored and compared in (recipients, and senders in scopes):
    E.164 when it is a number ("tel:+1 (202) 555-0143" is "+12025550143"; a national
    number is read in `region`), else as given."""
    return e164(address, region) or address.strip()


class ConsentSource:
    name = "consent"
    fail_mode: Literal["open", "closed"] = "closed"
    clauses: tuple[str, ...] = ("P28", "P15")

    def __init__(
        self,
        ledger: ConsentStore,
        dnc: DncStore | None = None,
        *,
        platform_dnc: bool = True,
        lookup: RecipientLookup | None = None,
    ) -> None:
        self.ledger = ledger
        self.dnc = dnc
        self.platform_dnc = platform_dnc
        self.lookup = lookup if lookup is not None else lookup_for(ledger, dnc)

    def read(self, event: AnyEvent, now: datetime) -> dict[str, Any]:
        if isinstance(event, OutboundMessage):
            channel = event.channel.value
            sender = recipient_key(event.sender)
            scopes = scopes_for(sender, event.brand, event.campaign)
        elif isinstance(event, CallAttempt) and event.direction == "outbound":
            channel = "voice"
            sender = recipient_key(event.caller)
            scopes = scopes_for(sender, None, None)
        else:
            return {}
        # a national number is read in the sender's country
        region = region_of(sender) if sender.startswith("+") else None
        recipient = recipient_key(event.to, region)
        lists = (event.account, PLATFORM_LIST) if self.platform_dnc else (event.account,)
        history, listed = self.lookup.lookup(event.account, recipient, lists)
        view = fold(history, now, scopes, channel)
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
