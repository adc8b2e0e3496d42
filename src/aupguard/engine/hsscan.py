"""Hyperscan for the lexicon set: compiled ahead of use, cached on disk, swapped in
when ready.

RE2 builds the DFA of a set lazily, one state at a time, as texts reach new
states. For a pack's hundreds of disguise-tolerant terms the state space is
huge, so every message with words the process has not seen before pays for new
states: 500-900 µs per message at first and still 30-70 µs after tens of
thousands of different messages, against 2-3 µs for a text already seen (see
docs/benchmarks.md). Hyperscan (Intel's multi-pattern engine, the one rspamd
uses for the same job) compiles the whole automaton up front and scans any text
in a few microseconds, but compiling the default pack takes seconds.

So, as rspamd does: a lexicon set starts on RE2 at once, and its Hyperscan
database is either read from the cache (``$AUPGUARD_CACHE_DIR`` or
``~/.cache/aupguard``, keyed by a digest of the patterns, the flags and the
Hyperscan version) or compiled in a background thread (Hyperscan releases the
GIL while it compiles) and written there; the set switches to it when it is
ready. Both engines report the same patterns for a text (UTF-8 mode, no Unicode
properties, as RE2's defaults; tests/engine/test_hsscan.py compares them), so
the switch changes speed, never decisions. A pattern Hyperscan refuses, a
missing ``hyperscan`` package or ``AUPGUARD_HYPERSCAN=off`` leave RE2 in place.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import structlog

try:
    import hyperscan
except ImportError:  # pragma: no cover - the package is a dependency on x86-64
    hyperscan = None  # type: ignore[assignment]

__all__ = ["AVAILABLE", "MIN_PATTERNS", "HsScanner", "accelerate", "compile_now", "enabled"]

AVAILABLE = hyperscan is not None
MIN_PATTERNS = 64
"""Smaller sets stay on RE2: their DFA is small and warms within a few messages."""

_log = structlog.get_logger("aupguard.engine")
_FLAGS = 0
if hyperscan is not None:
    _FLAGS = hyperscan.HS_FLAG_SINGLEMATCH | hyperscan.HS_FLAG_UTF8 | hyperscan.HS_FLAG_ALLOWEMPTY


def enabled() -> bool:
    return AVAILABLE and os.environ.get("AUPGUARD_HYPERSCAN", "on").lower() not in ("off", "0")


def _cache_dir() -> Path:
    configured = os.environ.get("AUPGUARD_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "aupguard"


def _digest(patterns: Sequence[str]) -> str:
    h = hashlib.sha256(f"{getattr(hyperscan, '__version__', '')}\0{_FLAGS}\0".encode())
    for p in patterns:
        h.update(p.encode("utf-8", "surrogatepass") + b"\0")
    return h.hexdigest()[:40]


class HsScanner:
    """A compiled Hyperscan database with one scratch space per thread."""

    def __init__(self, database: Any) -> None:
        self._db = database
        self._prototype = hyperscan.Scratch(database)
        self._local = threading.local()

    def match(self, haystack: str) -> list[int]:
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = self._prototype.clone()
        found: list[int] = []
        self._db.scan(
            haystack.encode("utf-8", "surrogatepass"),
            match_event_handler=_collect,
            context=found,
            scratch=scratch,
        )
        return found


def _collect(ident: int, start: int, end: int, flags: int, found: list[int]) -> None:
    found.append(ident)


def _compile(patterns: Sequence[str]) -> Any:
    database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    database.compile(
        expressions=[p.encode("utf-8", "surrogatepass") for p in patterns],
        ids=list(range(len(patterns))),
        elements=len(patterns),
        flags=[_FLAGS] * len(patterns),
    )
    return database


def _path(digest: str) -> Path:
    return _cache_dir() / f"{digest}.hsdb"


def _cached(digest: str) -> HsScanner | None:
    """The scanner kept in the cache under `digest`; None when absent or unreadable."""
    try:
        return HsScanner(hyperscan.loadb(_path(digest).read_bytes(), hyperscan.HS_MODE_BLOCK))
    except (OSError, hyperscan.error):
        return None


def _store(path: Path, database: Any) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.part")
        partial.write_bytes(bytes(hyperscan.dumpb(database)))
        os.replace(partial, path)  # readers see the whole file or none
    except OSError as exc:
        _log.info("hyperscan_cache_unwritable", path=str(path.parent), error=str(exc))


def _build(patterns: Sequence[str], digest: str) -> HsScanner | None:
    """Compile `patterns` and keep the database under `digest`; None when Hyperscan
    refuses a pattern."""
    try:
        database = _compile(patterns)
    except hyperscan.error as exc:
        _log.warning("hyperscan_refused", error=str(exc), patterns=len(patterns))
        return None
    _store(_path(digest), database)
    return HsScanner(database)


def compile_now(patterns: Sequence[str]) -> HsScanner | None:
    """The scanner for `patterns`, from the cache or compiled (and cached) now; None
    when Hyperscan is unavailable or refuses a pattern."""
    if not AVAILABLE:
        return None
    digest = _digest(patterns)
    return _cached(digest) or _build(patterns, digest)


_PENDING: dict[str, list[Callable[[HsScanner], None]]] = {}
_LOCK = threading.Lock()


def accelerate(patterns: Sequence[str], use: Callable[[HsScanner], None]) -> bool:
    """Hand `use` the Hyperscan scanner for `patterns`: at once when it is cached, else
    from a background thread when compiled (one compilation per distinct set). False
    when there will be none (switched off, unavailable, a small set)."""
    if not enabled() or len(patterns) < MIN_PATTERNS:
        return False
    digest = _digest(patterns)
    cached = _cached(digest)
    if cached is not None:
        use(cached)
        return True
    with _LOCK:
        waiting = _PENDING.get(digest)
        if waiting is not None:
            waiting.append(use)
            return True
        _PENDING[digest] = [use]
    frozen = tuple(patterns)

    def work() -> None:
        scanner = _cached(digest) or _build(frozen, digest)  # another process may have made it
        with _LOCK:
            users = _PENDING.pop(digest, [])
        if scanner is not None:
            for user in users:
                user(scanner)

    threading.Thread(target=work, name="aupguard-hyperscan", daemon=True).start()
    return True
