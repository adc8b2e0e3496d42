"""Links in message text.

Links are found in the normalised text view after undoing the usual
defanging (``hxxp``, ``[.]``, ``(dot)``, ``example dot com``). Hosts are checked
against the public suffix list bundled with tldextract (never downloaded), and
reduced to their registrable domain. A bare ``word.word`` with no scheme, no
``www.`` and no path only counts as a link when its suffix is one links commonly
use, so that prose such as ``ok.so`` is not taken for one.

The URL detectors are gated on anything URL-like, so a message without a dot or
a scheme never pays for them.

Reputation (W5 V3 W7 P21): links are looked up in the operator's feeds
(dataset ``url_feeds``, refreshed by ``aupguard feeds update``, see
`aupguard.content.feeds`) and in a list of URL shorteners (dataset
``url_shorteners``: the `antispam-link-shorteners` package's list plus the
pack's own). A link whose scheme is there but whose host cannot be read
(``http://``, ``http://[::1``, a 5,000-character host) is reported by
``urls.unscannable`` with the reason, never raised.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import tldextract
from pydantic import BaseModel, ConfigDict, Field

from aupguard.content.feeds import FeedIndex, ParsedFeed, feeds_directory, load_feed
from aupguard.engine.context import Context
from aupguard.engine.decision import Evidence
from aupguard.engine.normalise import OffsetText
from aupguard.engine.re2util import Match, Utf8Text, compile_pattern, find_all, sub
from aupguard.engine.registry import ValueType, dataset, detector, explainer

__all__ = [
    "URL_GATE",
    "FeedSpec",
    "Link",
    "ShortenerIndex",
    "Shorteners",
    "UrlFeeds",
    "deobfuscate",
    "find_links",
    "links_of",
    "registrable_domain",
    "unscannable_reasons",
]

URL_GATE = (
    r"https?:|hxxps?:|www\.|[a-z0-9-]\.[a-z]{2,}|[\[\(\{](?:\.|dot)[\]\)\}]|[a-z0-9] dot [a-z]{2,}"
)
_HXXP = compile_pattern(r"h(?:xx|\*\*|__)p(s?):")
_BRACKET_DOT = compile_pattern(r" ?[\[\(\{](?:\.|dot)[\]\)\}] ?")
_WORD_DOT = compile_pattern(r"\b([a-z0-9-]{1,63}) dot ([a-z]{2,24})\b")
_SPACED_PREFIX = compile_pattern(r"(https?://|www\.) +([a-z0-9-]+\.[a-z])")
_SPACED_DOT = compile_pattern(r"\b([a-z0-9-]{2,63})\. ([a-z]{2,6}/)")
_SCHEME = compile_pattern(r"(?:https?|hxxps?)://(\S*)")
_LINK = compile_pattern(
    r"(https?://)?"
    r"((?:[\pL\pN][\pL\pN-]*\.)+[\pL][\pL\pN-]*"
    r"|\d{1,3}(?:\.\d{1,3}){3})"
    r"(:\d{1,5})?"
    r"(/[^\s]*)?"
)
"""Label lengths and hyphens are checked after the match: bounded repetitions of Unicode
classes ({0,61}) made the program ten times slower to run."""
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
    path: str = ""


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


def _unspace_prefix(match: Match) -> str:
    return (match.group(1) or "") + (match.group(2) or "")


def _unspace_dot(match: Match) -> str:
    host, rest = match.group(1) or "", match.group(2) or ""
    if rest[:-1] in _COMMON_SUFFIXES or rest[:-1] in ("tv", "ac", "mobi"):
        return f"{host}.{rest}"
    return match.group(0) or ""


_SPACING = (
    (("http:// ", "https:// ", "www. "), _SPACED_PREFIX, _unspace_prefix),
    ((". ",), _SPACED_DOT, _unspace_dot),
)


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
    # links split by spaces ("www. example.com", "example. com/x") are rejoined, but
    # that is how SMS is typed as often as it is a trick, so it does not count as defanging
    for guards, pattern, repl in _SPACING:
        if any(g in text for g in guards) and (pattern is not _SPACED_DOT or "/" in text):
            text = sub(pattern, text, repl)
    return text, changed


def _deobfuscate_offsets(text: OffsetText) -> OffsetText:
    for guards, pattern, repl in (*_STEPS, *_SPACING):
        if any(g in text.text for g in guards):
            text = text.sub(pattern, repl)
    return text


def find_links(text: str) -> list[Link]:
    """The links in a (normalised, de-obfuscated) text."""
    links = []
    for match in find_all(_LINK, Utf8Text(text)):
        scheme, host, path = match.group(1), match.group(2) or "", match.group(4)
        before = match.span()[0] - 1
        if before >= 0 and (text[before].isalnum() or text[before] in "-."):
            continue  # the tail of a longer run, not a link
        if any(not label or label[-1] == "-" or len(label) > 63 for label in host.split(".")):
            continue  # not a DNS name
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
        links.append(
            Link(match.group(0) or "", host, domain, bool(scheme), ip_host, start, end, path or "")
        )
    return links


def _deobfuscated(ctx: Context) -> tuple[str, bool]:
    cached: tuple[str, bool] | None = ctx.memo.get("urls._text")
    if cached is None:
        cached = deobfuscate(ctx.text)
        ctx.memo["urls._text"] = cached
    return cached


def _links(ctx: Context) -> tuple[list[Link], bool]:
    cached: tuple[list[Link], bool] | None = ctx.memo.get("urls._links")
    if cached is None:
        text, obfuscated = _deobfuscated(ctx)
        cached = (find_links(text), obfuscated)
        ctx.memo["urls._links"] = cached
    return cached


def links_of(ctx: Context) -> list[Link]:
    """The links of the event's text (found once per event, shared by every link detector)."""
    return _links(ctx)[0]


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


# --- broken links ------------------------------------------------------------------------------


def unscannable_reasons(text: str) -> list[str]:
    """Why links written with a scheme in a (de-obfuscated) text cannot be read, if they cannot."""
    reasons: list[str] = []
    for match in find_all(_SCHEME, Utf8Text(text)):
        rest = match.group(1) or ""
        authority = rest
        for stop in "/?#":
            authority = authority.split(stop, 1)[0]
        host = authority.rsplit("@", 1)[-1]
        if not host:
            reasons.append("no host after the scheme")
        elif host.startswith("[") and "]" not in host:
            reasons.append("malformed IPv6 literal")
        elif len(host) > 253 or any(len(label) > 63 for label in host.split(".")):
            reasons.append(f"host longer than DNS allows ({len(host)} characters)")
        elif "." not in host and not host.startswith("["):
            reasons.append("no domain name after the scheme")
        else:
            continue
    return list(dict.fromkeys(reasons))


@detector("urls.unscannable", output=ValueType.LABELS, cost=2, gate=r"(?:https?|hxxps?)://")
def unscannable(ctx: Context) -> frozenset[str]:
    """Links whose scheme is written but whose host cannot be read, with the reason."""
    text, _ = _deobfuscated(ctx)
    found = frozenset(unscannable_reasons(text))
    for reason in sorted(found):
        ctx.add_evidence("urls.unscannable", Evidence("urls.unscannable", reason, "body"))
    return found


# --- reputation feeds --------------------------------------------------------------------------


class FeedSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    source: str = Field(min_length=1, description="file path or http(s) URL `feeds update` reads")
    category: str = Field(default="malware", pattern=r"^[a-z][a-z0-9_]*$")
    licence: str | None = None


class StaticEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str
    category: str = Field(default="malware", pattern=r"^[a-z][a-z0-9_]*$")
    note: str | None = None


class UrlFeeds(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    directory: str | None = None
    """Where `aupguard feeds update` keeps copies (default: AUPGUARD_FEEDS_DIR)."""
    feeds: list[FeedSpec] = []
    static: list[StaticEntry] = []
    """Hosts the pack itself lists (an operator's own blocklist; a canary for tests)."""


def _prepare_feeds(model: UrlFeeds) -> FeedIndex:
    directory = feeds_directory(model.directory)
    loaded: list[tuple[str, str, ParsedFeed | None]] = [
        (spec.name, spec.category, load_feed(directory, spec.name)) for spec in model.feeds
    ]
    by_category: dict[str, ParsedFeed] = {}
    for entry in model.static:
        parsed = by_category.setdefault(entry.category, ParsedFeed())
        parsed.hosts.add(entry.host.lower().rstrip("."))
    loaded.extend((f"pack:{cat}", cat, parsed) for cat, parsed in by_category.items())
    return FeedIndex.build(loaded)


dataset(
    "url_feeds",
    UrlFeeds,
    prepare=_prepare_feeds,
    description="Malicious-URL feeds the operator refreshes with `aupguard feeds update`",
)


def _listed(ctx: Context) -> list[tuple[Link, tuple[str, ...]]]:
    cached: list[tuple[Link, tuple[str, ...]]] | None = ctx.memo.get("urls._listed")
    if cached is None:
        index: FeedIndex | None = ctx.pack.data.get("url_feeds")
        cached = []
        if index is not None and (index.hosts or index.urls):
            for link in _links(ctx)[0]:
                feeds = index.lookup(link.host, link.path)
                if feeds:
                    cached.append((link, feeds))
        ctx.memo["urls._listed"] = cached
    return cached


@detector("urls.listed", output=ValueType.LABELS, cost=2, gate=URL_GATE)
def listed(ctx: Context) -> frozenset[str]:
    """Categories (malware, phishing...) of the reputation feeds that list a link's host or URL."""
    found = _listed(ctx)
    if not found:
        return frozenset()
    index: FeedIndex = ctx.pack.data["url_feeds"]
    for link, feeds in found[:5]:
        ctx.add_evidence(
            "urls.listed",
            Evidence("urls.listed", f"{link.host} listed by {', '.join(feeds)}", "body"),
        )
    return frozenset(index.categories[f] for _, feeds in found for f in feeds)


# --- shorteners --------------------------------------------------------------------------------


class Shorteners(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    package_list: bool = True
    """Include the list shipped by the `antispam-link-shorteners` package."""
    domains: list[str] = []
    exclude: list[str] = []


@dataclass(frozen=True)
class ShortenerIndex:
    domains: frozenset[str]

    def __contains__(self, host: str) -> bool:
        return host in self.domains or host.removeprefix("www.") in self.domains


def _package_shorteners() -> set[str]:
    text = resources.files("antispam_link_shorteners").joinpath("shorteners.txt").read_text("utf-8")
    return {
        line.strip().lower()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    }


def _prepare_shorteners(model: Shorteners) -> ShortenerIndex:
    domains = _package_shorteners() if model.package_list else set()
    domains.update(d.lower() for d in model.domains)
    domains.difference_update(d.lower() for d in model.exclude)
    return ShortenerIndex(frozenset(domains))


dataset(
    "url_shorteners",
    Shorteners,
    prepare=_prepare_shorteners,
    description="URL shortener domains (links whose destination the text hides)",
)


@detector("urls.shortener", output=ValueType.LABELS, cost=2, gate=URL_GATE)
def shortener(ctx: Context) -> frozenset[str]:
    """Links through a URL shortener (the shortener domains)."""
    index: ShortenerIndex | None = ctx.pack.data.get("url_shorteners")
    if index is None:
        return frozenset()
    return frozenset(
        link.host.removeprefix("www.") for link in _links(ctx)[0] if link.host in index
    )


# --- links to login and credential pages (W7 P21) ---------------------------------------------

_LOGIN_WORDS = (
    "login",
    "log-in",
    "signin",
    "sign-in",
    "logon",
    "verify",
    "verification",
    "secure",
    "unlock",
    "restore",
    "reactivate",
    "kyc",
    "update-account",
    "account-update",
    "webscr",
    "auth",
    "password",
    "credential",
    "wallet-connect",
    "validate",
    "confirm",
)


def login_like(link: Link) -> str | None:
    """The credential word a link's host or path carries, if any."""
    where = f"{link.host}{link.path}"
    for word in _LOGIN_WORDS:
        if word in where:
            return word
    return None


@detector("urls.login_page", output=ValueType.BOOL, cost=2, gate=URL_GATE)
def login_page(ctx: Context) -> bool:
    """A link's host or path names a login, verification or account page."""
    for link in _links(ctx)[0]:
        word = login_like(link)
        if word is not None:
            ctx.add_evidence(
                "urls.login_page",
                Evidence("urls.login_page", f"{link.host}: '{word}'", "body"),
            )
            return True
    return False
