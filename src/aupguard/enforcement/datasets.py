"""Schemas of the enforcement pack data: the ladder, the penalty schedule, the
account lifecycle. Importing this module registers them with the pack compiler
(`aupguard.detectors` imports it), so a pack with a bad ladder fails to load
with the file and field named.
"""

from __future__ import annotations

from datetime import date
from fnmatch import fnmatchcase
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from aupguard.engine.registry import dataset

__all__ = [
    "STEPS",
    "AccountLifecycle",
    "CaseSettings",
    "CredentialPolicy",
    "EnforcementLadder",
    "ImmediateRule",
    "PenaltyItem",
    "PenaltySchedule",
    "Step",
]

_STRICT = ConfigDict(extra="forbid", frozen=True)

Step = Literal["warn", "throttle", "suspend_channel", "suspend_account", "terminate"]
STEPS: tuple[Step, ...] = ("warn", "throttle", "suspend_channel", "suspend_account", "terminate")
SeverityName = Literal["low", "medium", "high", "critical"]


class ImmediateRule(BaseModel):
    """Severe hits that skip the ladder: one hit takes `action` at once."""

    model_config = _STRICT

    name: str = Field(min_length=1)
    rules: tuple[str, ...] = Field(min_length=1)
    """Rule ids; shell-style patterns (``phishing.*``) allowed."""
    action: Step
    clauses: tuple[str, ...] = ()

    def matches(self, rule: str) -> bool:
        return any(fnmatchcase(rule, pattern) for pattern in self.rules)


class CaseSettings(BaseModel):
    model_config = _STRICT

    window_hours: float = Field(gt=0)
    open_at: dict[SeverityName, int]
    """Hits of a severity within the window that open a case (missing: never)."""
    sla_hours: dict[str, float]
    """Hours to the first answer or cure, per case type."""
    false_report_flag: int = Field(ge=1)
    """Rejected reports (more than confirmed ones) that flag a reporter."""


class EnforcementLadder(BaseModel):
    model_config = _STRICT

    steps: tuple[Step, ...] = Field(min_length=1)
    thresholds: tuple[int, ...] = Field(min_length=1)
    """Strike totals (within the decay window) at which each step is reached."""
    decay_days: float = Field(gt=0)
    strikes: dict[SeverityName, int]
    """Strikes a confirmed hit of each severity adds."""
    clause_strikes: dict[str, int] = Field(default_factory=dict)
    """Clauses whose hits weigh more (or less) than their severity says."""
    throttle_seconds: float = Field(gt=0)
    immediate: tuple[ImmediateRule, ...] = ()
    cases: CaseSettings

    @model_validator(mode="after")
    def _consistent(self) -> EnforcementLadder:
        if len(self.thresholds) != len(self.steps):
            raise ValueError("thresholds needs one strike total per step")
        if list(self.thresholds) != sorted(set(self.thresholds)) or self.thresholds[0] < 1:
            raise ValueError("thresholds must be positive and strictly increasing")
        order = [STEPS.index(s) for s in self.steps]
        if order != sorted(order):
            raise ValueError(f"steps must follow the order {', '.join(STEPS)}")
        return self

    def step_for(self, strikes: int) -> Step | None:
        """The ladder step a strike total reaches (None below the first)."""
        reached: Step | None = None
        for step, threshold in zip(self.steps, self.thresholds, strict=True):
            if strikes >= threshold:
                reached = step
        return reached

    def immediate_for(self, rule: str) -> ImmediateRule | None:
        return next((i for i in self.immediate if i.matches(rule)), None)

    def strikes_for(self, severity: str, clauses: tuple[str, ...]) -> int:
        weights = [self.clause_strikes[c] for c in clauses if c in self.clause_strikes]
        base: int = self.strikes.get(severity, 0)  # type: ignore[call-overload]
        return max([base, *weights])


class PenaltyItem(BaseModel):
    model_config = _STRICT

    operator: str = Field(min_length=1)
    category: str = Field(min_length=1)
    amount: int = Field(ge=0)
    """In the smallest unit of `currency` would be safer; the schedules are whole dollars."""
    effective: date
    tier: int | None = None
    description: str = ""
    rules: tuple[str, ...] = ()
    """Rule ids (patterns allowed) whose confirmed hits fall in this category."""


class PenaltySchedule(BaseModel):
    model_config = _STRICT

    currency: str = Field(pattern=r"^[A-Z]{3}$")
    items: tuple[PenaltyItem, ...] = Field(min_length=1)

    def find(self, operator: str, category: str, on: date) -> PenaltyItem | None:
        """The item in force on `on` (the latest effective date not after it)."""
        chosen = [
            i
            for i in self.items
            if i.operator == operator and i.category == category and i.effective <= on
        ]
        return max(chosen, key=lambda i: i.effective, default=None)

    def category_for(self, rule: str) -> str | None:
        for item in self.items:
            if any(fnmatchcase(rule, p) for p in item.rules):
                return item.category
        return None


class StoragePlan(BaseModel):
    model_config = _STRICT

    storage_bytes: int | None = Field(default=None, ge=0)
    """Content an account may keep (None: no limit)."""


class AccountLifecycle(BaseModel):
    model_config = _STRICT

    trial_days: int = Field(ge=1)
    payment_due_days: int = Field(ge=1)
    dispute_window_days: int = Field(ge=0)
    termination_notice_days: int = Field(ge=0)
    export_window_days: int = Field(ge=0)
    retention_days: dict[str, int]
    """How long each data class is kept (content, evidence, audit, legal...)."""
    kept_after_scrub: tuple[str, ...]
    """Data classes a scrub keeps because a retention rule requires them."""
    plans: dict[str, StoragePlan]


class CredentialPolicy(BaseModel):
    """What happens when a credential is suspected compromised (S5 V2 O2)."""

    model_config = _STRICT

    on_compromise: Literal["notify", "hold", "revoke"]
    """notify: an incident and the customer's notifications; hold: also hold the key's
    messages until a reviewer contains the incident; revoke: also revoke the key."""
    on_shared: Literal["notify", "hold", "revoke"]
    """The same for one credential used from many places at once (O2): sharing is a breach
    of the terms more often than a theft, so the default tells the customer."""
    severity: SeverityName
    """Severity of incidents opened by detectors."""
    leaked_key_rules: tuple[str, ...] = Field(min_length=1)
    """Rules whose hits are searched for this platform's own API keys in clear."""
    shared_rules: tuple[str, ...] = Field(min_length=1)
    """Rules whose hits mean one credential is shared (patterns allowed)."""
    console_session_ips: int = Field(ge=2)
    """Distinct source addresses among one console user's live sessions that count as a
    shared account."""

    def is_shared(self, rule: str) -> bool:
        return any(fnmatchcase(rule, pattern) for pattern in self.shared_rules)


dataset(
    "enforcement_ladder", EnforcementLadder, description="Enforcement ladder and case thresholds"
)
dataset("carrier_penalties", PenaltySchedule, description="Operator fines passed on to accounts")
dataset(
    "credential_policy",
    CredentialPolicy,
    description="Response to compromised or shared credentials",
)
dataset(
    "account_lifecycle", AccountLifecycle, description="Trial, payment, notice and export periods"
)
