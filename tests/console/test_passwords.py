"""The password policy and the argon2id hashes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aupguard.console import Passwords, WeakPassword, check_password_policy
from aupguard.console.passwords import MAX_LENGTH, common_passwords
from tests.console.conftest import cheap_passwords


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short1!", "at least 12"),
        ("aaaaaaaaaaaaaaaa", "different characters"),
        ("abababab12121212", "different characters"),
        ("password", "at least 12"),
        ("Password2024!", "commonly used"),
        ("!!Qwertyuiop99", "commonly used"),
        ("123456789012", "commonly used"),
        ("IloveYou1234567", "commonly used"),
        ("rita.hughes-2026!", "user name"),
        ("my HUGHES family tree", "user name"),
        ("x" * (MAX_LENGTH + 1), "at most"),
    ],
)
def test_weak_passwords_are_refused_with_the_reason(password: str, reason: str) -> None:
    with pytest.raises(WeakPassword, match=reason):
        check_password_policy(password, "rita.hughes")


@pytest.mark.parametrize(
    "password",
    ["correct horse battery staple", "Tr0ub4dor&3-but-longer", "ꙮ many eyes, one password ꙮ"],
)
def test_good_passwords_pass(password: str) -> None:
    check_password_policy(password, "rita.hughes")


def test_the_common_list_is_bundled_and_lower_case() -> None:
    words = common_passwords()
    assert len(words) > 150
    assert "password" in words
    assert all(w == w.lower() and w.strip() == w for w in words)


@given(
    name=st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=12),
    before=st.text(min_size=0, max_size=10),
    after=st.text(min_size=12, max_size=20),
)
def test_a_password_containing_the_name_is_always_refused(
    name: str, before: str, after: str
) -> None:
    with pytest.raises(WeakPassword, match="user name"):
        check_password_policy(before + name.upper() + after, name)


def test_hashes_are_argon2id_and_verify() -> None:
    passwords = cheap_passwords()
    stored = passwords.hash("correct horse battery staple")
    assert stored.startswith("$argon2id$")
    assert passwords.verify(stored, "correct horse battery staple")
    assert not passwords.verify(stored, "correct horse battery stapler")
    assert not passwords.verify("not a hash", "anything")
    assert not passwords.verify(stored, "x" * (MAX_LENGTH + 1))
    assert passwords.needs_rehash("not a hash")


def test_default_parameters_are_rfc_9106_low_memory() -> None:
    stored = Passwords().hash("correct horse battery staple")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
