"""Verification of incoming SIP Identity headers (RFC 8224 §6.2, ATIS-1000074 §5.3).

`ShakenVerifier.verify` checks, in order: the header's form, the PASSporT's
header and claims, that `orig`/`dest` are the call's numbers, `iat` freshness,
the x5u URL (allow-list), the certificate chain to the trust store, validity
and revocation, the TNAuthList (and, when configured, the allowed service
provider codes), then the ES256 signature. The result carries a verstat value
(TN-Validation-Passed / -Failed / No-TN-Validation), the attestation, and for a
failure a precise `Reason` with a sentence and the SIP code. It never raises on
bad input.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from jwt.algorithms import ECAlgorithm

from aupguard.identity.certs import CertificateCache
from aupguard.identity.numbering import e164, tn_digits
from aupguard.identity.passport import (
    Passport,
    Reason,
    ShakenError,
    decode_passport,
    parse_identity_header,
)

__all__ = ["ShakenVerifier", "Verification", "Verstat"]

Verstat = Literal["TN-Validation-Passed", "TN-Validation-Failed", "No-TN-Validation"]
_ES256 = ECAlgorithm(ECAlgorithm.SHA256)
PASSED: Verstat = "TN-Validation-Passed"
FAILED: Verstat = "TN-Validation-Failed"
NO_VALIDATION: Verstat = "No-TN-Validation"


@dataclass(frozen=True)
class Verification:
    verstat: Verstat
    reason: Reason | None = None
    detail: str = ""
    attest: str | None = None
    orig: str | None = None
    dest: tuple[str, ...] = ()
    origid: str | None = None
    iat: int | None = None
    x5u: str | None = None
    spc: str | None = None

    @property
    def passed(self) -> bool:
        return self.verstat == PASSED

    @property
    def sip_code(self) -> int | None:
        return self.reason.sip_code if self.reason is not None else None

    @property
    def verstat_attest(self) -> str:
        """verstat with the attestation appended, as some carriers send it (…-Passed-A)."""
        return f"{self.verstat}-{self.attest}" if self.passed and self.attest else self.verstat

    def to_dict(self) -> dict[str, Any]:
        return {
            "verstat": self.verstat,
            "reason": self.reason.value if self.reason else None,
            "detail": self.detail,
            "sip_code": self.sip_code,
            "attest": self.attest,
            "orig": self.orig,
            "dest": list(self.dest),
            "origid": self.origid,
            "iat": self.iat,
            "x5u": self.x5u,
            "spc": self.spc,
        }


def _tn(number: str | None) -> str | None:
    if not number:
        return None
    normal = e164(number)
    return tn_digits(normal) if normal else tn_digits(number) or None


class ShakenVerifier:
    """Verifies Identity headers against a trust store through a certificate cache.

    `max_age` is the freshness window for `iat` (RFC 8224 §4.1 recommends 60 s;
    local policy); `future_skew` how far in the future `iat` may be (clock skew).
    `allowed_spcs`, when given, lists the service provider codes accepted in a
    certificate's TNAuthList (e.g. the STI-PA's list of authorised providers).
    """

    def __init__(
        self,
        certificates: CertificateCache,
        *,
        max_age: float = 60.0,
        future_skew: float = 5.0,
        allowed_spcs: Iterable[str] | None = None,
    ) -> None:
        self.certificates = certificates
        self.max_age = max_age
        self.future_skew = future_skew
        self.allowed_spcs = frozenset(allowed_spcs) if allowed_spcs is not None else None

    def verify(
        self,
        header: str | None,
        *,
        now: datetime | None = None,
        caller: str | None = None,
        callee: str | None = None,
    ) -> Verification:
        """Verify one Identity header value for a call from `caller` to `callee`."""
        when = now or datetime.now(UTC)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        if header is None or not str(header).strip():
            return Verification(
                NO_VALIDATION, Reason.NO_IDENTITY, "the call has no Identity header"
            )
        passport: Passport | None = None
        try:
            parsed = parse_identity_header(header)
            passport = decode_passport(parsed.token)
            if parsed.info != passport.x5u:
                raise ShakenError(
                    Reason.INFO_MISMATCH, "the header's info=<...> is not the PASSporT's x5u"
                )
            spc = self._check(passport, when, caller, callee)
        except ShakenError as exc:
            return self._failure(exc, passport)
        except Exception as exc:  # a defect, not bad input: still a failure, never a crash
            return self._failure(
                ShakenError(Reason.HEADER_MALFORMED, f"unexpected {type(exc).__name__}"), passport
            )
        return Verification(
            PASSED,
            attest=passport.attest,
            orig=passport.orig,
            dest=passport.dest,
            origid=str(passport.claims["origid"]),
            iat=passport.iat,
            x5u=passport.x5u,
            spc=spc,
        )

    def _check(
        self, passport: Passport, when: datetime, caller: str | None, callee: str | None
    ) -> str | None:
        want_orig, want_dest = _tn(caller), _tn(callee)
        if want_orig is not None and passport.orig != want_orig:
            raise ShakenError(
                Reason.ORIG_MISMATCH, f"orig {passport.orig} is not the calling number {want_orig}"
            )
        if want_dest is not None and want_dest not in passport.dest:
            raise ShakenError(
                Reason.DEST_MISMATCH,
                f"dest {', '.join(passport.dest)} does not include the called number {want_dest}",
            )
        age = when.timestamp() - passport.iat
        if age > self.max_age:
            raise ShakenError(
                Reason.IAT_STALE, f"iat is {age:.0f} s old; the limit is {self.max_age:g} s"
            )
        if -age > self.future_skew:
            raise ShakenError(
                Reason.IAT_FUTURE,
                f"iat is {-age:.0f} s in the future; at most {self.future_skew:g} s of skew is allowed",
            )
        cert = self.certificates.get(passport.x5u, when)
        tnauth = cert.tnauth
        spc = tnauth.spcs[0] if tnauth.spcs else None
        if tnauth.spcs:
            if self.allowed_spcs is not None and not set(tnauth.spcs) & self.allowed_spcs:
                raise ShakenError(
                    Reason.SPC_NOT_ALLOWED,
                    f"service provider code {', '.join(tnauth.spcs)} is not on the allowed list",
                )
        elif not tnauth.covers(passport.orig):
            raise ShakenError(
                Reason.TN_NOT_AUTHORISED,
                f"the certificate's TNAuthList does not cover orig {passport.orig}",
            )
        if not _ES256.verify(passport.signing_input, cert.key, passport.signature):
            raise ShakenError(
                Reason.SIGNATURE, "the ES256 signature does not match the header and claims"
            )
        return spc

    @staticmethod
    def _failure(exc: ShakenError, passport: Passport | None) -> Verification:
        verstat = NO_VALIDATION if exc.reason is Reason.NO_IDENTITY else FAILED
        if passport is None:
            return Verification(verstat, exc.reason, exc.detail)
        return Verification(
            verstat,
            exc.reason,
            exc.detail,
            attest=passport.attest,
            orig=passport.orig,
            dest=passport.dest,
            iat=passport.iat,
            x5u=passport.x5u,
        )
