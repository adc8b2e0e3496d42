"""Content signals beyond lexicons: evasion tricks (P7), sender identification in
marketing (W6 P10) and brand impersonation through links (O1 P22 W7)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, RootModel

from aupguard.detectors.urls import URL_GATE, Link, links_of, registrable_domain
from aupguard.engine.context import Context
from aupguard.engine.decision import Evidence
from aupguard.engine.events import OutboundMessage
from aupguard.engine.lexicon import term_pattern
from aupguard.engine.normalise import invisible_count, normalise, skeleton
from aupguard.engine.re2util import compile_pattern, compile_set
from aupguard.engine.registry import ValueType, dataset, detector

__all__ = ["Brand", "BrandIndex", "Brands", "lookalike_of"]

_SENDER_PREFIX = compile_pattern(r"^[\pL\pN][\pL\pN &'.\-]{1,39}:")


def _disguises(ctx: Context) -> dict[str, tuple[str, int, int]]:
    """Lexicon -> (trick, raw start, raw end) for matches that only a disguise explains."""
    lexicons = ctx.pack.lexicons
    plain_hits = set()
    if not invisible_count(ctx.raw):  # with invisible characters, the text view hides them
        plain_hits = {
            lexicons.owner(i)
            for i in ctx.entries
            if (term := lexicons.plain(i)) is not None and term in ctx.text
        }
    found: dict[str, tuple[str, int, int]] = {}
    for name in ctx.lexicons:
        if name in plain_hits or name.startswith("gate:"):
            continue  # the word is there as written: nothing was hidden
        spans, in_skeleton = ctx.spans(name)
        for span in spans:
            if lexicons.plain(span.entry) is None:
                continue
            a, b = ctx.offsets.source_span(span.start, span.end)
            if in_skeleton:
                found[name] = ("lookalike letters", a, b)
            elif invisible_count(ctx.raw[a:b]):
                found[name] = ("invisible characters", a, b)
            else:
                found[name] = ("letters replaced or split", a, b)
            break
    return found


@detector("lexicon.disguised", output=ValueType.LABELS, cost=3)
def disguised(ctx: Context) -> frozenset[str]:
    """Lexicons that matched only through a disguise: lookalikes, invisible characters,
    leetspeak or split letters. Normalisation catches the word; this tells it was hidden."""
    if not ctx.entries:
        return frozenset()
    found = _disguises(ctx)
    for name, (trick, start, end) in found.items():
        ctx.add_evidence(
            "lexicon.disguised",
            Evidence(
                "lexicon.disguised", f"{name}: {trick}", "body", start, end, ctx.raw[start:end]
            ),
        )
    return frozenset(found)


@detector("sender.identified", output=ValueType.BOOL, cost=1)
def sender_identified(ctx: Context) -> bool:
    """The message names its sender: the declared brand appears, or it opens with 'Name:'."""
    event = ctx.event
    brand = event.brand if isinstance(event, OutboundMessage) else None
    if brand:
        name = normalise(brand)
        if name and name in ctx.text:
            return True
    return _SENDER_PREFIX.search(ctx.text) is not None


# --- brands ------------------------------------------------------------------------------------


class Brand(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    names: list[str] = Field(min_length=1)
    domains: list[str] = Field(min_length=1)
    sector: str = "other"
    lookalike: list[str] = []
    """Extra strings a lookalike domain would imitate (besides names and domain labels)."""


class Brands(RootModel[dict[str, Brand]]):
    pass


@dataclass(frozen=True)
class BrandIndex:
    """Brand names compiled into one RE2 set, with each brand's own domains, and the
    strings lookalike domains imitate (exact, and one edit away for longer ones)."""

    keys: tuple[str, ...]
    domains: dict[str, frozenset[str]]
    names: Any
    official: dict[str, str]
    """registrable domain -> brand that owns it"""
    exact: dict[str, str]
    """lookalike string -> brand"""
    near: dict[str, str]
    """one-deletion variants of lookalike strings of 5+ characters -> brand"""
    long: tuple[tuple[str, str], ...]
    """(string, brand) of 6+ characters, for brand names run into other words"""
    seen: dict[str, tuple[str, str] | None] = field(default_factory=dict, compare=False)
    """host -> lookalike verdict, filled as hosts are met (bounded)"""

    def mentioned(self, text: str) -> frozenset[str]:
        found = self.names.Match(text) if text else None
        return frozenset(self.keys[i] for i in found or ())


_GENERIC_LABELS = frozenset(
    {"live", "cash", "office", "apple", "mail", "post", "bank", "pay", "card", "gov", "citi"}
)
"""Domain labels too common to be read as an imitation of the brand that owns them."""


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def _prepare_brands(model: Brands) -> BrandIndex:
    keys: list[str] = []
    patterns: list[str] = []
    domains: dict[str, frozenset[str]] = {}
    official: dict[str, str] = {}
    exact: dict[str, str] = {}
    for key, brand in model.root.items():
        domains[key] = frozenset(registrable_domain(d) or d.lower() for d in brand.domains)
        for domain in domains[key]:
            official.setdefault(domain, key)
        for name in brand.names:
            keys.append(key)
            patterns.append(term_pattern(name, evasion=False))
        imitated = {"".join(c for c in normalise(n) if c.isalnum()) for n in brand.names}
        imitated.update(
            label
            for d in domains[key]
            if len(label := d.split(".", 1)[0].replace("-", "")) >= 4
            and label not in _GENERIC_LABELS
        )
        imitated.update(normalise(x) for x in brand.lookalike)
        for text in imitated:
            if len(text) >= 3:
                exact.setdefault(text, key)
    near: dict[str, str] = {}
    for text, key in exact.items():
        if len(text) >= 5:
            for variant in _deletions(text):
                near.setdefault(variant, key)
    long = tuple(
        sorted(((t, k) for t, k in exact.items() if len(t) >= 6), key=lambda p: -len(p[0]))
    )
    return BrandIndex(tuple(keys), domains, compile_set(patterns), official, exact, near, long)


_DIGIT_LETTERS = str.maketrans("013457@$", "oleastas")


def _unconfuse(token: str) -> str:
    return token.translate(_DIGIT_LETTERS).replace("rn", "m").replace("vv", "w")


def lookalike_of(index: BrandIndex, host: str) -> tuple[str, str] | None:
    """(brand, how) when `host` imitates a brand it does not belong to, else None."""
    return _lookalike(index, host)


def _lookalike(index: BrandIndex, host: str) -> tuple[str, str] | None:
    domain = registrable_domain(host)
    if not domain or domain in index.official:
        return None
    unicode_host = host
    if "xn--" in host:
        try:
            unicode_host = host.encode("ascii").decode("idna")
        except UnicodeError:
            unicode_host = host
    seen = skeleton(normalise(unicode_host))
    disguised = seen != host
    suffix = domain.split(".", 1)[1] if "." in domain else ""
    body = seen[: -len(suffix) - 1] if suffix and seen.endswith("." + suffix) else seen
    tokens: list[str] = []
    for label in body.split("."):
        tokens.extend(t for t in label.split("-") if t)
        if "-" in label:
            tokens.append(label.replace("-", ""))
    for token in tokens:
        plain = _unconfuse(token)
        brand = index.exact.get(plain)
        if brand is not None:
            if plain != token or disguised:
                return brand, "lookalike characters"
            return brand, "brand name in a domain that is not the brand's"
        if len(plain) >= 5:
            brand = next(
                (index.near[v] for v in (plain, *_deletions(plain)) if v in index.near), None
            )
            if brand is not None:
                return brand, "one character away from the brand's name"
        if len(plain) >= 7:
            for text, key in index.long:
                if plain.startswith(text) or plain.endswith(text):
                    return key, "brand name run into another word"
    return None


dataset(
    "brands",
    Brands,
    prepare=_prepare_brands,
    description="Brands often impersonated, with the domains that are really theirs",
)


@detector("brands.mentioned", output=ValueType.LABELS, cost=2)
def brands_mentioned(ctx: Context) -> frozenset[str]:
    """Well-known brands named in the text (from the pack's `brands` dataset)."""
    index: BrandIndex | None = ctx.pack.data.get("brands")
    if index is None:
        return frozenset()
    text = ctx.text if ctx.skeleton is ctx.text else f"{ctx.text}\n{ctx.skeleton}"
    return index.mentioned(text)


@detector("brands.link_mismatch", output=ValueType.LABELS, cost=3, gate=URL_GATE)
def brand_link_mismatch(ctx: Context) -> frozenset[str]:
    """Brands named in the text while every link goes to a domain that is not theirs."""
    links: frozenset[str] = ctx.get("urls.domains")
    if not links:
        return frozenset()
    index: BrandIndex | None = ctx.pack.data.get("brands")
    if index is None:
        return frozenset()
    mismatched = frozenset(
        key for key in ctx.get("brands.mentioned") if links.isdisjoint(index.domains[key])
    )
    if mismatched:
        label = f"{', '.join(sorted(mismatched))} named; links go to {', '.join(sorted(links))}"
        ctx.add_evidence("brands.link_mismatch", Evidence("brands.link_mismatch", label, "body"))
    return mismatched


def _brand_index(ctx: Context) -> BrandIndex | None:
    index: BrandIndex | None = ctx.pack.data.get("brands")
    return index


@detector("urls.lookalike", output=ValueType.LABELS, cost=3, gate=URL_GATE)
def lookalike(ctx: Context) -> frozenset[str]:
    """Brands whose name a link's domain imitates (typo, digit or homoglyph swap, brand
    name inside a domain that is not the brand's), with how it imitates them."""
    index = _brand_index(ctx)
    if index is None:
        return frozenset()
    found: dict[str, tuple[Link, str]] = {}
    for link in links_of(ctx):
        if link.ip_host:
            continue
        hit = _cached_lookalike(index, link.host)
        if hit is not None and hit[0] not in found:
            found[hit[0]] = (link, hit[1])
    for brand, (link, how) in found.items():
        ctx.add_evidence(
            "urls.lookalike",
            Evidence("urls.lookalike", f"{link.domain} imitates {brand}: {how}", "body"),
        )
    return frozenset(found)


def _cached_lookalike(index: BrandIndex, host: str) -> tuple[str, str] | None:
    cache = index.seen
    if host in cache:
        return cache[host]
    value = _lookalike(index, host)
    if len(cache) > 50_000:
        cache.clear()
    cache[host] = value
    return value


@detector("urls.all_official", output=ValueType.BOOL, cost=2, gate=URL_GATE)
def all_official(ctx: Context) -> bool:
    """The message has links and every one goes to a domain a known brand owns."""
    index = _brand_index(ctx)
    links = links_of(ctx)
    if index is None or not links:
        return False
    return all(link.domain in index.official for link in links)


@detector("sender.brand_mismatch", output=ValueType.LABELS, cost=2)
def sender_brand_mismatch(ctx: Context) -> frozenset[str]:
    """Brands the text names while the sender declares another identity (its brand, or an
    alphanumeric sender id) that is not them."""
    event = ctx.event
    if not isinstance(event, OutboundMessage):
        return frozenset()
    declared = event.brand
    if not declared and event.sender_type.value == "alphanumeric":
        declared = event.sender
    if not declared:
        return frozenset()
    index = _brand_index(ctx)
    if index is None:
        return frozenset()
    mentioned: frozenset[str] = ctx.get("brands.mentioned")
    if not mentioned:
        return frozenset()
    own = set(index.mentioned(normalise(declared)))
    compact = _unconfuse("".join(c for c in normalise(declared) if c.isalnum()))
    if compact in index.exact:
        own.add(index.exact[compact])
    mismatched = frozenset(mentioned - own)
    if mismatched:
        ctx.add_evidence(
            "sender.brand_mismatch",
            Evidence(
                "sender.brand_mismatch",
                f"sender {declared!r} names {', '.join(sorted(mismatched))}",
                "",
            ),
        )
    return mismatched
