"""Delivery settings (AUPGUARD_*), apart from the core settings of `aupguard.config`."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["DeliverySettings"]


class DeliverySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AUPGUARD_", extra="ignore")

    downstream: str = ""
    """Where accepted messages go: ``http(s)://...`` (a Twilio-compatible Messages URL,
    the form is POSTed there), ``nats://host:4222/<subject>[?stream=NAME]`` (JetStream)
    or ``amqp://user:pass@host:5672/[vhost]?queue=NAME`` (RabbitMQ). Empty: messages
    are recorded and stay queued (no delivery worker runs)."""
    downstream_username: str | None = None
    downstream_password: SecretStr | None = None
    """HTTP Basic credentials for an HTTP downstream (e.g. the real Twilio account)."""
    deliver: bool = True
    """Run the delivery worker inside each `aupguard serve` worker process."""
    delivery_attempts: int = Field(default=8, ge=1, le=100)
    """Attempts before an entry is dead-lettered."""
    delivery_backoff: float = Field(default=1.0, gt=0)
    """Base of the exponential backoff in seconds (attempt n waits base * 2^(n-1), jittered)."""
    delivery_backoff_max: float = Field(default=300.0, gt=0)
    delivery_lease: float = Field(default=30.0, gt=0)
    """A claimed entry not settled within this time is due again (its worker died)."""
    delivery_batch: int = Field(default=200, ge=1, le=5000)
    delivery_concurrency: int = Field(default=64, ge=1, le=1024)
    delivery_timeout: float = Field(default=10.0, gt=0)
    delivery_poll: float = Field(default=0.2, gt=0)
    """How often an idle worker looks for due entries written by other processes."""
    callback_secret: SecretStr | None = None
    """HMAC-SHA256 key of status callback signatures (`X-Aupguard-Signature`)."""
    upstream_callback_url: str | None = Field(default=None, pattern=r"^https?://[^/?#]+(/[^?#]*)?$")
    """Scheme and host (and path prefix) at which an HTTP upstream reaches this gateway:
    each delivered message then carries its own ``StatusCallback`` URL and the
    upstream's delivery receipts update it (see `aupguard.outbox.upstream`)."""
    upstream_callback_secret: SecretStr | None = None
    """Key of the tokens in those URLs (needed with `upstream_callback_url`)."""

    @model_validator(mode="after")
    def _callback_needs_secret(self) -> DeliverySettings:
        if self.upstream_callback_url and self.upstream_callback_secret is None:
            raise ValueError(
                "AUPGUARD_UPSTREAM_CALLBACK_URL needs AUPGUARD_UPSTREAM_CALLBACK_SECRET "
                "(the key of the tokens in the callback URLs)"
            )
        return self
