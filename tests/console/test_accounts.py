"""The console account service: creation, least privilege, passwords, second factor, lockout."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pyotp
import pytest

from aupguard.actors import Actor, Forbidden, Role
from aupguard.console import Accounts, Lockout, UserNotFound, WeakPassword
from aupguard.console.store import DuplicateUser
from tests.console.conftest import ADMIN, PASSWORD, Clock, make_user

ACME_ADMIN = Actor(id="user:ann", roles=frozenset({Role.TENANT_ADMIN}), tenant="acme")
REVIEWER = Actor(id="user:rev", roles=frozenset({Role.REVIEWER}))


def test_created_users_get_argon2id_hashes_and_an_unconfirmed_totp(accounts: Accounts) -> None:
    made = accounts.create(ADMIN, "Rita", None, ["reviewer"], PASSWORD)
    user = made.user
    assert user.name == "rita"
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    assert not user.totp_confirmed
    assert made.otpauth_uri.startswith("otpauth://totp/aupguard:rita?secret=")
    assert user.totp_secret in made.otpauth_uri
    assert user.actor() == Actor(id="user:rita", roles=frozenset({Role.REVIEWER}))


def test_roles_must_fit_the_kind_of_user(accounts: Accounts) -> None:
    with pytest.raises(ValueError, match="staff users take"):
        accounts.create(ADMIN, "sam", None, ["sender"], PASSWORD)
    with pytest.raises(ValueError, match="tenant users take"):
        accounts.create(ADMIN, "sam", "acme", ["admin"], PASSWORD)
    with pytest.raises(ValueError, match="at least one role"):
        accounts.create(ADMIN, "sam", "acme", [], PASSWORD)
    made = accounts.create(ADMIN, "sam", "acme", ["tenant_admin", "viewer"], PASSWORD)
    assert made.user.actor().tenant == "acme"


def test_a_name_is_taken_once(accounts: Accounts) -> None:
    accounts.create(ADMIN, "sam", "acme", ["viewer"], PASSWORD)
    with pytest.raises(DuplicateUser):
        accounts.create(ADMIN, "SAM", "globex", ["viewer"], PASSWORD)


def test_weak_passwords_are_refused_when_a_user_is_made(accounts: Accounts) -> None:
    with pytest.raises(WeakPassword, match="12 characters"):
        accounts.create(ADMIN, "sam", None, ["reviewer"], "short")
    with pytest.raises(WeakPassword, match="commonly used"):
        accounts.create(ADMIN, "sam", None, ["reviewer"], "Password2024!!")
    with pytest.raises(WeakPassword, match="user name"):
        accounts.create(ADMIN, "samantha", None, ["reviewer"], "samantha-likes-tea")
    assert accounts.users.by_name("sam") is None


def test_least_privilege_in_user_management(accounts: Accounts) -> None:
    theirs = accounts.create(ADMIN, "gus", "globex", ["viewer"], PASSWORD).user
    # a tenant admin manages its own tenant's users only, and never staff
    made = accounts.create(ACME_ADMIN, "ann2", "acme", ["sender"], PASSWORD)
    assert made.user.tenant == "acme"
    with pytest.raises(Forbidden):
        accounts.create(ACME_ADMIN, "evil", "globex", ["tenant_admin"], PASSWORD)
    with pytest.raises(Forbidden):
        accounts.create(ACME_ADMIN, "evil", None, ["admin"], PASSWORD)
    with pytest.raises(Forbidden):
        accounts.users_of(ACME_ADMIN, "globex")
    with pytest.raises(Forbidden):
        accounts.revoke(ACME_ADMIN, "globex", theirs.id)
    # a reviewer manages nobody, and cannot run the membership review
    with pytest.raises(Forbidden):
        accounts.users_of(REVIEWER, None)
    with pytest.raises(Forbidden):
        accounts.set_roles(REVIEWER, None, theirs.id, ["admin"])
    with pytest.raises(Forbidden):
        accounts.inactive_staff(REVIEWER)
    with pytest.raises(Forbidden):
        accounts.inactive_staff(ACME_ADMIN)


def test_another_tenants_user_is_not_found(accounts: Accounts) -> None:
    theirs = accounts.create(ADMIN, "gus", "globex", ["viewer"], PASSWORD).user
    with pytest.raises(UserNotFound):
        accounts.get(ACME_ADMIN, "acme", theirs.id)
    with pytest.raises(UserNotFound):
        accounts.set_roles(ACME_ADMIN, "acme", theirs.id, ["tenant_admin"])
    assert accounts.users.find("globex", theirs.id) == theirs


def test_password_check(accounts: Accounts) -> None:
    person = make_user(accounts, "rita", None, "reviewer")
    assert accounts.check_password("rita", PASSWORD).user == person.user
    assert accounts.check_password("RITA", PASSWORD).ok
    assert not accounts.check_password("rita", PASSWORD + "x").ok
    assert not accounts.check_password("nobody", PASSWORD).ok
    assert not accounts.check_password("a b", PASSWORD).ok
    assert not accounts.check_password("rita", "x" * 10_000).ok


def test_lockout_backs_off_and_a_success_resets_it(accounts: Accounts, clock: Clock) -> None:
    make_user(accounts, "rita", None, "reviewer")
    for _ in range(4):
        result = accounts.check_password("rita", "wrong password!")
        assert not result.ok
        assert result.locked_until is None
    fifth = accounts.check_password("rita", "wrong password!")
    assert fifth.locked_until == clock.now + timedelta(minutes=1)
    # while locked even the right password is refused
    assert not accounts.check_password("rita", PASSWORD).ok
    clock.advance(minutes=1, seconds=1)
    sixth = accounts.check_password("rita", "wrong password!")
    assert sixth.locked_until == clock.now + timedelta(minutes=2)  # doubled
    clock.advance(minutes=2, seconds=1)
    good = accounts.check_password("rita", PASSWORD)
    assert good.user is not None
    accounts.signed_in(good.user)
    again = accounts.check_password("rita", "wrong password!")
    assert again.locked_until is None  # the count started again


def test_lockout_is_capped() -> None:
    policy = Lockout(threshold=3, first=timedelta(minutes=1), longest=timedelta(minutes=10))
    clock = Clock()
    assert policy.until(2, clock.now) is None
    assert policy.until(3, clock.now) == clock.now + timedelta(minutes=1)
    assert policy.until(5, clock.now) == clock.now + timedelta(minutes=4)
    assert policy.until(500, clock.now) == clock.now + timedelta(minutes=10)


def test_a_totp_code_works_once(accounts: Accounts, clock: Clock) -> None:
    person = make_user(accounts, "rita", None, "reviewer")
    clock.advance(seconds=60)
    code = person.totp.at(clock.now)
    assert accounts.check_totp(person.user, code)
    assert not accounts.check_totp(person.user, code)  # replayed
    clock.advance(seconds=30)
    assert accounts.check_totp(person.user, person.totp.at(clock.now))
    assert not accounts.check_totp(person.user, "12345")
    assert not accounts.check_totp(person.user, pyotp.TOTP(pyotp.random_base32()).at(clock.now))


def test_wrong_codes_count_towards_the_lockout(accounts: Accounts) -> None:
    person = make_user(accounts, "rita", None, "reviewer")
    for _ in range(5):
        assert not accounts.check_totp(person.user, "000000x")
    assert accounts.fresh(None, person.user.id) is None  # locked


def test_recovery_codes_are_hashed_and_single_use(accounts: Accounts, clock: Clock) -> None:
    made = accounts.create(ADMIN, "rita", None, ["reviewer"], PASSWORD)
    codes = accounts.confirm_enrolment(made.user, pyotp.TOTP(made.user.totp_secret).at(clock.now))
    assert codes is not None
    assert len(codes) == 10
    assert len(set(codes)) == 10
    user = made.user
    assert accounts.users.recovery_codes_left(None, user.id) == 10
    assert accounts.use_recovery_code(user, codes[3].upper())  # case and dashes do not matter
    assert not accounts.use_recovery_code(user, codes[3])
    assert accounts.users.recovery_codes_left(None, user.id) == 9


def test_resetting_the_second_factor(accounts: Accounts, clock: Clock) -> None:
    person = make_user(accounts, "rita", None, "reviewer")
    reset = accounts.reset_second_factor(ADMIN, None, person.user.id)
    assert not reset.user.totp_confirmed
    assert reset.user.totp_secret != person.user.totp_secret
    assert accounts.users.recovery_codes_left(None, person.user.id) == 0
    assert accounts.check_password("rita", PASSWORD).user == reset.user


def test_membership_review_lists_staff_inactive_for_90_days(
    accounts: Accounts, clock: Clock
) -> None:
    old = make_user(accounts, "olga", None, "reviewer")
    tenant_user = make_user(accounts, "tina", "acme", "viewer")
    clock.advance(days=60)
    recent = make_user(accounts, "rita", None, "legal")
    clock.advance(days=31)
    assert [u.name for u in accounts.inactive_staff(ADMIN)] == ["olga"]
    accounts.signed_in(old.user)
    assert accounts.inactive_staff(ADMIN) == []
    clock.advance(days=60)
    assert [u.name for u in accounts.inactive_staff(ADMIN)] == ["rita"]
    accounts.revoke(ADMIN, None, recent.user.id)
    assert accounts.inactive_staff(ADMIN) == []
    assert not accounts.check_password("rita", PASSWORD).ok  # revoked
    assert tenant_user.user.tenant == "acme"


def test_revoked_users_are_not_fresh(accounts: Accounts) -> None:
    person = make_user(accounts, "rita", None, "reviewer")
    assert accounts.fresh(None, person.user.id) is not None
    accounts.revoke(ADMIN, None, person.user.id)
    assert accounts.fresh(None, person.user.id) is None
    assert accounts.fresh("acme", person.user.id) is None


def test_a_rehash_upgrades_old_parameters(accounts: Accounts) -> None:
    person = make_user(accounts, "rita", None, "reviewer")
    weaker = Accounts(accounts.users, clock=accounts.clock)  # production parameters
    stored = replace(person.user)
    result = weaker.check_password("rita", PASSWORD)
    assert result.user is not None
    assert result.user.password_hash != stored.password_hash
    assert "m=65536" in result.user.password_hash


def test_a_new_password_differs_from_the_last_five(accounts: Accounts, clock: Clock) -> None:
    person = make_user(accounts, "rita", None, "reviewer")
    user = person.user
    steps = [f"blue {n} harbour lantern" for n in ("one", "two", "three", "four", "five")]
    current = PASSWORD
    for new in steps[:4]:
        clock.advance(days=1)
        user = accounts.change_password(user, current, new)
        current = new
    assert user.password_changed_at == clock.now
    assert len(user.password_history) == 4
    with pytest.raises(WeakPassword, match="last 5 passwords"):
        accounts.change_password(user, current, PASSWORD)
    user = accounts.change_password(user, current, steps[4])
    assert accounts.change_password(user, steps[4], PASSWORD).password_history[0] != ""
    forgetful = Accounts(accounts.users, accounts.passwords, clock=clock, password_history=0)
    fresh = forgetful.users.find(None, user.id)
    assert fresh is not None
    assert forgetful.change_password(fresh, PASSWORD, steps[4]).password_history == ()


def test_passwords_expire_after_the_maximum_age_unless_it_is_zero(
    accounts: Accounts, clock: Clock
) -> None:
    person = make_user(accounts, "rita", None, "reviewer")
    assert accounts.password_max_age == timedelta(days=180)
    clock.advance(days=179)
    assert not accounts.password_expired(person.user)
    clock.advance(days=1)
    assert accounts.password_expired(person.user)
    changed = accounts.change_password(person.user, PASSWORD, "blue harbour lantern at dusk")
    assert not accounts.password_expired(changed)
    never = Accounts(accounts.users, accounts.passwords, clock=clock, password_max_age=timedelta(0))
    clock.advance(days=3650)
    assert not never.password_expired(changed)
