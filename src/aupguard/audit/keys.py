"""The Ed25519 key that signs audit checkpoints, scrub records and traceback bundles.

The private key lives outside the database and outside the repository: a PEM
file named by ``AUPGUARD_AUDIT_KEY_FILE`` (made by ``aupguard audit keygen``)
or the raw key, base64, in ``AUPGUARD_AUDIT_KEY``. Verifiers need only the
public key (``aupguard audit keygen`` prints it; ``--public-key`` takes it).
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "AuditKeyError",
    "Signer",
    "generate_key_file",
    "load_public_key",
    "load_signer",
    "public_key_text",
    "verify_signature",
]


class AuditKeyError(ValueError):
    """The key is missing, unreadable or of the wrong kind."""


def public_key_text(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


@dataclass(frozen=True, slots=True)
class Signer:
    key: Ed25519PrivateKey

    @property
    def key_id(self) -> str:
        """A short name for the key: the start of its public key."""
        return public_key_text(self.key.public_key())[:16]

    @property
    def public_key(self) -> str:
        return public_key_text(self.key.public_key())

    def sign(self, data: bytes) -> str:
        return base64.b64encode(self.key.sign(data)).decode()


def generate_key_file(path: Path) -> Signer:
    """Write a new private key (PEM, readable by the owner only); refuse to overwrite."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    return Signer(key)


def _from_file(path: Path) -> Signer:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise AuditKeyError(f"{path}: not a readable unencrypted PEM private key ({exc})") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise AuditKeyError(f"{path}: an Ed25519 key is needed")
    return Signer(key)


def load_signer(path: Path | None = None) -> Signer | None:
    """The signing key from `path`, else from the environment; None when none is configured."""
    if path is not None:
        return _from_file(path)
    raw = os.environ.get("AUPGUARD_AUDIT_KEY")
    if raw:
        try:
            return Signer(Ed25519PrivateKey.from_private_bytes(base64.b64decode(raw)))
        except ValueError as exc:
            raise AuditKeyError(
                f"AUPGUARD_AUDIT_KEY: not a base64 raw Ed25519 key ({exc})"
            ) from exc
    file = os.environ.get("AUPGUARD_AUDIT_KEY_FILE")
    return _from_file(Path(file)) if file else None


def load_public_key(text: str) -> Ed25519PublicKey:
    try:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
    except ValueError as exc:
        raise AuditKeyError(f"not a base64 Ed25519 public key ({exc})") from exc


def verify_signature(public_key: Ed25519PublicKey, signature: str, data: bytes) -> bool:
    try:
        public_key.verify(base64.b64decode(signature), data)
    except (InvalidSignature, ValueError):
        return False
    return True
