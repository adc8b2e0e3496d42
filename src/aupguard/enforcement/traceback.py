"""Traceback export (P29): given a number, a time range or a message id, the
originating account, sender, API key, source address, upstream and decisions,
as a JSON bundle signed with the platform's Ed25519 key (or CSV rows).

What can be traced is what was recorded: the decisions the send path handed
to enforcement (every rule hit worth a case). Traffic that passed without any
hit is not kept by aupguard (the message store of the gateway is where it
lives).
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from aupguard.actors import Actor, Role
from aupguard.audit.chain import PLATFORM, canonical
from aupguard.enforcement.records import Candidate
from aupguard.enforcement.service import Enforcement, EnforcementError

__all__ = ["FIELDS", "traceback_bundle", "traceback_csv"]

FIELDS = (
    "event",
    "at",
    "account",
    "sender",
    "recipient",
    "channel",
    "api_key",
    "source_ip",
    "upstream",
    "verdict",
    "rules",
    "pack_version",
)


def _row(c: Candidate) -> dict[str, Any]:
    return {
        "event": c.event,
        "at": c.at.isoformat(),
        "account": c.tenant,
        "sender": c.sender,
        "recipient": c.recipient,
        "channel": c.channel,
        "api_key": c.api_key,
        "source_ip": c.source_ip,
        "upstream": c.upstream,
        "verdict": c.verdict,
        "rules": [r for r, _, _ in c.rules],
        "pack_version": c.pack_version,
    }


def traceback_bundle(
    svc: Enforcement,
    actor: Actor,
    *,
    number: str | None = None,
    event: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    request: str = "",
    now: datetime | None = None,
) -> dict[str, Any]:
    svc.guard(actor, Role.LEGAL, Role.ADMIN, Role.REVIEWER, action="export a traceback")
    if number is None and event is None and start is None:
        raise EnforcementError(
            "missing_field", "give a number, a message id or a time range", "number"
        )
    rows = []
    for c in svc.store.find_any(Candidate):
        if number is not None and number not in (c.sender, c.recipient):
            continue
        if event is not None and c.event != event:
            continue
        if start is not None and c.at < start:
            continue
        if end is not None and c.at > end:
            continue
        rows.append(_row(c))
    when = svc.now(now)
    body = {
        "request": request,
        "query": {
            "number": number,
            "event": event,
            "start": start.isoformat() if start else None,
            "end": end.isoformat() if end else None,
        },
        "generated": when.isoformat(),
        "records": rows,
    }
    signature = svc.signer.sign(canonical(body)) if svc.signer else None
    bundle = {
        **body,
        "signature": signature,
        "key_id": svc.signer.key_id if svc.signer else None,
        "public_key": svc.signer.public_key if svc.signer else None,
    }
    svc.store.audit.append(
        [
            svc.draft(
                actor,
                PLATFORM,
                "traceback.exported",
                request or "traceback",
                {"query": body["query"], "records": len(rows), "signed": signature is not None},
            )
        ]
    )
    return bundle


def traceback_csv(bundle: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(FIELDS))
    writer.writeheader()
    for row in bundle["records"]:
        writer.writerow({**row, "rules": " ".join(row["rules"])})
    return out.getvalue()
