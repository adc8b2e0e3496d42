"""Settings from the environment (AUPGUARD_*) with embedded defaults.

The embedded default needs nothing running: SQLite in the working directory
and in-memory counters. Servers point `AUPGUARD_DATABASE_URL` at PostgreSQL and
`AUPGUARD_REDIS_URL` at Redis.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AUPGUARD_", extra="ignore")

    database_url: str = "sqlite:///aupguard.sqlite"
    redis_url: str | None = None
    redis_prefix: str = "aupguard:"
    """Prefix of every Redis key aupguard writes (several installations can share one Redis)."""
    sender_registry: Literal["off", "enforce"] = "off"
    """`enforce`: the send path refuses numbers the account has not registered and verified."""
    pack: str = "default"

    # HTTP gateway (`aupguard serve`)
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    max_body_bytes: int = Field(default=262_144, ge=1024)
    """Request bodies larger than this are refused with 413 before they are read."""
    console_password_max_age_days: int = Field(default=180, ge=0, le=3650)
    """Console passwords expire after this many days (0: never; see docs/console.md)."""
    console_password_history: int = Field(default=5, ge=0, le=24)
    """A new console password must differ from this many previous ones (the current one
    included; 0: only the policy applies)."""
    key_pepper: SecretStr | None = None
    """Secret key of the keyed digest that API keys are stored under. Changing it
    invalidates every key; keep it out of the database (environment or secret store)."""
    key_cache_seconds: float = Field(default=5.0, ge=0)
    """How long a worker trusts a key it has verified; a revocation reaches every
    worker within this time (the worker that revoked it, at once)."""
    access_log: bool = True
    """One JSON log line per request (method, route, status, time, request id, key id)."""
    log_level: str = "info"
    migrate_on_start: bool = True
    """`aupguard serve` brings the schema up to date before it starts the workers."""
