"""SimHash fingerprints of message text, for near-duplicate content across senders.

Text is reduced to what a template keeps (lower case, digit runs as ``#``,
punctuation dropped) and hashed over word pairs into 64 bits. Two texts whose
fingerprints differ in at most 3 bits are near duplicates; cutting the
fingerprint into 4 bands of 16 bits, such texts share at least one band
exactly (pigeonhole), so a band is a key that near duplicates meet under.
"""

from __future__ import annotations

import hashlib
import itertools

__all__ = ["BANDS", "bands", "hamming", "shingles", "simhash"]

BANDS = 4
_MASK = (1 << 64) - 1


def shingles(text: str) -> list[str]:
    """Word pairs of the templated text (single words when there is only one)."""
    words: list[str] = []
    for raw in text.lower().split():
        word = "".join("#" if ch.isdigit() else ch for ch in raw if ch.isalnum())
        if word:
            word = "#" if word.strip("#") == "" else word
            words.append(word)
    if len(words) < 2:
        return words
    return [f"{a} {b}" for a, b in itertools.pairwise(words)]


def simhash(text: str) -> int | None:
    """The 64-bit SimHash of `text` (None when it has no words)."""
    parts = shingles(text)
    if not parts:
        return None
    weights = [0] * 64
    for part in parts:
        h = int.from_bytes(hashlib.blake2b(part.encode("utf-8"), digest_size=8).digest(), "big")
        for bit in range(64):
            weights[bit] += 1 if h >> bit & 1 else -1
    value = 0
    for bit in range(64):
        if weights[bit] > 0:
            value |= 1 << bit
    return value & _MASK


def bands(fingerprint: int) -> list[str]:
    """The 4 band keys of a fingerprint (``b<index>:<16-bit hex>``)."""
    return [f"b{i}:{fingerprint >> (16 * i) & 0xFFFF:04x}" for i in range(BANDS)]


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()
