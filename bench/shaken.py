"""STIR/SHAKEN PASSporT signing and verification speed, against raw ECDSA.

Baselines, measured in the same process on the same data: `cryptography`'s
ECDSA P-256/SHA-256 sign, and verify of a DER signature with the public key -
the one operation each side cannot avoid. `sign` is `sign_passport` +
`identity_header` (claims, canonical JSON, base64url, ES256 via PyJWT);
`verify` is `ShakenVerifier.verify` with the certificate already in the cache
(header parsing, claim checks, freshness, validity and revocation look-ups,
TNAuthList, signature). Single thread, so one core.

Uses a key and a certificate made here (no ../shared/data needed).

    python bench/shaken.py            # or: python bench/run.py shaken
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, ObjectIdentifier

from aupguard.identity.certs import CertificateCache, TrustStore
from aupguard.identity.passport import identity_header, sign_passport
from aupguard.identity.tnauthlist import TNAUTHLIST_OID, TNAuthList, encode
from aupguard.identity.verify import ShakenVerifier
from bench.common import interleaved, report, summary

N = 1500
X5U = "https://certs.example/sp.pem"


def _pki() -> tuple[ec.EllipticCurvePrivateKey, bytes, x509.Certificate]:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Bench STI-CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    sp = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Bench STI-SP")]))
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(2)
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.UnrecognizedExtension(
                ObjectIdentifier(TNAUTHLIST_OID), encode(TNAuthList(spcs=("1234",)))
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, sp.public_bytes(serialization.Encoding.PEM), ca


def main() -> None:
    key, sp_pem, ca = _pki()
    public = key.public_key()
    now = datetime.now(UTC)
    iat = int(now.timestamp())
    callers = [f"1202555{i % 10000:04d}" for i in range(N)]

    def sign(orig: str) -> str:
        token = sign_passport(key, x5u=X5U, orig=orig, dest="14155550123", attest="A", iat=iat)
        return identity_header(token, X5U)

    headers = [sign(c) for c in callers]
    inputs = [h.split(";")[0].rsplit(".", 1)[0].encode() for h in headers]
    ecdsa = ec.ECDSA(hashes.SHA256())
    der = [key.sign(m, ecdsa) for m in inputs]
    cache = CertificateCache(lambda _url: sp_pem, TrustStore([ca]))
    verifier = ShakenVerifier(cache, max_age=3600)
    assert all(verifier.verify(h, now=now).passed for h in headers[:50])

    def raw_sign(message: bytes) -> object:
        return key.sign(message, ecdsa)

    def raw_verify(pair: tuple[bytes, bytes]) -> object:
        public.verify(pair[1], pair[0], ecdsa)
        return None

    def verify(header: str) -> object:
        return verifier.verify(header, now=now)

    started = time.perf_counter()
    samples = interleaved(
        {
            "raw_sign": (raw_sign, inputs),
            "passport_sign": (sign, callers),
            "raw_verify": (raw_verify, list(zip(inputs, der, strict=True))),
            "passport_verify": (verify, headers),
        },
        passes=3,
    )
    stats = {name: summary(values) for name, values in samples.items()}
    report(
        "shaken",
        {
            "passports": N,
            "seconds": round(time.perf_counter() - started, 1),
            **stats,
            "sign_per_second": stats["passport_sign"]["per_second"],
            "verify_per_second": stats["passport_verify"]["per_second"],
            "sign_ratio_to_raw_ecdsa": stats["passport_sign"]["mean_us"]
            / stats["raw_sign"]["mean_us"],
            "verify_ratio_to_raw_ecdsa": stats["passport_verify"]["mean_us"]
            / stats["raw_verify"]["mean_us"],
            "cache_hits": cache.hits,
            "cache_misses": cache.misses,
        },
    )


if __name__ == "__main__":
    main()
