"""TOTP secrets sealed at rest: AES-256-GCM with a key kept outside the database.

The key is 32 random bytes, base64, in `AUPGUARD_CONSOLE_KEY` or in the file
named by `AUPGUARD_CONSOLE_KEY_FILE` (make one with `aupguard console keygen`).
A sealed secret is stored as ``v1:`` and the URL-safe base64 of nonce (12
bytes), ciphertext and tag; the user's id is the associated data, so a sealed
secret copied onto another user's row does not open. Without a key, secrets are
stored as they are (and a sealed one cannot be read: the error says so); a
secret stored in clear before the key was set is read as it is and sealed at
the user's next save.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["PREFIX", "ConsoleKeyError", "SecretBox", "new_key", "open_secret", "seal_secret"]

PREFIX = "v1:"
ENV_KEY = "AUPGUARD_CONSOLE_KEY"
ENV_KEY_FILE = "AUPGUARD_CONSOLE_KEY_FILE"


class ConsoleKeyError(ValueError):
    """The console key is missing, malformed, or not the one a secret was sealed with."""


def new_key() -> str:
    """A new key, as base64 text."""
    return base64.b64encode(os.urandom(32)).decode()


class SecretBox:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ConsoleKeyError(f"the console key must be 32 bytes (base64), not {len(key)}")
        self._aead = AESGCM(key)

    @classmethod
    def from_text(cls, text: str, where: str) -> SecretBox:
        try:
            return cls(base64.b64decode(text.strip(), validate=True))
        except (binascii.Error, ValueError) as exc:
            if isinstance(exc, ConsoleKeyError):
                raise ConsoleKeyError(f"{where}: {exc}") from exc
            raise ConsoleKeyError(f"{where}: not base64 ({exc})") from exc

    @classmethod
    def from_env(cls) -> SecretBox | None:
        """The key of AUPGUARD_CONSOLE_KEY or AUPGUARD_CONSOLE_KEY_FILE (None: neither)."""
        text = os.environ.get(ENV_KEY)
        if text:
            return cls.from_text(text, ENV_KEY)
        path = os.environ.get(ENV_KEY_FILE)
        if path:
            try:
                content = Path(path).read_text("ascii")
            except (OSError, UnicodeDecodeError) as exc:
                raise ConsoleKeyError(f"{ENV_KEY_FILE}: cannot read {path} ({exc})") from exc
            return cls.from_text(content, f"{ENV_KEY_FILE} ({path})")
        return None

    def seal(self, secret: str, context: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, secret.encode(), context.encode())
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, stored: str, context: str) -> str:
        try:
            raw = base64.urlsafe_b64decode(stored[len(PREFIX) :])
            if len(raw) < 12 + 16:
                raise InvalidTag
            return self._aead.decrypt(raw[:12], raw[12:], context.encode()).decode()
        except (InvalidTag, binascii.Error, ValueError) as exc:
            raise ConsoleKeyError(
                f"the TOTP secret of console user {context} does not open with the console "
                "key (another key, or the row was changed)"
            ) from exc


def seal_secret(box: SecretBox | None, secret: str, context: str) -> str:
    return box.seal(secret, context) if box is not None else secret


def open_secret(box: SecretBox | None, stored: str, context: str) -> str:
    if not stored.startswith(PREFIX):
        return stored  # stored in clear (no key then)
    if box is None:
        raise ConsoleKeyError(
            f"the TOTP secret of console user {context} is sealed: set {ENV_KEY} "
            f"or {ENV_KEY_FILE} to the console key"
        )
    return box.open(stored, context)
