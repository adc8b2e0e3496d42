"""A small test PKI: SP certificates with a proper TNAuthList, issued from the
reference CA key (../shared/data/stir-shaken-ref/ca/ca.priv) or from keys made here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, ObjectIdentifier

from aupguard.identity.tnauthlist import TNAUTHLIST_OID, TNAuthList, encode

REF = Path(__file__).resolve().parents[3] / "shared" / "data" / "stir-shaken-ref"
START = datetime(2020, 11, 1, tzinfo=UTC)


def load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def load_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def make_ca(
    cn: str = "Test STI-CA", key: ec.EllipticCurvePrivateKey | None = None
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = key or new_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(START)
        .not_valid_after(START + timedelta(days=365 * 20))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def issue_sp(
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    *,
    key: ec.EllipticCurvePrivateKey | None = None,
    spc: str | None = "1234",
    tnauth: bytes | None = None,
    numbers: tuple[str, ...] = (),
    not_before: datetime = START,
    days: int = 365 * 10,
    serial: int | None = None,
    ca: bool = False,
    cn: str = "Test STI-SP",
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """An SP (or intermediate, with ca=True) certificate issued by `ca_cert`."""
    key = key or new_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if tnauth is None and (spc is not None or numbers):
        tnauth = encode(TNAuthList(spcs=(spc,) if spc else (), numbers=numbers))
    if tnauth is not None:
        builder = builder.add_extension(
            x509.UnrecognizedExtension(ObjectIdentifier(TNAUTHLIST_OID), tnauth), critical=False
        )
    return builder.sign(ca_key, hashes.SHA256()), key


def pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


@dataclass
class RefPKI:
    """The reference CA and SP keys, with an SP certificate that has a real TNAuthList
    for the reference SP key (sp/sp.priv), issued by the reference CA (ca/ca.priv)."""

    ca: x509.Certificate
    ca_key: ec.EllipticCurvePrivateKey
    sp_key: ec.EllipticCurvePrivateKey
    sp: x509.Certificate


def ref_pki(ref: Path = REF) -> RefPKI:
    ca = load_cert(ref / "ca" / "ca.pem")
    ca_key = load_key(ref / "ca" / "ca.priv")
    sp_key = load_key(ref / "sp" / "sp.priv")
    sp, _ = issue_sp(ca, ca_key, key=sp_key, spc="1234")
    return RefPKI(ca, ca_key, sp_key, sp)
