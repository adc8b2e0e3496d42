"""Recompute the audit chain and report the first broken link.

A link is broken when an entry's payload no longer matches its digest, its
hash no longer matches its fields, its `prev` is not the hash before it, or
its seq is out of order. Checkpoints are checked against the chain (the hash
at their seq) and, given the public key, their signature. The head the log
records must be the last entry (a removed tail is caught there, and by a
checkpoint past the end).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from aupguard.audit.chain import GENESIS, Link, entry_hash
from aupguard.audit.keys import verify_signature
from aupguard.audit.log import AuditLog, Checkpoint, checkpoint_message

__all__ = ["Broken", "VerifyResult", "verify_chain", "verify_log"]


@dataclass(frozen=True, slots=True)
class Broken:
    seq: int
    reason: str


@dataclass(slots=True)
class VerifyResult:
    entries: int = 0
    checkpoints: int = 0
    signatures_checked: int = 0
    broken: Broken | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.broken is None


def verify_chain(
    links: Iterable[Link],
    checkpoints: Iterable[Checkpoint] = (),
    public_key: Ed25519PublicKey | None = None,
    head: tuple[int, str] | None = None,
) -> VerifyResult:
    result = VerifyResult()
    points = {c.seq: c for c in checkpoints}
    result.checkpoints = len(points)
    prev = GENESIS
    expected_seq = 1
    for link in links:
        broken = _check(link, expected_seq, prev)
        if broken is None:
            point = points.get(link[0])
            if point is not None:
                broken = _check_point(point, link, public_key, result)
        if broken is not None:
            result.broken = broken
            return result
        prev = link[9]
        expected_seq += 1
        result.entries += 1
    last = expected_seq - 1
    beyond = [seq for seq in points if seq > last]
    if beyond:
        result.broken = Broken(
            last + 1, f"a checkpoint at seq {min(beyond)} is past the end: entries were removed"
        )
    elif head is not None and head != (last, prev):
        result.broken = Broken(
            last + 1 if head[0] > last else head[0],
            f"the recorded head is seq {head[0]}, the chain ends at seq {last}",
        )
    if public_key is None and points:
        result.notes.append("checkpoint signatures not checked (no public key given)")
    return result


def _check(link: Link, expected_seq: int, prev: str) -> Broken | None:
    seq, at, tenant, actor, kind, subject, payload, digest, link_prev, hash_ = link
    if seq != expected_seq:
        return Broken(expected_seq, f"entry {expected_seq} is missing (next is {seq})")
    if hashlib.sha256(payload.encode()).hexdigest() != digest:
        return Broken(seq, "payload does not match its digest")
    if link_prev != prev:
        return Broken(seq, "prev does not match the hash of the entry before")
    if entry_hash(prev, seq, at, tenant, actor, kind, subject, digest) != hash_:
        return Broken(seq, "hash does not match the entry's fields")
    return None


def _check_point(
    point: Checkpoint,
    link: Link,
    public_key: Ed25519PublicKey | None,
    result: VerifyResult,
) -> Broken | None:
    seq = link[0]
    if point.hash != link[9]:
        return Broken(seq, "the signed checkpoint names another hash for this entry")
    if public_key is not None:
        if not verify_signature(
            public_key, point.signature, checkpoint_message(point.seq, point.hash)
        ):
            return Broken(seq, "the checkpoint's signature does not verify")
        result.signatures_checked += 1
    return None


def verify_log(log: AuditLog, public_key: Ed25519PublicKey | None = None) -> VerifyResult:
    return verify_chain(log.links(), log.checkpoints(), public_key, log.head())
