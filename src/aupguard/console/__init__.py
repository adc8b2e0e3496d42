"""The review console: server-rendered pages under /console (see docs/console.md)."""

from __future__ import annotations

from aupguard.console.accounts import Accounts, Lockout, UserNotFound
from aupguard.console.app import console_accounts, console_sessions, create_console
from aupguard.console.passwords import Passwords, WeakPassword, check_password_policy
from aupguard.console.sessions import SessionPolicy, Sessions

__all__ = [
    "Accounts",
    "Lockout",
    "Passwords",
    "SessionPolicy",
    "Sessions",
    "UserNotFound",
    "WeakPassword",
    "check_password_policy",
    "console_accounts",
    "console_sessions",
    "create_console",
]
