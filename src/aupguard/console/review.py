"""The held-message queue: what a reviewer sees of a held message and what they do
with it, authorized on the `Actor`.

- The queue is read a page at a time by keyset over (created_at, id), oldest
  first (never an OFFSET): a page costs the same at the millionth held message.
- A held message shows its body with each evidence span replaced by the redacted
  excerpt the decision stored, the rules and clauses that held it, and the
  sender's recent messages.
- Release queues the message's held outbox entry for delivery (the delivery
  worker sends it like any other); block drops its body and marks it blocked;
  escalate leaves it held. Each action adds the message as evidence to the
  account's open case for the rule family (opening one when there is none,
  through the enforcement service), with a note, and writes an audit entry
  (`review.release`, `review.block`, `review.escalate`) in the same transaction
  as the note.
- A message that is not in the tenant named in the URL is a 404, and the attempt
  is in the audit log (`access.denied`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from aupguard.actors import Actor, Role
from aupguard.enforcement.records import Case, CaseNote
from aupguard.enforcement.service import Enforcement
from aupguard.outbox.model import MessageQuery, MessageRecord
from aupguard.outbox.store import MessageStore

__all__ = [
    "ACTIONS",
    "AlreadyReviewed",
    "HeldItem",
    "ItemNotFound",
    "ReviewQueue",
    "Segment",
    "highlight",
]

QUEUE_ROLES = (Role.REVIEWER, Role.ADMIN)
HISTORY = 20
BULK_LIMIT = 50

ReviewAction = Literal["release", "block", "escalate"]

ACTIONS: Mapping[str, str] = {
    "release": "Release",
    "block": "Block",
    "escalate": "Escalate",
}


class ItemNotFound(LookupError):
    def __init__(self, message_id: str) -> None:
        super().__init__(f"there is no held message {message_id} for this tenant")


class AlreadyReviewed(RuntimeError):
    def __init__(self, message: MessageRecord) -> None:
        super().__init__(f"message {message.id} is {message.status} already")
        self.message = message


@dataclass(frozen=True, slots=True)
class Segment:
    """A piece of a message body: plain text, or an evidence span (shown redacted)."""

    text: str
    evidence: bool = False
    label: str = ""


@dataclass(frozen=True, slots=True)
class HeldItem:
    message: MessageRecord
    body: tuple[Segment, ...]
    """Empty when the body is not kept any more (the message was blocked)."""
    hits: tuple[Mapping[str, Any], ...]
    history: tuple[MessageRecord, ...]
    cases: tuple[Case, ...]


@dataclass(frozen=True, slots=True)
class Outcome:
    message: MessageRecord
    case: Case
    action: ReviewAction


def highlight(body: str, hits: Sequence[Mapping[str, Any]]) -> tuple[Segment, ...]:
    """The body with every evidence span of the hits replaced by its redacted excerpt
    (overlapping spans are merged; the first one's excerpt and label stand)."""
    spans: list[tuple[int, int, str, str]] = []
    for hit in hits:
        for ev in hit.get("evidence", ()):
            start, end = ev.get("start"), ev.get("end")
            if ev.get("field", "body") != "body" or not isinstance(start, int):
                continue
            if not isinstance(end, int) or not 0 <= start < end <= len(body):
                continue
            excerpt = ev.get("excerpt") or "[redacted]"
            spans.append((start, end, str(excerpt), f"{hit.get('rule')}: {ev.get('label', '')}"))
    spans.sort()
    segments: list[Segment] = []
    at = 0
    for start, end, excerpt, label in spans:
        if start < at:  # overlaps the previous span: already covered
            continue
        if start > at:
            segments.append(Segment(body[at:start]))
        segments.append(Segment(excerpt, True, label))
        at = end
    if at < len(body):
        segments.append(Segment(body[at:]))
    return tuple(segments)


def family_of(message: MessageRecord) -> str:
    """The rule family whose case a held message belongs to (its first rule's)."""
    first = message.rules[0] if message.rules else "review"
    return first.split(".", 1)[0]


class ReviewQueue:
    def __init__(
        self,
        store: MessageStore,
        enforcement: Enforcement,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.enforcement = enforcement
        self.clock = clock or enforcement.clock

    def _guard(self, actor: Actor, action: str, tenant: str | None = None) -> None:
        self.enforcement.guard(actor, *QUEUE_ROLES, action=action, tenant=tenant)

    def page(
        self,
        actor: Actor,
        *,
        after: tuple[datetime, str] | None = None,
        tenant: str | None = None,
        rule: str | None = None,
        limit: int = 50,
    ) -> list[MessageRecord]:
        """Held messages, oldest first, strictly after the cursor."""
        self._guard(actor, "open the held-message queue")
        query = MessageQuery(
            tenant=tenant,
            statuses=("held",),
            rule=rule,
            limit=limit,
            after=after,
            oldest_first=True,
        )
        return self.store.find_messages(query)

    def bulk(
        self,
        actor: Actor,
        tenant: str,
        rule: str | None,
        action: ReviewAction,
        note: str = "",
        limit: int = BULK_LIMIT,
    ) -> list[Outcome]:
        """The action on each of the oldest `limit` held messages of a tenant (of one rule
        when given), one by one, each with its case evidence and audit entry; messages
        another reviewer decided meanwhile are skipped."""
        done: list[Outcome] = []
        for message in self.page(actor, tenant=tenant, rule=rule, limit=limit):
            try:
                done.append(self.act(actor, tenant, message.id, action, note))
            except AlreadyReviewed:
                continue
        return done

    def describe_bulk(self, count: int, tenant: str, rule: str | None, action: ReviewAction) -> str:
        which = f"the {count} oldest held message(s) of {tenant}" + (
            f" held by {rule}" if rule else ""
        )
        effect = {
            "release": "are queued for delivery now and will be sent",
            "block": "are never sent; their bodies are deleted",
            "escalate": "stay held",
        }[action]
        return (
            f"{ACTIONS[action]} {which}: they {effect}. Each is added to the account's open "
            "case for its rule family with your note, and each action is written to the "
            "audit log."
        )

    def next(self, actor: Actor, tenant: str | None = None) -> MessageRecord | None:
        found = self.page(actor, tenant=tenant, limit=1)
        return found[0] if found else None

    def _message(self, actor: Actor, tenant: str, message_id: str) -> MessageRecord:
        found = self.store.message(tenant, message_id)
        if found is None:
            # a URL edited to another tenant (or a made-up id): refused, and recorded
            self.enforcement.store.audit.append(
                [
                    self.enforcement.draft(
                        actor,
                        tenant,
                        "access.denied",
                        message_id,
                        {"action": "open a held message", "reason": "not in this tenant"},
                    )
                ]
            )
            raise ItemNotFound(message_id)
        return found

    def item(self, actor: Actor, tenant: str, message_id: str) -> HeldItem:
        self._guard(actor, "review a held message", tenant)
        message = self._message(actor, tenant, message_id)
        entry = self.store.held_entry(tenant, message_id)
        hits: tuple[Mapping[str, Any], ...] = ()
        body: tuple[Segment, ...] = ()
        if entry is not None:
            hits = tuple(entry.payload.get("hits", ()))
            body = highlight(str(entry.payload.get("body", "")), hits)
        history = self.store.find_messages(
            MessageQuery(tenant=tenant, sender=message.sender, limit=HISTORY + 1)
        )
        key = f"hits:{family_of(message)}"
        cases = self.enforcement.store.find(Case, tenant, key=key)
        return HeldItem(
            message=message,
            body=body,
            hits=hits,
            history=tuple(m for m in history if m.id != message.id)[:HISTORY],
            cases=tuple(
                c for c in cases if any(message.id == e.get("message") for e in c.evidence)
            ),
        )

    def describe(self, item: HeldItem, action: ReviewAction) -> str:
        """What the action will do, said before it is done."""
        m = item.message
        family = family_of(m)
        case = "the account's open case for " + family + ".* rules (a new one if none is open)"
        if action == "release":
            return (
                f"Release: message {m.id} from {m.sender} to {m.recipient} is queued for "
                f"delivery now and will be sent. It is added to {case} with your note, "
                "and the release is written to the audit log."
            )
        if action == "block":
            return (
                f"Block: message {m.id} from {m.sender} to {m.recipient} is never sent; "
                f"its body is deleted. It is added to {case} with your note, "
                "and the block is written to the audit log."
            )
        return (
            f"Escalate: message {m.id} stays held. It is added to {case} with your note "
            "for a senior reviewer, and the escalation is written to the audit log."
        )

    def act(
        self,
        actor: Actor,
        tenant: str,
        message_id: str,
        action: ReviewAction,
        note: str = "",
    ) -> Outcome:
        self._guard(actor, f"{action} a held message", tenant)
        message = self._message(actor, tenant, message_id)
        if message.status != "held":
            raise AlreadyReviewed(message)
        item_hits = self.item(actor, tenant, message_id).hits
        now = self.clock()
        if action != "escalate":
            reviewed = self.store.review(tenant, message_id, action, now)
            if reviewed is None:  # another reviewer was quicker
                current = self.store.message(tenant, message_id) or message
                raise AlreadyReviewed(current)
            message = reviewed
        family = family_of(message)
        evidence = {
            "message": message.id,
            "at": message.created_at.isoformat(),
            "sender": message.sender,
            "channel": message.channel,
            "content_sha256": message.body_sha256,
            "rule": message.rules[0] if message.rules else None,
            "severity": next((str(h.get("severity")) for h in item_hits), "medium"),
            "clauses": list(message.clauses),
            "excerpts": [
                ev.get("excerpt")
                for h in item_hits
                for ev in h.get("evidence", ())
                if ev.get("excerpt")
            ][:10],
            "review": action,
            "by": actor.id,
        }
        case, _ = self.enforcement.open_case(
            actor,
            tenant,
            "rule_hits",
            f"hits of {family}.* rules",
            evidence=[evidence],
            dedupe=f"hits:{family}",
            now=now,
        )
        text = f"{action} of held message {message.id}" + (
            f": {note.strip()}" if note.strip() else ""
        )
        updated = case.model_copy(
            update={
                "notes": (*case.notes, CaseNote(at=now, by=actor.id, text=text[:4000])),
                "updated": now,
            }
        )
        self.enforcement.store.put(
            [updated],
            [
                self.enforcement.draft(
                    actor,
                    tenant,
                    f"review.{action}",
                    message.id,
                    {
                        "case": case.id,
                        "rules": list(message.rules),
                        "clauses": list(message.clauses),
                        "status": message.status,
                        "note": note.strip()[:500],
                    },
                )
            ],
        )
        return Outcome(message, updated, action)
