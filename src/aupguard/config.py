"""Settings from the environment (AUPGUARD_*) with embedded defaults.

The embedded default needs nothing running: SQLite in the working directory
and in-memory counters. Servers point `AUPGUARD_DATABASE_URL` at PostgreSQL and
`AUPGUARD_REDIS_URL` at Redis.
"""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AUPGUARD_", extra="ignore")

    database_url: str = "sqlite:///aupguard.sqlite"
    redis_url: str | None = None
    pack: str = "default"
