"""Alphanumeric sender ids that imitate a brand (O1 P22 P5).

A sender id such as ``PAYPA1``, ``PayPal-Sec`` or ``AMAZ0N`` shown on a phone
is an impersonation unless the account registered and verified that brand.
Both the sender id and the brand names (the pack's `brands` dataset) are
folded the same way - case, accents, lookalike letters, digit-for-letter
swaps - and compared: equal, one edit apart (long names), the brand at the
start or end of the id, or as one of its words.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from aupguard.engine.normalise import normalise, skeleton

__all__ = ["BrandNames", "fold"]

_LEET = str.maketrans(
    {"0": "o", "1": "l", "i": "l", "|": "l", "!": "l", "3": "e", "4": "a", "@": "a",
     "5": "s", "$": "s", "7": "t", "8": "b"}
)  # fmt: skip
_PAIRS = (("rn", "m"), ("vv", "w"), ("cl", "d"))


def fold(text: str) -> str:
    """Lower case, plain letters, lookalikes and digit swaps undone, only [a-z0-9] kept."""
    folded = skeleton(normalise(text)).translate(_LEET)
    for pair, letter in _PAIRS:
        folded = folded.replace(pair, letter)
    return "".join(ch for ch in folded if ch.isascii() and ch.isalnum())


def _words(text: str) -> list[str]:
    spaced = "".join(ch if ch.isalnum() or ch in "$@|!" else " " for ch in normalise(text))
    return [fold(w) for w in spaced.split() if w]


def _one_edit(a: str, b: str) -> bool:
    if a == b or abs(len(a) - len(b)) > 1:
        return a == b
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
    short, long = (a, b) if len(a) < len(b) else (b, a)
    i = 0
    while i < len(short) and short[i] == long[i]:
        i += 1
    return short[i:] == long[i + 1 :]


class BrandNames:
    """Folded brand names, ready to compare with sender ids."""

    def __init__(self, brands: Mapping[str, Iterable[str]]) -> None:
        self.names: list[tuple[str, str]] = []
        for key, names in brands.items():
            for name in names:
                folded = fold(name)
                if len(folded) >= 3:
                    self.names.append((key, folded))

    def imitated(self, sender_id: str) -> dict[str, str]:
        """Brand key -> how `sender_id` imitates it (empty when it imitates none)."""
        whole = fold(sender_id)
        if not whole:
            return {}
        words = set(_words(sender_id))
        found: dict[str, str] = {}
        for key, name in self.names:
            if key in found:
                continue
            if whole == name:
                found[key] = "is the brand name"
            elif name in words:
                found[key] = "contains the brand name as a word"
            elif len(name) >= 4 and (whole.startswith(name) or whole.endswith(name)):
                found[key] = "starts or ends with the brand name"
            elif len(name) >= 5 and name in whole:
                found[key] = "contains the brand name"
            elif len(name) >= 6 and _one_edit(whole, name):
                found[key] = "is one letter away from the brand name"
        return found
