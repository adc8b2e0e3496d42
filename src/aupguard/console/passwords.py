"""Console passwords: the policy a new password must meet, and argon2id hashes.

The policy follows current guidance (NIST SP 800-63B) rather than composition
rules: long enough, not one of the passwords everybody tries first (with digits
or symbols stuck on either end), not the user's own name, not one character
repeated. Hashes are argon2id with argon2-cffi's RFC 9106 low-memory profile;
a hash made with older parameters is upgraded at the next sign-in.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = [
    "MAX_LENGTH",
    "MIN_LENGTH",
    "Passwords",
    "WeakPassword",
    "check_password_policy",
    "common_passwords",
]

MIN_LENGTH = 12
MAX_LENGTH = 256
"""Longer input is refused before hashing, so nobody makes the server hash megabytes."""
MIN_DISTINCT = 6


class WeakPassword(ValueError):
    """The password does not meet the policy; the message says why."""


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    text = resources.files("aupguard.console").joinpath("data/common-passwords.txt").read_text()
    words = (line.split("#", 1)[0].strip().lower() for line in text.splitlines())
    return frozenset(w for w in words if w)


def _core(password: str) -> str:
    """The password without the digits and symbols people add at either end."""
    return password.lower().strip("0123456789!@#$%^&*()-_=+.,;:?'\"~`[]{}<>/\\| ")


def check_password_policy(password: str, user_name: str) -> None:
    """Raise WeakPassword with the reason unless `password` is acceptable for `user_name`."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"a password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"a password has at most {MAX_LENGTH} characters")
    lowered = password.lower()
    name = user_name.lower()
    parts = {name, *name.replace("@", ".").replace("-", ".").replace("_", ".").split(".")}
    if any(len(p) >= 3 and p in lowered for p in parts):
        raise WeakPassword("a password must not contain the user name")
    if len(set(password)) < MIN_DISTINCT:
        raise WeakPassword(f"a password needs at least {MIN_DISTINCT} different characters")
    common = common_passwords()
    if lowered in common or _core(password) in common or _core(password) == "":
        raise WeakPassword("this password is among the most commonly used ones")


class Passwords:
    """argon2id hashing; tests pass cheaper parameters (the hash records its own)."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self.hasher = hasher or PasswordHasher(
            time_cost=3, memory_cost=65536, parallelism=4, type=Type.ID
        )
        self._dummy = self.hasher.hash("an unused password that evens out timing")

    def hash(self, password: str) -> str:
        if len(password) > MAX_LENGTH:
            raise WeakPassword(f"a password has at most {MAX_LENGTH} characters")
        return self.hasher.hash(password)

    def verify(self, stored: str, password: str) -> bool:
        if len(password) > MAX_LENGTH:
            return False
        try:
            return self.hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    def verify_nobody(self, password: str) -> None:
        """Spend the time of a verification when the user does not exist (no timing oracle)."""
        self.verify(self._dummy, password[:MAX_LENGTH])

    def needs_rehash(self, stored: str) -> bool:
        try:
            return self.hasher.check_needs_rehash(stored)
        except InvalidHashError:
            return True
