"""Features of a message for the spam/smishing classifier.

The same function extracts features when the model is trained and when a
message is scored, so the two cannot drift apart. It works on the engine's
normalised text view (case folded, compatibility forms, invisible characters
gone) and adds one step of its own: every digit becomes ``0``. A phone number,
an amount or a tracking code then looks like its shape (``00000 000000``), not
like the particular value a 2012 corpus happened to hold, and no feature can
ever carry a card number or a code from a message into evidence.

Features are strings, kept distinct (presence, not counts), in two sets:

* character trigrams of the text padded with spaces, which survive spelling
  games (``fr33``, ``u r``) and SMS abbreviations;
* words (punctuation split off) and pairs of neighbouring words (``a b``: a
  pair holds a space, a word never does).

The model keeps one weight table per set; `tagged` gives the single list of
prefixed names (``c...``, ``w...``) that training uses.

Chosen by 10-fold cross-validation on the training data only (see
`aupguard.content.train`); longer n-grams cost more per message and did not
do better there.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from operator import itemgetter

__all__ = ["Features", "features", "lexical_features", "prepare", "tagged", "trigrams", "words"]

Features = tuple[set[str], set[str]]
"""(character trigrams, words and word pairs) of one text."""

_DIGITS_STR = str.maketrans("123456789", "000000000")
_DIGITS_BYTES = bytes.maketrans(b"123456789", b"000000000")
_PUNCT_CHARS = "!\"#'()*+,-/:;<=>?@[\\]^_`{|}~.&"
_PUNCT_STR = str.maketrans(dict.fromkeys(_PUNCT_CHARS, " "))
_PUNCT_BYTES = bytes.maketrans(_PUNCT_CHARS.encode(), b" " * len(_PUNCT_CHARS))


def prepare(text: str) -> str:
    """The classifier's view of a normalised text: digits folded to ``0``, padded."""
    if text.isascii():  # bytes.translate is a C table lookup; str.translate with a dict is not
        return " " + text.encode().translate(_DIGITS_BYTES).decode() + " "
    return " " + text.translate(_DIGITS_STR) + " "


def words(prepared: str) -> list[str]:
    """The words of a prepared text (punctuation split off)."""
    if prepared.isascii():
        return prepared.encode().translate(_PUNCT_BYTES).decode().split()
    return prepared.translate(_PUNCT_STR).split()


_GETTER_MAX = 1024
_GETTERS: dict[int, Callable[[str], tuple[str, ...] | str]] = {}


def trigrams(prepared: str) -> set[str]:
    """The distinct character trigrams of a prepared text."""
    size = len(prepared)
    if size < 3:
        return set()
    if size > _GETTER_MAX:
        return {prepared[i : i + 3] for i in range(size - 2)}
    getter = _GETTERS.get(size)
    if getter is None:
        # one C call slices every trigram: half the cost of a comprehension
        getter = itemgetter(*[slice(i, i + 3) for i in range(size - 2)])
        _GETTERS[size] = getter
    found = getter(prepared)
    return set(found) if isinstance(found, tuple) else {found}


def lexical_features(ws: list[str]) -> set[str]:
    """Words and pairs of neighbouring words."""
    lexical = set(ws)
    lexical.update([f"{a} {b}" for a, b in pairwise(ws)])
    return lexical


def features(prepared: str) -> Features:
    """The distinct features of a prepared text (see the module documentation)."""
    return trigrams(prepared), lexical_features(words(prepared))


def tagged(prepared: str) -> list[str]:
    """All features of a prepared text as one list of prefixed names (for training)."""
    grams, lexical = features(prepared)
    return ["c" + g for g in grams] + ["w" + w for w in lexical]
