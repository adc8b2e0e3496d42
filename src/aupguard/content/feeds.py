"""URL reputation feeds: operator-configured blocklists, refreshed by a command.

A feed is a list of malicious hosts or URLs published by someone else
(URLhaus, a national CERT, the operator's own abuse desk). The pack names the
feeds it uses (dataset ``url_feeds``: a name, where to fetch it from, and the
category it stands for); ``aupguard feeds update`` fetches each one from its
file path or URL, parses it and stores a normalised copy in the feeds
directory (``AUPGUARD_FEEDS_DIR``, or the dataset's ``directory``). Loading a
pack reads those copies, so `Engine.reload()` after an update serves the new
lists; the engine itself never fetches anything.

Formats understood, one entry per line (comments ``#``, ``!`` and ``//``):
a bare host or IP address, a hosts-file line (``0.0.0.0 evil.example``), an
adblock rule (``||evil.example^``, ``||evil.example/path^$all``) or a URL.
A host entry covers its subdomains; a URL entry covers that path and below.
Lines that are none of these are counted and skipped, never fatal. An update
that yields no entry at all keeps the previous copy: an empty or broken
download never silently empties a blocklist.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "FeedError",
    "FeedIndex",
    "ParsedFeed",
    "UpdateResult",
    "feed_status",
    "feeds_directory",
    "load_feed",
    "normalise_host",
    "parse_feed",
    "update_feed",
]

MAX_FEED_BYTES = 64 << 20
"""A feed larger than this is refused (a runaway download, not a blocklist)."""
FETCH_TIMEOUT = 30.0
_HOST_OK = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-._:")
_HOSTS_FILE_SINKS = frozenset({"0.0.0.0", "127.0.0.1", "::", "::1"})


class FeedError(ValueError):
    """A feed could not be fetched or parsed (the previous copy is kept)."""


def feeds_directory(configured: str | None = None) -> Path:
    """Where feed copies live: `configured`, else AUPGUARD_FEEDS_DIR, else ./aupguard-feeds."""
    return Path(configured or os.environ.get("AUPGUARD_FEEDS_DIR") or "aupguard-feeds")


def normalise_host(host: str) -> str | None:
    """A host as feeds store it (lower case, IDNA, no trailing dot, no port); None if invalid."""
    host = host.strip().lower().rstrip(".")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    if not host or len(host) > 253:
        return None
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    if not set(host) <= _HOST_OK or ".." in host or host.startswith((".", "-")):
        return None
    if "." not in host and ":" not in host:
        return None
    if any(len(label) > 63 for label in host.split(".")):
        return None
    return host


@dataclass
class ParsedFeed:
    hosts: set[str] = field(default_factory=set)
    urls: set[str] = field(default_factory=set)
    skipped: int = 0

    @property
    def entries(self) -> int:
        return len(self.hosts) + len(self.urls)


def _url_key(host: str, path: str) -> str:
    path = path.split("?", 1)[0].split("#", 1)[0].rstrip("/")
    return f"{host}{path}" if path else host


def parse_feed(lines: Iterable[str]) -> ParsedFeed:
    """Parse a blocklist (see the module documentation for the formats)."""
    out = ParsedFeed()
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith(("#", "!", "//", "[")):
            continue
        if line.startswith("||"):
            body = line[2:].split("$", 1)[0].rstrip("^|")
            host_part, slash, path = body.partition("/")
            host = normalise_host(host_part)
            if host is None:
                out.skipped += 1
            elif slash:
                out.urls.add(_url_key(host, "/" + path))
            else:
                out.hosts.add(host)
            continue
        parts = line.split()
        if len(parts) >= 2 and parts[0] in _HOSTS_FILE_SINKS:
            line = parts[1]
        elif len(parts) > 1:
            line = parts[0]
        if "://" in line:
            try:
                split = urlsplit(line)
                hostname = split.hostname
            except ValueError:
                out.skipped += 1
                continue
            host = normalise_host(hostname or "")
            if host is None:
                out.skipped += 1
            elif split.path and split.path != "/":
                out.urls.add(_url_key(host, split.path))
            else:
                out.hosts.add(host)
            continue
        host_part, slash, path = line.partition("/")
        host = normalise_host(host_part)
        if host is None:
            out.skipped += 1
        elif slash and path:
            out.urls.add(_url_key(host, "/" + path))
        else:
            out.hosts.add(host)
    return out


@dataclass(frozen=True)
class FeedIndex:
    """Every loaded feed, for lookups: host (or a parent domain) and URL prefixes."""

    hosts: Mapping[str, tuple[str, ...]]
    """host -> the feeds listing it."""
    urls: Mapping[str, tuple[str, ...]]
    categories: Mapping[str, str]
    """feed name -> category (malware, phishing...)."""
    loaded: Mapping[str, int]
    """feed name -> number of entries loaded (0: the feed has no local copy yet)."""

    def lookup(self, host: str, path: str = "") -> tuple[str, ...]:
        """The feeds listing `host` (or a parent domain of it) or the URL host+path."""
        found: list[str] = []
        labels = host.split(".")
        for i in range(len(labels) - 1):
            hit = self.hosts.get(".".join(labels[i:]))
            if hit:
                found.extend(hit)
        if self.urls and path and path != "/":
            key = _url_key(host, path)
            while True:
                hit = self.urls.get(key)
                if hit:
                    found.extend(hit)
                if "/" not in key:
                    break
                key = key.rsplit("/", 1)[0]
        return tuple(dict.fromkeys(found))

    @classmethod
    def build(cls, feeds: Iterable[tuple[str, str, ParsedFeed | None]]) -> FeedIndex:
        hosts: dict[str, list[str]] = {}
        urls: dict[str, list[str]] = {}
        categories: dict[str, str] = {}
        loaded: dict[str, int] = {}
        for name, category, parsed in feeds:
            categories[name] = category
            loaded[name] = parsed.entries if parsed is not None else 0
            if parsed is None:
                continue
            for host in parsed.hosts:
                hosts.setdefault(host, []).append(name)
            for url in parsed.urls:
                urls.setdefault(url, []).append(name)
        return cls(
            {k: tuple(v) for k, v in hosts.items()},
            {k: tuple(v) for k, v in urls.items()},
            categories,
            loaded,
        )


# --- local copies ------------------------------------------------------------------------------


def _copy_path(directory: Path, name: str) -> Path:
    return directory / f"{name}.txt"


def _meta_path(directory: Path, name: str) -> Path:
    return directory / f"{name}.meta.json"


def load_feed(directory: Path, name: str) -> ParsedFeed | None:
    """The local copy of feed `name`, or None when it was never fetched."""
    path = _copy_path(directory, name)
    if not path.is_file():
        return None
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        return parse_feed(handle)


def feed_status(directory: Path, name: str) -> dict[str, Any] | None:
    path = _meta_path(directory, name)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _fetch(source: str) -> bytes:
    scheme = urlsplit(source).scheme.lower() if "://" in source else ""
    if scheme in ("http", "https"):
        try:
            with urllib.request.urlopen(source, timeout=FETCH_TIMEOUT) as response:
                data: bytes = response.read(MAX_FEED_BYTES + 1)
        except (OSError, ValueError) as exc:
            raise FeedError(f"cannot fetch {source}: {exc}") from None
    elif scheme in ("", "file"):
        path = Path(urlsplit(source).path if scheme == "file" else source)
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_FEED_BYTES + 1)
        except OSError as exc:
            raise FeedError(f"cannot read {source}: {exc.strerror or exc}") from None
    else:
        raise FeedError(
            f"unsupported source {source!r} (a file path, file://, http:// or https://)"
        )
    if len(data) > MAX_FEED_BYTES:
        raise FeedError(f"{source} is larger than {MAX_FEED_BYTES >> 20} MiB")
    return data


@dataclass(frozen=True)
class UpdateResult:
    name: str
    source: str
    hosts: int
    urls: int
    skipped: int
    sha256: str
    path: Path


def update_feed(
    directory: Path,
    name: str,
    source: str,
    *,
    fetch: Callable[[str], bytes] = _fetch,
    now: datetime | None = None,
) -> UpdateResult:
    """Fetch feed `name` from `source`, parse it and replace its local copy atomically.

    Raises FeedError (and keeps the previous copy) when the source cannot be
    read or holds no entry.
    """
    if not name or not all(c.isalnum() or c in "-_." for c in name) or name.startswith("."):
        raise FeedError(f"invalid feed name {name!r} (letters, digits, '-', '_', '.')")
    data = fetch(source)
    parsed = parse_feed(data.decode("utf-8", "replace").splitlines())
    if not parsed.entries:
        raise FeedError(
            f"{source}: no host or URL found ({parsed.skipped} line(s) skipped); "
            "the previous copy is kept"
        )
    directory.mkdir(parents=True, exist_ok=True)
    body = "\n".join([*sorted(parsed.hosts), *sorted(parsed.urls)]) + "\n"
    digest = hashlib.sha256(data).hexdigest()
    meta = {
        "name": name,
        "source": source,
        "fetched_at": (now or datetime.now(UTC)).isoformat(),
        "hosts": len(parsed.hosts),
        "urls": len(parsed.urls),
        "skipped": parsed.skipped,
        "sha256": digest,
    }
    target = _copy_path(directory, name)
    _atomic_write(target, body)
    _atomic_write(_meta_path(directory, name), json.dumps(meta, indent=2) + "\n")
    return UpdateResult(
        name, source, len(parsed.hosts), len(parsed.urls), parsed.skipped, digest, target
    )


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)  # engines may run as another user than the updater
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
