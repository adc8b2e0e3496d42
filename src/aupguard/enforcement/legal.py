"""The legal-request register (W12 V10): requests from authorities with their basis,
scope and deadline; disclosures with a manifest of SHA-256 hashes, who made them
and when; emergency disclosures. Only staff with the legal role act here.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

from aupguard.actors import Actor, Role
from aupguard.audit.chain import canonical
from aupguard.enforcement.records import Disclosure, LegalRequest, new_id
from aupguard.enforcement.service import Enforcement, EnforcementError, NotFound

__all__ = ["disclose", "legal_requests", "overdue_requests", "register_request"]


def register_request(
    svc: Enforcement,
    actor: Actor,
    tenant: str,
    *,
    authority: str,
    basis: str,
    scope: str,
    deadline: datetime,
    emergency: bool = False,
    now: datetime | None = None,
) -> LegalRequest:
    svc.guard(actor, Role.LEGAL, action="register a legal request", tenant=tenant)
    for name, value in (("authority", authority), ("basis", basis), ("scope", scope)):
        if not value.strip():
            raise EnforcementError("missing_field", f"a legal request needs its {name}", name)
    if deadline.tzinfo is None:
        raise EnforcementError("bad_deadline", "give the deadline with a time zone", "deadline")
    when = svc.now(now)
    request = LegalRequest(
        tenant=tenant,
        id=new_id("legal"),
        created=when,
        updated=when,
        authority=authority,
        basis=basis,
        scope=scope,
        deadline=deadline,
        emergency=emergency,
        received=when,
        by=actor.id,
    )
    svc.store.put(
        [request],
        [
            svc.draft(
                actor,
                tenant,
                "legal.registered",
                request.id,
                {
                    "authority": authority,
                    "basis": basis,
                    "scope": scope,
                    "deadline": deadline.isoformat(),
                    "emergency": emergency,
                },
            )
        ],
    )
    return request


def disclose(
    svc: Enforcement,
    actor: Actor,
    tenant: str,
    request_id: str,
    files: list[Path],
    now: datetime | None = None,
) -> LegalRequest:
    """Record a disclosure: each file's name, size and SHA-256, and a hash of the manifest."""
    svc.guard(
        actor, Role.LEGAL, action="disclose to an authority", tenant=tenant, subject=request_id
    )
    request = svc.store.get(LegalRequest, tenant, request_id)
    if request is None:
        raise NotFound("legal request", request_id)
    if not files:
        raise EnforcementError("missing_field", "name the files disclosed", "files")
    manifest = []
    for path in files:
        if not path.is_file():
            raise EnforcementError("missing_file", f"{path}: no such file", "files")
        data = path.read_bytes()
        manifest.append(
            {"name": path.name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        )
    when = svc.now(now)
    bundle = hashlib.sha256(canonical({"request": request_id, "manifest": manifest})).hexdigest()
    disclosure = Disclosure(at=when, by=actor.id, manifest=tuple(manifest), bundle_sha256=bundle)
    updated = request.model_copy(
        update={
            "status": "disclosed",
            "disclosures": (*request.disclosures, disclosure),
            "updated": when,
        }
    )
    svc.store.put(
        [updated],
        [
            svc.draft(
                actor,
                tenant,
                "legal.disclosed",
                request_id,
                {"manifest": manifest, "bundle_sha256": bundle, "emergency": request.emergency},
            )
        ],
    )
    return updated


def legal_requests(svc: Enforcement, actor: Actor, tenant: str) -> list[LegalRequest]:
    svc.guard(actor, Role.LEGAL, action="list legal requests", tenant=tenant)
    return svc.store.find(LegalRequest, tenant)


def overdue_requests(
    svc: Enforcement, actor: Actor, now: datetime | None = None
) -> list[LegalRequest]:
    svc.guard(actor, Role.LEGAL, action="list overdue legal requests")
    return svc.store.find_any(LegalRequest, due_before=svc.now(now))
