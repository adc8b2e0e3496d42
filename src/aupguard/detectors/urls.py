"""Links in message text.

Links are found in the normalised text view after undoing the usual
defanging (``hxxp``, ``[.]``, ``(dot)``, ``example dot com``). Hosts are checked
against the public suffix list bundled with tldextract (never downloaded), and
reduced to their registrable domain. A bare ``word.word`` with no scheme, no
``www.`` and no path only counts as a link when its suffix is one links commonly
use, so that prose such as ``ok.so`` is not taken for one.

The URL detectors are gated on anything URL-like, so a message without a dot or
a scheme never pays for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import tldextract

from aupguard.engine.context import Context
from aupguard.engine.decision import Evidence
from aupguard.engine.normalise import OffsetText
from aupguard.engine.re2util import Match, Utf8Text, compile_pattern, find_all, sub
from aupguard.engine.registry import ValueType, detector, explainer

__all__ = ["URL_GATE", "Link", "deobfuscate", "find_links", "registrable_domain"]

URL_GATE = (
    r"https?:|hxxps?:|www\.|[a-z0-9-]\.[a-z]{2,}|[\[\(\{](?:\.|dot)[\]\)\}]|[a-z0-9] dot [a-z]{2,}"
)
_HXXP = compile_pattern(r"h(?:xx|\*\*|__)p(s?):")
_BRACKET_DOT = compile_pattern(r" ?[\[\(\{](?:\.|dot)[\]\)\}] ?")
_WORD_DOT = compile_pattern(r"\b([a-z0-9-]{1,63}) dot ([a-z]{2,24})\b")
_LINK = compile_pattern(
    r"(https?://)?"
    r"((?:[\pL\pN](?:[\pL\pN-]{0,61}[\pL\pN])?\.)+[\pL][\pL\pN-]{0,62}[\pL\pN]"
    r"|\d{1,3}(?:\.\d{1,3}){3})"
    r"(:\d{1,5})?"
    r"(/[^\s]*)?"
)
_COMMON_SUFFIXES = frozenset(
    [
        "com",
        "net",
        "org",
        "info",
        "biz",
        "io",
        "co",
        "me",
        "ly",
        "gl",
        "top",
        "xyz",
        "site",
        "online",
        "club",
        "shop",
        "app",
        "link",
        "live",
        "click",
        "ru",
        "cn",
        "uk",
        "de",
        "fr",
        "in",
        "us",
        "ca",
        "au",
        "tk",
        "ml",
        "ga",
        "cf",
        "gq",
        "pw",
        "cc",
        "icu",
        "vip",
        "buzz",
        "store",
        "tech",
        "website",
        "space",
        "fun",
        "icu",
        "rest",
        "work",
        "support",
        "help",
        "services",
        "page",
        "sbs",
        "cfd",
        "cyou",
        "bond",
    ]
)
_EXTRACT = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


@dataclass(frozen=True, slots=True)
class Link:
    text: str
    host: str
    domain: str
    scheme: bool
    ip_host: bool
    start: int
    end: int


@lru_cache(maxsize=8192)
def _split_host(host: str) -> tuple[str, str]:
    """(registrable domain, public suffix) of a host; ('', '') when it has no known suffix."""
    if len(host) > 253 or any(len(label) > 63 for label in host.split(".")):
        return "", ""  # not a DNS name
    try:
        ascii_host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        return "", ""
    result = _EXTRACT(ascii_host)
    if not result.suffix or not result.domain:
        return "", ""
    return f"{result.domain}.{result.suffix}", result.suffix


_split_host("example.com")  # load the bundled suffix list now, not on the first message


def registrable_domain(host: str) -> str:
    """The registrable domain of `host` (``login.paypal.co.uk`` -> ``paypal.co.uk``)."""
    return _split_host(host.lower().rstrip("."))[0]


def _hxxp(match: Match) -> str:
    return f"http{match.group(1)}:"


def _dot(match: Match) -> str:
    return "."


def _word_dot(match: Match) -> str:
    host, suffix = match.group(1) or "", match.group(2) or ""
    if _split_host(f"example.{suffix}")[1] == suffix:
        return f"{host}.{suffix}"
    return match.group(0) or ""


_STEPS = (
    (("hxx", "h**", "h__"), _HXXP, _hxxp),
    (("[", "(", "{"), _BRACKET_DOT, _dot),
    ((" dot ",), _WORD_DOT, _word_dot),
)


def deobfuscate(text: str) -> tuple[str, bool]:
    """Undo link defanging in a normalised text; also say whether anything was undone."""
    changed = False
    for guards, pattern, repl in _STEPS:
        if any(g in text for g in guards):
            new = sub(pattern, text, repl)
            changed = changed or new != text
            text = new
    return text, changed


def _deobfuscate_offsets(text: OffsetText) -> OffsetText:
    for guards, pattern, repl in _STEPS:
        if any(g in text.text for g in guards):
            text = text.sub(pattern, repl)
    return text


def find_links(text: str) -> list[Link]:
    """The links in a (normalised, de-obfuscated) text."""
    links = []
    for match in find_all(_LINK, Utf8Text(text)):
        scheme, host, path = match.group(1), match.group(2) or "", match.group(4)
        ip_host = host.replace(".", "").isdigit()
        if ip_host:
            if not scheme and not path:
                continue
            domain = host
        else:
            domain, suffix = _split_host(host)
            if not domain:
                continue
            bare = not scheme and not host.startswith("www.") and not path
            if bare and suffix.rsplit(".", 1)[-1] not in _COMMON_SUFFIXES:
                continue
        start, end = match.span()
        links.append(Link(match.group(0) or "", host, domain, bool(scheme), ip_host, start, end))
    return links


def _links(ctx: Context) -> tuple[list[Link], bool]:
    cached: tuple[list[Link], bool] | None = ctx.memo.get("urls._links")
    if cached is None:
        text, obfuscated = deobfuscate(ctx.text)
        cached = (find_links(text), obfuscated)
        ctx.memo["urls._links"] = cached
    return cached


@detector("urls.count", output=ValueType.NUMBER, cost=2, gate=URL_GATE)
def count(ctx: Context) -> float:
    """Number of links in the text."""
    return float(len(_links(ctx)[0]))


@detector("urls.domains", output=ValueType.LABELS, cost=2, gate=URL_GATE)
def domains(ctx: Context) -> frozenset[str]:
    """Registrable domains of the links (IP addresses as they are)."""
    return frozenset(link.domain for link in _links(ctx)[0])


@detector("urls.obfuscated", output=ValueType.BOOL, cost=2, gate=URL_GATE)
def obfuscated(ctx: Context) -> bool:
    """A link was written defanged (hxxp, [.], dot) so that filters would miss it."""
    links, was_obfuscated = _links(ctx)
    return was_obfuscated and bool(links)


@detector("urls.ip_host", output=ValueType.BOOL, cost=2, gate=URL_GATE)
def ip_host(ctx: Context) -> bool:
    """A link points at a bare IP address instead of a domain."""
    return any(link.ip_host for link in _links(ctx)[0])


@explainer("urls.count", "urls.domains", "urls.obfuscated", "urls.ip_host")
def explain_links(ctx: Context) -> list[Evidence]:
    text = _deobfuscate_offsets(ctx.offsets)
    out = []
    for link in find_links(text.text)[:5]:
        start, end = text.source_span(link.start, link.end)
        out.append(Evidence("urls", link.domain, "body", start, end, ctx.raw[start:end][:120]))
    return out
