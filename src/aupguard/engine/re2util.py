"""google-re2 with the project's options: bounded memory, no logging, errors raised.

Every regular expression that runs over message text goes through here, so no
backtracking `re` ever touches untrusted input.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import re2

MAX_MEM = 256 << 20
"""Memory budget for one compiled set or expression (RE2 `max_mem`)."""


class PatternError(ValueError):
    """A pattern RE2 refuses (syntax, or over the memory budget)."""


def options(*, capture: bool = True) -> Any:
    opts = re2.Options()
    opts.max_mem = MAX_MEM
    opts.log_errors = False
    opts.never_capture = not capture
    return opts


def compile_pattern(pattern: str, *, capture: bool = True) -> Any:
    """Compile one RE2 expression; raise PatternError with RE2's reason."""
    try:
        compiled = re2.compile(pattern, options(capture=capture))
    except re2.error as exc:
        raise PatternError(_reason(exc)) from None
    if compiled is None:  # pragma: no cover - defensive: the binding returns None on OOM
        raise PatternError("RE2 could not compile the pattern within max_mem")
    return compiled


def compile_set(patterns: Iterable[str]) -> Any:
    """Compile patterns into one RE2 search Set. Index i of the result is pattern i."""
    rset = re2.Set.SearchSet(options(capture=False))
    for i, pattern in enumerate(patterns):
        try:
            added = rset.Add(pattern)
        except re2.error:
            added = -1
        if added != i:
            raise PatternError(f"RE2 rejected pattern #{i}: {pattern!r}")
    try:
        rset.Compile()  # the binding raises on failure and returns None otherwise
    except re2.error:
        raise PatternError("RE2 set did not compile within max_mem") from None
    return rset


def check_pattern(pattern: str) -> str | None:
    """Return None when RE2 accepts the pattern, else the reason it does not."""
    try:
        compile_pattern(pattern, capture=False)
    except PatternError as exc:
        return str(exc)
    return None


def _reason(exc: Exception) -> str:
    arg = exc.args[0] if exc.args else exc
    text = arg.decode("utf-8", "replace") if isinstance(arg, bytes) else str(arg)
    return text or "invalid pattern"
