"""Content signals beyond lexicons: evasion tricks (P7), sender identification in
marketing (W6 P10) and brand impersonation through links (O1 P22 W7)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, RootModel

from aupguard.detectors.urls import URL_GATE, registrable_domain
from aupguard.engine.context import Context
from aupguard.engine.decision import Evidence
from aupguard.engine.events import OutboundMessage
from aupguard.engine.lexicon import term_pattern
from aupguard.engine.normalise import invisible_count, normalise
from aupguard.engine.re2util import compile_pattern, compile_set
from aupguard.engine.registry import ValueType, dataset, detector

__all__ = ["Brand", "BrandIndex", "Brands"]

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


class Brands(RootModel[dict[str, Brand]]):
    pass


@dataclass(frozen=True)
class BrandIndex:
    """Brand names compiled into one RE2 set, with each brand's own domains."""

    keys: tuple[str, ...]
    domains: dict[str, frozenset[str]]
    names: Any

    def mentioned(self, text: str) -> frozenset[str]:
        found = self.names.Match(text) if text else None
        return frozenset(self.keys[i] for i in found or ())


def _prepare_brands(model: Brands) -> BrandIndex:
    keys: list[str] = []
    patterns: list[str] = []
    domains: dict[str, frozenset[str]] = {}
    for key, brand in model.root.items():
        domains[key] = frozenset(registrable_domain(d) or d.lower() for d in brand.domains)
        for name in brand.names:
            keys.append(key)
            patterns.append(term_pattern(name, evasion=False))
    return BrandIndex(tuple(keys), domains, compile_set(patterns))


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
