"""STI certificates: trust store, revocation data, x5u fetching and caching.

- `TrustStore`: the STI-CA root certificates a verifier accepts (PEM files).
- `Revocations`: certificate revocation lists given as files (PEM or DER); each
  CRL's signature is checked against its issuer in the trust store or chain.
- `CertificateFetcher`: fetches an x5u URL only from allowed hosts, over
  allowed schemes, with a size limit, a total time limit and no redirects.
- `CertificateCache`: keeps fetched and chain-checked certificates for a time,
  so a verification with a cached certificate costs one ECDSA verify.

Signatures are checked by `cryptography` (`verify_directly_issued_by`,
`CertificateRevocationList.is_signature_valid`); nothing here is hand-written crypto.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtensionOID, ObjectIdentifier

from aupguard.identity.passport import Reason, ShakenError
from aupguard.identity.tnauthlist import TNAUTHLIST_OID, TNAuthList, TNAuthListError, decode

__all__ = [
    "CachedCertificate",
    "CertificateCache",
    "CertificateFetcher",
    "Revocations",
    "TrustStore",
    "check_chain",
    "load_certificates",
]

_TNAUTH = ObjectIdentifier(TNAUTHLIST_OID)
MAX_CHAIN = 5


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """Certificates from PEM (one or more) or DER bytes. Raises ValueError."""
    if b"-----BEGIN" in data[:4096]:
        certs = x509.load_pem_x509_certificates(data)
    else:
        certs = [x509.load_der_x509_certificate(data)]
    if not certs:
        raise ValueError("no certificate found")
    return certs


class TrustStore:
    """The STI-CA roots (trust anchors) certificates must chain to."""

    def __init__(self, roots: Iterable[x509.Certificate]) -> None:
        self.roots = tuple(roots)
        self._by_subject: dict[bytes, list[x509.Certificate]] = {}
        for root in self.roots:
            self._by_subject.setdefault(root.subject.public_bytes(), []).append(root)

    @classmethod
    def from_paths(cls, paths: Iterable[Path | str]) -> TrustStore:
        """Roots from PEM/DER files, or every *.pem / *.0 file of the folders given."""
        roots: list[x509.Certificate] = []
        for item in paths:
            path = Path(item)
            files = (
                sorted(p for p in path.iterdir() if p.suffix in (".pem", ".crt", ".0"))
                if path.is_dir()
                else [path]
            )
            for file in files:
                try:
                    roots.extend(load_certificates(file.read_bytes()))
                except ValueError as exc:
                    raise ValueError(f"{file}: not a certificate ({exc})") from None
        unique = {r.fingerprint(hashes.SHA256()): r for r in roots}
        return cls(unique.values())

    def issuers_of(self, cert: x509.Certificate) -> list[x509.Certificate]:
        return self._by_subject.get(cert.issuer.public_bytes(), [])

    def __len__(self) -> int:
        return len(self.roots)


class Revocations:
    """Serial numbers revoked by CRLs read from files (key: issuer name, serial)."""

    def __init__(self, crls: Iterable[x509.CertificateRevocationList] = ()) -> None:
        self.crls = tuple(crls)
        self._revoked: dict[tuple[bytes, int], datetime] = {}
        self._verified: set[int] = set()
        for crl in self.crls:
            for entry in crl:
                self._revoked[(crl.issuer.public_bytes(), entry.serial_number)] = (
                    entry.revocation_date_utc
                )

    @classmethod
    def from_paths(cls, paths: Iterable[Path | str]) -> Revocations:
        crls: list[x509.CertificateRevocationList] = []
        for item in paths:
            data = Path(item).read_bytes()
            try:
                crl = (
                    x509.load_pem_x509_crl(data)
                    if b"-----BEGIN" in data[:64]
                    else x509.load_der_x509_crl(data)
                )
            except ValueError as exc:
                raise ValueError(f"{item}: not a certificate revocation list ({exc})") from None
            crls.append(crl)
        return cls(crls)

    def check(self, chain: list[x509.Certificate], store: TrustStore) -> None:
        """Raise ShakenError if a certificate of the chain is revoked by a CRL whose
        signature its issuer vouches for."""
        if not self._revoked:
            return
        signers = [*chain, *store.roots]
        for cert in chain:
            key = (cert.issuer.public_bytes(), cert.serial_number)
            when = self._revoked.get(key)
            if when is None:
                continue
            for crl in self.crls:
                if crl.issuer.public_bytes() != key[0]:
                    continue
                for signer in signers:
                    if signer.subject != crl.issuer:
                        continue
                    public = signer.public_key()
                    if isinstance(public, ec.EllipticCurvePublicKey) and crl.is_signature_valid(
                        public
                    ):
                        raise ShakenError(
                            Reason.CERT_REVOKED,
                            f"certificate serial {cert.serial_number} of {cert.subject.rfc4514_string()[:80]} "
                            f"was revoked on {when:%Y-%m-%d}",
                        )


@dataclass(frozen=True)
class CachedCertificate:
    """A fetched certificate chain that chained to the trust store when it was checked."""

    url: str
    chain: tuple[x509.Certificate, ...]
    key: ec.EllipticCurvePublicKey
    tnauth: TNAuthList
    not_before: datetime
    not_after: datetime
    fetched: float
    expires: float = field(compare=False)

    def check_time(self, now: datetime) -> None:
        if now < self.not_before:
            raise ShakenError(
                Reason.CERT_NOT_YET_VALID,
                f"a certificate of the chain is valid from {self.not_before:%Y-%m-%d %H:%M}Z",
            )
        if now > self.not_after:
            raise ShakenError(
                Reason.CERT_EXPIRED,
                f"a certificate of the chain expired on {self.not_after:%Y-%m-%d %H:%M}Z",
            )


def _tnauth(cert: x509.Certificate) -> TNAuthList:
    try:
        ext = cert.extensions.get_extension_for_oid(_TNAUTH)
    except x509.ExtensionNotFound:
        raise ShakenError(
            Reason.TNAUTH_MISSING,
            "the certificate has no TNAuthList extension (1.3.6.1.5.5.7.1.26)",
        ) from None
    value = ext.value
    raw = value.value if isinstance(value, x509.UnrecognizedExtension) else b""
    try:
        return decode(raw)
    except TNAuthListError as exc:
        raise ShakenError(Reason.TNAUTH_MALFORMED, str(exc)) from None


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        value = cert.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS).value
    except x509.ExtensionNotFound:
        return False
    return isinstance(value, x509.BasicConstraints) and value.ca


def check_chain(
    certs: list[x509.Certificate], store: TrustStore, now: datetime
) -> tuple[list[x509.Certificate], TNAuthList]:
    """Build and check the chain from the leaf (first certificate) to a trust anchor.

    Each link's signature is checked by `cryptography`; every issuer must be a CA;
    every certificate must be valid at `now`. Returns the chain and the leaf's
    TNAuthList. Raises ShakenError.
    """
    leaf = certs[0]
    public = leaf.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey) or public.curve.name != "secp256r1":
        raise ShakenError(Reason.KEY_TYPE, "the certificate's key is not an EC P-256 key")
    intermediates = certs[1:]
    chain = [leaf]
    current = leaf
    for _ in range(MAX_CHAIN):
        _valid_at(current, now)
        for root in store.issuers_of(current):
            if _issued_by(current, root):
                _valid_at(root, now)
                chain.append(root)
                return chain, _tnauth(leaf)
        nxt = next(
            (
                c
                for c in intermediates
                if c.subject == current.issuer and _is_ca(c) and _issued_by(current, c)
            ),
            None,
        )
        if nxt is None:
            break
        chain.append(nxt)
        current = nxt
    raise ShakenError(
        Reason.CHAIN_UNTRUSTED,
        f"{leaf.subject.rfc4514_string()[:80]} (issuer {leaf.issuer.rfc4514_string()[:80]}) "
        "does not chain to a trusted STI-CA",
    )


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if not _is_ca(issuer):
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):  # wrong signer, or unsupported algorithm
        return False
    return True


def _valid_at(cert: x509.Certificate, now: datetime) -> None:
    if now < cert.not_valid_before_utc:
        raise ShakenError(
            Reason.CERT_NOT_YET_VALID,
            f"{cert.subject.rfc4514_string()[:80]} is valid from {cert.not_valid_before_utc:%Y-%m-%d %H:%M}Z",
        )
    if now > cert.not_valid_after_utc:
        raise ShakenError(
            Reason.CERT_EXPIRED,
            f"{cert.subject.rfc4514_string()[:80]} expired on {cert.not_valid_after_utc:%Y-%m-%d %H:%M}Z",
        )


class CertificateFetcher:
    """Fetches x5u certificates from allowed hosts with size and time limits."""

    def __init__(
        self,
        allowed_hosts: Iterable[str],
        *,
        schemes: Iterable[str] = ("https",),
        max_bytes: int = 64 * 1024,
        timeout: float = 2.0,
    ) -> None:
        self.allowed_hosts = frozenset(h.lower() for h in allowed_hosts)
        self.schemes = frozenset(s.lower() for s in schemes)
        self.max_bytes = max_bytes
        self.timeout = timeout
        self._opener = urllib.request.build_opener(_NoRedirect())

    def check_url(self, url: str) -> None:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise ShakenError(Reason.X5U_FETCH, f"x5u {url[:80]!r} is not a URL") from None
        if parts.scheme.lower() not in self.schemes:
            raise ShakenError(
                Reason.X5U_SCHEME,
                f"x5u scheme {parts.scheme or '(none)'!r} is not allowed ({', '.join(sorted(self.schemes))})",
            )
        host = (parts.hostname or "").lower()
        hostport = f"{host}:{port}" if port else host
        if host not in self.allowed_hosts and hostport not in self.allowed_hosts:
            raise ShakenError(
                Reason.X5U_HOST, f"x5u host {hostport[:80]!r} is not on the allow-list"
            )

    def fetch(self, url: str) -> bytes:
        self.check_url(url)
        deadline = time.monotonic() + self.timeout
        request = urllib.request.Request(
            url, headers={"Accept": "application/pem-certificate-chain, application/pkix-cert"}
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                status = getattr(response, "status", 200)
                if status != 200:
                    raise ShakenError(Reason.X5U_FETCH, f"x5u answered HTTP {status}")
                length = response.headers.get("Content-Length")
                if length is not None and length.isdigit() and int(length) > self.max_bytes:
                    raise ShakenError(
                        Reason.X5U_TOO_LARGE,
                        f"x5u announces {int(length)} bytes; the limit is {self.max_bytes}",
                    )
                chunks: list[bytes] = []
                size = 0
                while True:
                    if time.monotonic() > deadline:
                        raise ShakenError(
                            Reason.X5U_TIMEOUT, f"x5u took longer than {self.timeout:g} s"
                        )
                    chunk = response.read(min(16_384, self.max_bytes + 1 - size))
                    if not chunk:
                        break
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise ShakenError(
                            Reason.X5U_TOO_LARGE, f"x5u is larger than {self.max_bytes} bytes"
                        )
                    chunks.append(chunk)
                return b"".join(chunks)
        except ShakenError:
            raise
        except urllib.error.HTTPError as exc:
            raise ShakenError(Reason.X5U_FETCH, f"x5u answered HTTP {exc.code}") from None
        except TimeoutError:
            raise ShakenError(
                Reason.X5U_TIMEOUT, f"x5u took longer than {self.timeout:g} s"
            ) from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise ShakenError(
                    Reason.X5U_TIMEOUT, f"x5u took longer than {self.timeout:g} s"
                ) from None
            raise ShakenError(
                Reason.X5U_FETCH, f"x5u could not be fetched: {str(exc.reason)[:100]}"
            ) from None
        except (OSError, ValueError) as exc:
            raise ShakenError(
                Reason.X5U_FETCH, f"x5u could not be fetched: {type(exc).__name__}"
            ) from None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect could lead off the allow-list: treat it as a failed fetch."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class CertificateCache:
    """x5u URL -> checked certificate chain, kept for `ttl` seconds (at most `size` entries).

    `fetch` is a function from URL to bytes (a `CertificateFetcher`, or a local
    map for offline use). Certificates are chain-checked once when fetched;
    each use re-checks only their validity period and the revocation data.
    """

    def __init__(
        self,
        fetch: Callable[[str], bytes],
        store: TrustStore,
        *,
        revocations: Revocations | None = None,
        ttl: float = 3600.0,
        size: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.fetch = fetch
        self.store = store
        self.revocations = revocations or Revocations()
        self.ttl = ttl
        self.size = size
        self.clock = clock
        self._entries: OrderedDict[str, CachedCertificate] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, url: str, now: datetime) -> CachedCertificate:
        """The checked certificate for `url` at time `now`. Raises ShakenError."""
        check_url = getattr(self.fetch, "check_url", None)
        if check_url is not None:
            check_url(url)  # the allow-list applies to cached entries too
        mono = self.clock()
        with self._lock:
            entry = self._entries.get(url)
            if entry is not None and entry.expires > mono:
                self._entries.move_to_end(url)
                self.hits += 1
            else:
                entry = None
        if entry is None:
            self.misses += 1
            entry = self._load(url, now, mono)
            with self._lock:
                self._entries[url] = entry
                self._entries.move_to_end(url)
                while len(self._entries) > self.size:
                    self._entries.popitem(last=False)
        entry.check_time(now)
        self.revocations.check(list(entry.chain), self.store)
        return entry

    def _load(self, url: str, now: datetime, mono: float) -> CachedCertificate:
        data = self.fetch(url)
        try:
            certs = load_certificates(data)
        except ValueError:
            raise ShakenError(
                Reason.X5U_NOT_CERT, "x5u did not return a PEM or DER certificate"
            ) from None
        chain, tnauth = check_chain(certs, self.store, now)
        key = chain[0].public_key()
        assert isinstance(key, ec.EllipticCurvePublicKey)  # check_chain checked it
        return CachedCertificate(
            url=url,
            chain=tuple(chain),
            key=key,
            tnauth=tnauth,
            not_before=max(c.not_valid_before_utc for c in chain),
            not_after=min(c.not_valid_after_utc for c in chain),
            fetched=mono,
            expires=mono + self.ttl,
        )

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
