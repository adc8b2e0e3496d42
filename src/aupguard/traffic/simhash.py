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

__all__ = ["BANDS", "bands", "hamming", "shingles", "simhash", "simhash_of"]

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


_FIELD = 16
"""Bits per counter when the 64 bit counts are summed as one integer (below)."""
_BLOCK = (1 << _FIELD) - 1
_SPREAD = tuple(sum((v >> i & 1) << (i * _FIELD) for i in range(8)) for v in range(256))
"""A byte's 8 bits, each moved to the low bit of its own 16-bit field."""
_SHIFTS = tuple((7 - k) * 8 * _FIELD for k in range(8))
"""Where the fields of the k-th byte of a big-endian digest go."""


def simhash(text: str) -> int | None:
    """The 64-bit SimHash of `text` (None when it has no words).

    Bit i is set when more than half of the word pairs' 64-bit hashes have it set.
    The set bits of every hash are counted at once: each hash is spread into 64
    fields of 16 bits and the spread hashes are added as integers (a block of up
    to 65,535 hashes cannot carry from one field into the next), rather than
    walking 64 bits per hash in Python (the send path's costliest signal)."""
    return simhash_of(shingles(text))


def simhash_of(parts: list[str]) -> int | None:
    """`simhash` of a text's `shingles` (for a caller that has them already)."""
    if not parts:
        return None
    counts = [0] * 64
    spread = _SPREAD
    shifts = _SHIFTS
    for start in range(0, len(parts), _BLOCK):
        total = 0
        for part in parts[start : start + _BLOCK]:
            digest = hashlib.blake2b(part.encode("utf-8"), digest_size=8).digest()
            for byte, shift in zip(digest, shifts, strict=True):
                total += spread[byte] << shift
        for bit in range(64):
            counts[bit] += total >> (bit * _FIELD) & _BLOCK
    n = len(parts)
    value = 0
    for bit in range(64):
        if 2 * counts[bit] > n:  # the bit's weight (set minus unset) is positive
            value |= 1 << bit
    return value & _MASK


def bands(fingerprint: int) -> list[str]:
    """The 4 band keys of a fingerprint (``b<index>:<16-bit hex>``)."""
    return [f"b{i}:{fingerprint >> (16 * i) & 0xFFFF:04x}" for i in range(BANDS)]


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()
