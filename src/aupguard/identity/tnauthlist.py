"""The TNAuthList certificate extension (RFC 8226 §9, OID 1.3.6.1.5.5.7.1.26).

A STIR/SHAKEN service-provider certificate says which numbers its holder may
vouch for: a service provider code (SPC, what SHAKEN certificates carry),
telephone-number ranges or single numbers. `cryptography` hands the extension
over as raw DER bytes (it does not know the type); this module reads and writes
that one small structure - tag, length, value; no cryptography happens here.

    TNAuthorizationList ::= SEQUENCE SIZE (1..MAX) OF TNEntry
    TNEntry ::= CHOICE { spc [0] IA5String, range [1] TelephoneNumberRange,
                         one [2] TelephoneNumber }        -- EXPLICIT tags
    TelephoneNumberRange ::= SEQUENCE { start TelephoneNumber, count INTEGER (2..MAX), ... }
    TelephoneNumber ::= IA5String (SIZE (1..15)) (FROM ("0123456789#*"))
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["TNAUTHLIST_OID", "TNAuthList", "TNAuthListError", "decode", "encode"]

TNAUTHLIST_OID = "1.3.6.1.5.5.7.1.26"

_SEQUENCE = 0x30
_IA5STRING = 0x16
_INTEGER = 0x02
_SPC, _RANGE, _ONE = 0xA0, 0xA1, 0xA2
_TN_CHARS = frozenset("0123456789#*")
_MAX_SIZE = 65_536


class TNAuthListError(ValueError):
    """The extension's bytes are not a DER TNAuthList (the message says where)."""


@dataclass(frozen=True)
class TNAuthList:
    spcs: tuple[str, ...] = ()
    ranges: tuple[tuple[str, int], ...] = ()
    numbers: tuple[str, ...] = field(default=())

    def covers(self, tn: str) -> bool:
        """Whether telephone number `tn` (digits) is one of the listed numbers or ranges."""
        if tn in self.numbers:
            return True
        for start, count in self.ranges:
            if (
                len(tn) == len(start)
                and tn.isdigit()
                and start.isdigit()
                and int(start) <= int(tn) < int(start) + count
            ):
                return True
        return False


def _read(data: bytes, pos: int, what: str) -> tuple[int, bytes, int]:
    """One DER element at `pos`: (tag, contents, position after it)."""
    if pos >= len(data):
        raise TNAuthListError(f"{what}: truncated (no tag)")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise TNAuthListError(f"{what}: multi-byte tags are not used in a TNAuthList")
    pos += 1
    if pos >= len(data):
        raise TNAuthListError(f"{what}: truncated (no length)")
    first = data[pos]
    pos += 1
    if first < 0x80:
        length = first
    elif first == 0x80:
        raise TNAuthListError(f"{what}: indefinite length is not DER")
    else:
        size = first & 0x7F
        if size > 3 or pos + size > len(data):
            raise TNAuthListError(f"{what}: bad length")
        length = int.from_bytes(data[pos : pos + size], "big")
        if length < 0x80 or data[pos] == 0:
            raise TNAuthListError(f"{what}: length is not in its shortest form (not DER)")
        pos += size
    end = pos + length
    if end > len(data):
        raise TNAuthListError(f"{what}: truncated (needs {length} bytes, has {len(data) - pos})")
    return tag, data[pos:end], end


def _ia5(tag: int, value: bytes, what: str) -> str:
    if tag != _IA5STRING:
        raise TNAuthListError(f"{what}: expected an IA5String, found tag 0x{tag:02x}")
    if any(b > 0x7F for b in value):
        raise TNAuthListError(f"{what}: not ASCII")
    return value.decode("ascii")


def _tn(tag: int, value: bytes, what: str) -> str:
    text = _ia5(tag, value, what)
    if not 1 <= len(text) <= 15 or not set(text) <= _TN_CHARS:
        raise TNAuthListError(f"{what}: {text!r} is not a telephone number (1-15 of 0-9 # *)")
    return text


def _only(value: bytes, what: str) -> tuple[int, bytes]:
    tag, inner, end = _read(value, 0, what)
    if end != len(value):
        raise TNAuthListError(f"{what}: trailing bytes")
    return tag, inner


def decode(data: bytes) -> TNAuthList:
    """Parse the DER value of a TNAuthList extension. Raises TNAuthListError."""
    if len(data) > _MAX_SIZE:
        raise TNAuthListError("TNAuthList: larger than 64 KiB")
    tag, body = _only(data, "TNAuthList")
    if tag != _SEQUENCE:
        kind = "an IA5String (a URL or text?)" if tag == _IA5STRING else f"tag 0x{tag:02x}"
        raise TNAuthListError(f"TNAuthList: expected a SEQUENCE of TNEntry, found {kind}")
    spcs: list[str] = []
    ranges: list[tuple[str, int]] = []
    numbers: list[str] = []
    pos = 0
    index = 0
    while pos < len(body):
        what = f"TNEntry {index}"
        tag, value, pos = _read(body, pos, what)
        if tag == _SPC:
            spc = _ia5(*_only(value, f"{what} (spc)"), f"{what} (spc)")
            if not spc:
                raise TNAuthListError(f"{what} (spc): empty service provider code")
            spcs.append(spc)
        elif tag == _ONE:
            numbers.append(_tn(*_only(value, f"{what} (one)"), f"{what} (one)"))
        elif tag == _RANGE:
            rtag, rbody = _only(value, f"{what} (range)")
            if rtag != _SEQUENCE:
                raise TNAuthListError(f"{what} (range): expected a SEQUENCE")
            stag, svalue, rpos = _read(rbody, 0, f"{what} (range start)")
            start = _tn(stag, svalue, f"{what} (range start)")
            ctag, cvalue, rpos = _read(rbody, rpos, f"{what} (range count)")
            if ctag != _INTEGER or not cvalue or len(cvalue) > 8:
                raise TNAuthListError(f"{what} (range count): expected an INTEGER")
            count = int.from_bytes(cvalue, "big", signed=True)
            if count < 2:
                raise TNAuthListError(f"{what} (range count): must be at least 2")
            ranges.append((start, count))
        else:
            raise TNAuthListError(f"{what}: unknown choice tag 0x{tag:02x}")
        index += 1
    if index == 0:
        raise TNAuthListError("TNAuthList: empty (SIZE (1..MAX))")
    return TNAuthList(tuple(spcs), tuple(ranges), tuple(numbers))


def _tlv(tag: int, value: bytes) -> bytes:
    n = len(value)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + value


def encode(value: TNAuthList) -> bytes:
    """The DER value of a TNAuthList (used to issue test and private-PKI certificates)."""
    entries: list[bytes] = []
    for spc in value.spcs:
        entries.append(_tlv(_SPC, _tlv(_IA5STRING, spc.encode("ascii"))))
    for start, count in value.ranges:
        raw = count.to_bytes((count.bit_length() + 8) // 8, "big", signed=True)
        body = _tlv(_IA5STRING, start.encode("ascii")) + _tlv(_INTEGER, raw)
        entries.append(_tlv(_RANGE, _tlv(_SEQUENCE, body)))
    for tn in value.numbers:
        entries.append(_tlv(_ONE, _tlv(_IA5STRING, tn.encode("ascii"))))
    if not entries:
        raise ValueError("a TNAuthList needs at least one entry")
    return _tlv(_SEQUENCE, b"".join(entries))
