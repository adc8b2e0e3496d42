"""SHAKEN PASSporTs (RFC 8225, RFC 8588, ATIS-1000074) and the SIP Identity header (RFC 8224).

Signing builds the header ``{"alg": "ES256", "ppt": "shaken", "typ": "passport",
"x5u": ...}`` and the claims ``attest``, ``dest``, ``iat``, ``orig``, ``origid``,
serialises both as canonical JSON (sorted keys, no whitespace) and signs with
PyJWT's ES256 (over `cryptography`). Reading never raises on bad input: every
problem becomes a `ShakenError` with a precise `Reason`, which the verifier turns
into a verstat result.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

__all__ = [
    "ATTESTATIONS",
    "IdentityHeader",
    "Passport",
    "Reason",
    "ShakenError",
    "canonical_json",
    "decode_passport",
    "identity_header",
    "parse_identity_header",
    "sign_passport",
]

Attestation = Literal["A", "B", "C"]
ATTESTATIONS: tuple[str, ...] = ("A", "B", "C")
MAX_HEADER = 8_192
_REQUIRED_CLAIMS = ("attest", "dest", "iat", "orig", "origid")


class Reason(StrEnum):
    """Why a PASSporT or Identity header did not verify (stable machine-readable codes)."""

    NO_IDENTITY = "no_identity_header"
    HEADER_TOO_LONG = "header_too_long"
    HEADER_MALFORMED = "header_malformed"
    INFO_MISSING = "info_missing"
    INFO_MISMATCH = "info_x5u_mismatch"
    PARAM_ALG = "identity_alg_unsupported"
    PARAM_PPT = "identity_ppt_unsupported"
    JWS_MALFORMED = "jws_malformed"
    COMPACT_FORM = "compact_form_unsupported"
    NOT_BASE64URL = "jws_not_base64url"
    NOT_JSON = "jws_not_json"
    ALG_NONE = "alg_none"
    ALG_UNSUPPORTED = "alg_unsupported"
    PPT = "ppt_not_shaken"
    TYP = "typ_not_passport"
    X5U_MISSING = "x5u_missing"
    CLAIM_MISSING = "claim_missing"
    CLAIM_TYPE = "claim_type"
    ATTEST = "attest_invalid"
    ORIGID = "origid_invalid"
    IAT_FUTURE = "iat_in_future"
    IAT_STALE = "iat_stale"
    ORIG_MISMATCH = "orig_mismatch"
    DEST_MISMATCH = "dest_mismatch"
    X5U_SCHEME = "x5u_scheme_not_allowed"
    X5U_HOST = "x5u_host_not_allowed"
    X5U_FETCH = "x5u_fetch_failed"
    X5U_TIMEOUT = "x5u_timeout"
    X5U_TOO_LARGE = "x5u_too_large"
    X5U_NOT_CERT = "x5u_not_certificate"
    CERT_NOT_YET_VALID = "cert_not_yet_valid"
    CERT_EXPIRED = "cert_expired"
    CERT_REVOKED = "cert_revoked"
    CHAIN_UNTRUSTED = "chain_untrusted"
    KEY_TYPE = "cert_key_not_p256"
    TNAUTH_MISSING = "tnauthlist_missing"
    TNAUTH_MALFORMED = "tnauthlist_malformed"
    SPC_NOT_ALLOWED = "spc_not_allowed"
    TN_NOT_AUTHORISED = "tn_not_authorised"
    SIGNATURE = "signature_invalid"

    @property
    def sip_code(self) -> int:
        """The SIP response a verification service answers with (RFC 8224 §6.2.2, ATIS-1000074)."""
        if self is Reason.NO_IDENTITY:
            return 428
        if self in (Reason.IAT_STALE, Reason.IAT_FUTURE):
            return 403
        if self in (
            Reason.X5U_HOST,
            Reason.X5U_SCHEME,
            Reason.X5U_FETCH,
            Reason.X5U_TIMEOUT,
            Reason.X5U_TOO_LARGE,
            Reason.X5U_NOT_CERT,
        ):
            return 436
        if self in (
            Reason.CERT_NOT_YET_VALID,
            Reason.CERT_EXPIRED,
            Reason.CERT_REVOKED,
            Reason.CHAIN_UNTRUSTED,
            Reason.KEY_TYPE,
            Reason.TNAUTH_MISSING,
            Reason.TNAUTH_MALFORMED,
            Reason.SPC_NOT_ALLOWED,
            Reason.TN_NOT_AUTHORISED,
            Reason.ALG_UNSUPPORTED,
            Reason.ALG_NONE,
            Reason.PARAM_ALG,
        ):
            return 437
        return 438


class ShakenError(Exception):
    """A verification failure with its reason and a sentence for people."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


def canonical_json(value: Any) -> bytes:
    """JSON with sorted keys and no whitespace (RFC 8225 §9 / ATIS-1000074)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


_JWS = jwt.PyJWS(algorithms=["ES256"])


def sign_passport(
    key: ec.EllipticCurvePrivateKey,
    *,
    x5u: str,
    orig: str,
    dest: str | list[str],
    attest: Attestation,
    iat: int,
    origid: str | None = None,
) -> str:
    """A signed SHAKEN PASSporT (compact JWS, full form). `orig`/`dest` are TNs (digits)."""
    if attest not in ATTESTATIONS:
        raise ValueError(f"attest must be A, B or C, not {attest!r}")
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError("ES256 needs a P-256 (secp256r1) private key")
    claims = {
        "attest": attest,
        "dest": {"tn": [dest] if isinstance(dest, str) else list(dest)},
        "iat": int(iat),
        "orig": {"tn": orig},
        "origid": origid or str(uuid.uuid4()),
    }
    header = {"alg": "ES256", "ppt": "shaken", "typ": "passport", "x5u": x5u}
    return _JWS.encode(canonical_json(claims), key, algorithm="ES256", headers=header)


def identity_header(token: str, x5u: str) -> str:
    """The value of a SIP Identity header field carrying `token` (RFC 8224 §4, RFC 8588)."""
    return f"{token};info=<{x5u}>;alg=ES256;ppt=shaken"


@dataclass(frozen=True)
class IdentityHeader:
    token: str
    info: str
    alg: str | None
    ppt: str | None


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def parse_identity_header(value: str) -> IdentityHeader:
    """Split an Identity header value into its PASSporT and parameters. Raises ShakenError."""
    if not isinstance(value, str):
        raise ShakenError(Reason.HEADER_MALFORMED, "the Identity header is not text")
    text = value.strip()
    if text[:9].lower() == "identity:":
        text = text[9:].strip()
    if not text:
        raise ShakenError(Reason.NO_IDENTITY, "the Identity header is empty")
    if len(text) > MAX_HEADER:
        raise ShakenError(Reason.HEADER_TOO_LONG, f"longer than {MAX_HEADER} characters")
    token, sep, rest = text.partition(";")
    token = token.strip()
    if not sep:
        raise ShakenError(Reason.INFO_MISSING, "no ;info=<x5u> parameter after the PASSporT")
    params = _parameters(rest)
    info = params.get("info")
    if info is None:
        raise ShakenError(Reason.INFO_MISSING, "no info=<x5u> parameter")
    if not (info.startswith("<") and info.endswith(">")) or len(info) < 3:
        raise ShakenError(Reason.HEADER_MALFORMED, "info must be an absolute URI in <...>")
    alg = _unquote(params["alg"]) if "alg" in params else None
    ppt = _unquote(params["ppt"]) if "ppt" in params else None
    if alg is not None and alg != "ES256":
        raise ShakenError(Reason.PARAM_ALG, f"alg={alg!r}; SHAKEN uses ES256")
    if ppt is not None and ppt != "shaken":
        raise ShakenError(Reason.PARAM_PPT, f"ppt={ppt!r}; expected shaken")
    return IdentityHeader(token, info[1:-1].strip(), alg, ppt)


def _parameters(rest: str) -> dict[str, str]:
    """`name=value` pairs separated by ';' (values may be <uri> or "quoted")."""
    params: dict[str, str] = {}
    i, n = 0, len(rest)
    while i < n:
        eq = rest.find("=", i)
        semi = rest.find(";", i)
        if eq < 0 or (0 <= semi < eq):
            name = rest[i : semi if semi >= 0 else n].strip()
            raise ShakenError(
                Reason.HEADER_MALFORMED, f"parameter {name or '(empty)'!r} has no value"
            )
        name = rest[i:eq].strip().lower()
        if not name or not all(ch.isalnum() or ch in "-_." for ch in name):
            raise ShakenError(Reason.HEADER_MALFORMED, f"bad parameter name {name[:20]!r}")
        j = eq + 1
        while j < n and rest[j] == " ":
            j += 1
        if j < n and rest[j] in '<"':
            close = rest.find(">" if rest[j] == "<" else '"', j + 1)
            if close < 0:
                raise ShakenError(Reason.HEADER_MALFORMED, f"parameter {name!r} is not closed")
            value = rest[j : close + 1]
            k = close + 1
            while k < n and rest[k] == " ":
                k += 1
            if k < n and rest[k] != ";":
                raise ShakenError(Reason.HEADER_MALFORMED, f"text after parameter {name!r}")
        else:
            k = rest.find(";", j)
            k = n if k < 0 else k
            value = rest[j:k].strip()
        if name in params:
            raise ShakenError(Reason.HEADER_MALFORMED, f"parameter {name!r} appears twice")
        params[name] = value
        i = k + 1
    return params


_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _b64url(segment: str, what: str) -> bytes:
    if not segment:
        raise ShakenError(Reason.JWS_MALFORMED, f"the {what} is empty")
    if not _B64URL.issuperset(segment):
        raise ShakenError(Reason.NOT_BASE64URL, f"the {what} has characters outside base64url")
    if len(segment) % 4 == 1:
        raise ShakenError(Reason.NOT_BASE64URL, f"the {what} has an impossible length (truncated?)")
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise ShakenError(Reason.NOT_BASE64URL, f"the {what} is not base64url") from None
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != segment:
        raise ShakenError(Reason.NOT_BASE64URL, f"the {what} is not canonical base64url")
    return raw


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ShakenError(Reason.NOT_JSON, f"the {what} is not UTF-8 JSON") from None
    if not isinstance(value, dict):
        raise ShakenError(Reason.NOT_JSON, f"the {what} is JSON but not an object")
    return value


@dataclass(frozen=True)
class Passport:
    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes

    @property
    def x5u(self) -> str:
        return str(self.header["x5u"])

    @property
    def attest(self) -> str:
        return str(self.claims["attest"])

    @property
    def orig(self) -> str:
        return str(self.claims["orig"]["tn"])

    @property
    def dest(self) -> tuple[str, ...]:
        return tuple(self.claims["dest"].get("tn", ()))

    @property
    def iat(self) -> int:
        return int(self.claims["iat"])


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    return {
        str: "a string",
        int: "a number",
        float: "a number",
        list: "an array",
        dict: "an object",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def _check_tn(value: Any, claim: str) -> None:
    if not isinstance(value, str) or not value or len(value) > 64:
        raise ShakenError(
            Reason.CLAIM_TYPE,
            f'{claim} "tn" must be a telephone-number string, found {_type_name(value)}',
        )
    if not all(ch.isdigit() or ch in "#*" for ch in value):
        raise ShakenError(
            Reason.CLAIM_TYPE, f'{claim} "tn" {value[:20]!r} is not in canonical form (digits only)'
        )


def _check_claims(claims: dict[str, Any]) -> None:
    for name in _REQUIRED_CLAIMS:
        if name not in claims:
            raise ShakenError(Reason.CLAIM_MISSING, f"the PASSporT has no {name!r} claim")
    orig, dest = claims["orig"], claims["dest"]
    if not isinstance(orig, dict):
        raise ShakenError(
            Reason.CLAIM_TYPE,
            f'orig must be an object {{"tn": ...}} (RFC 8225 §5.2.1), found {_type_name(orig)}',
        )
    if "tn" not in orig:
        raise ShakenError(Reason.CLAIM_TYPE, 'orig has no "tn" (SHAKEN identifies by number)')
    _check_tn(orig["tn"], "orig")
    if not isinstance(dest, dict):
        raise ShakenError(
            Reason.CLAIM_TYPE,
            f'dest must be an object {{"tn": [...]}} (RFC 8225 §5.2.1), found {_type_name(dest)}',
        )
    tns = dest.get("tn")
    if not isinstance(tns, list) or not tns:
        raise ShakenError(
            Reason.CLAIM_TYPE, f'dest "tn" must be a non-empty array, found {_type_name(tns)}'
        )
    for tn in tns:
        _check_tn(tn, "dest")
    iat = claims["iat"]
    if not isinstance(iat, int) or isinstance(iat, bool):
        raise ShakenError(Reason.CLAIM_TYPE, f"iat must be an integer, found {_type_name(iat)}")
    if claims["attest"] not in ATTESTATIONS:
        raise ShakenError(
            Reason.ATTEST, f"attest must be A, B or C, found {claims['attest']!r}"[:120]
        )
    origid = claims["origid"]
    if not isinstance(origid, str) or not origid:
        raise ShakenError(Reason.ORIGID, f"origid must be a string, found {_type_name(origid)}")
    try:
        uuid.UUID(origid)
    except ValueError:
        raise ShakenError(Reason.ORIGID, f"origid {origid[:40]!r} is not a UUID") from None


def decode_passport(token: str) -> Passport:
    """Read a compact-serialised SHAKEN PASSporT without checking its signature.

    Checks the structure, the header (alg ES256, ppt shaken, typ passport, x5u)
    and the claims' presence and types. Raises ShakenError.
    """
    parts = token.split(".")
    if len(parts) != 3:
        raise ShakenError(
            Reason.JWS_MALFORMED, f"a JWS has 3 dot-separated parts, this has {len(parts)}"
        )
    head_b64, body_b64, sig_b64 = parts
    if not body_b64 and head_b64 and sig_b64:
        raise ShakenError(
            Reason.COMPACT_FORM, "compact-form PASSporTs (empty payload) are not accepted"
        )
    header = _json_object(_b64url(head_b64, "JWS header"), "JWS header")
    alg = header.get("alg")
    if isinstance(alg, str) and alg.lower() == "none":
        raise ShakenError(Reason.ALG_NONE, 'alg "none" (unsigned) is never accepted')
    if alg != "ES256":
        raise ShakenError(Reason.ALG_UNSUPPORTED, f"alg {str(alg)[:20]!r}; SHAKEN requires ES256")
    if header.get("ppt") != "shaken":
        raise ShakenError(Reason.PPT, f"ppt {str(header.get('ppt'))[:20]!r}; expected 'shaken'")
    if header.get("typ") != "passport":
        raise ShakenError(Reason.TYP, f"typ {str(header.get('typ'))[:20]!r}; expected 'passport'")
    x5u = header.get("x5u")
    if not isinstance(x5u, str) or not x5u:
        raise ShakenError(Reason.X5U_MISSING, "the header has no x5u certificate URL")
    claims = _json_object(_b64url(body_b64, "JWS payload"), "JWS payload")
    _check_claims(claims)
    signature = _b64url(sig_b64, "JWS signature")
    if len(signature) != 64:
        raise ShakenError(
            Reason.SIGNATURE, f"an ES256 signature is 64 bytes, this one is {len(signature)}"
        )
    return Passport(header, claims, f"{head_b64}.{body_b64}".encode("ascii"), signature)
