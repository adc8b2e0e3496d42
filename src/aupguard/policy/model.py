"""The schema of policy-pack files.

A pack is a root file (``pack:``, ``version:``) that may ``include`` more files
and may ``extend`` another pack. Every file has the same shape; each section is
optional. Conditions (``when``) are kept as parsed YAML so that the compiler can
report the line of each part; everything else is validated here.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from aupguard.engine.decision import Action, Mode, Severity, Verdict
from aupguard.engine.events import Channel, EventKind

__all__ = [
    "ClauseSpec",
    "ContractualSpec",
    "DatasetBlock",
    "ExampleSpec",
    "LexiconSpec",
    "MechanismSpec",
    "PackFile",
    "PlannedSpec",
    "RuleSpec",
]

RULE_ID = r"^[a-z0-9][a-z0-9_.\-]{1,127}$"
NAME = r"^[a-z0-9][a-z0-9_.\-:]{0,127}$"
CLAUSE_ID = r"^[A-Z][0-9]{1,3}$"

_STRICT = ConfigDict(extra="forbid", frozen=True)


class ClauseSpec(BaseModel):
    """One obligation of a seed policy, as the inventory names it."""

    model_config = _STRICT

    seed: str = Field(min_length=1)
    policy: str = Field(min_length=1)
    text: str = Field(min_length=1)


class LexiconSpec(BaseModel):
    model_config = _STRICT

    description: str = ""
    terms: list[str] = Field(default_factory=list)
    patterns: list[str] = Field(default_factory=list)
    sensitive: bool = False
    evasion: bool = True
    merge: Literal["new", "extend", "replace"] = "new"
    """In a pack that extends another: add to (`extend`) or `replace` a base lexicon."""

    @model_validator(mode="after")
    def _not_empty(self) -> LexiconSpec:
        if not self.terms and not self.patterns:
            raise ValueError("a lexicon needs at least one term or pattern")
        return self


class ExampleSpec(BaseModel):
    """A case embedded in a rule: an event (and state) and whether the rule fires."""

    model_config = _STRICT

    name: str | None = None
    event: dict[str, Any]
    state: dict[str, Any] = Field(default_factory=dict)
    at: datetime | None = None
    repeat: int = Field(default=1, ge=1, le=100_000)
    """Repeat the event's body this many times (for size limits)."""
    fires: bool = True
    verdict: Verdict | None = None


class RuleSpec(BaseModel):
    model_config = _STRICT

    id: str = Field(pattern=RULE_ID)
    title: str = Field(min_length=1, max_length=200)
    description: str = ""
    clauses: list[str] = Field(min_length=1)
    events: list[EventKind] = Field(default_factory=lambda: [EventKind.MESSAGE], min_length=1)
    channels: list[Channel] | None = None
    when: Any
    action: Action
    severity: Severity
    mode: Mode = Mode.ENFORCE
    effective: date | None = None
    until: date | None = None
    retry_after: Any = None
    code: int | None = Field(default=None, ge=0)
    tags: list[str] = Field(default_factory=list)
    examples: list[ExampleSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> RuleSpec:
        if self.action is Action.THROTTLE and self.retry_after is None:
            raise ValueError("a throttle rule needs retry_after (seconds, or a detector/state)")
        if self.action is not Action.THROTTLE and self.retry_after is not None:
            raise ValueError("retry_after only applies to throttle rules")
        if self.effective and self.until and self.until <= self.effective:
            raise ValueError("until must come after effective")
        return self


class DatasetBlock(BaseModel):
    """Reference data with its provenance: where it comes from and as of when."""

    model_config = _STRICT

    description: str = ""
    source: str = Field(min_length=1)
    as_of: date
    values: Any


class MechanismSpec(BaseModel):
    """Enforcement that is not a rule (a ledger, a job, a check in the service layer)."""

    model_config = _STRICT

    id: str = Field(pattern=RULE_ID)
    title: str = Field(min_length=1)
    clauses: list[str] = Field(min_length=1)
    module: str = Field(min_length=1)
    tests: list[str] = Field(min_length=1)


class ContractualSpec(BaseModel):
    model_config = _STRICT

    reason: str = Field(min_length=1)


class PlannedSpec(BaseModel):
    """An obligation the software will enforce but does not yet (and where that is tracked)."""

    model_config = _STRICT

    issue: int = Field(ge=1)
    note: str = Field(min_length=1)


class PackFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    pack: str | None = Field(default=None, pattern=NAME)
    version: str | None = Field(default=None, min_length=1, max_length=64)
    effective: date | None = None
    description: str = ""
    extends: str | None = None
    include: list[str] = Field(default_factory=list)
    clauses: dict[str, ClauseSpec] = Field(default_factory=dict)
    lexicons: dict[str, LexiconSpec] = Field(default_factory=dict)
    rules: list[RuleSpec] = Field(default_factory=list)
    overrides: dict[str, dict[str, Any]] = Field(default_factory=dict)
    disable: list[str] = Field(default_factory=list)
    data: dict[str, DatasetBlock] = Field(default_factory=dict)
    mechanisms: list[MechanismSpec] = Field(default_factory=list)
    contractual: dict[str, ContractualSpec] = Field(default_factory=dict)
    planned: dict[str, PlannedSpec] = Field(default_factory=dict)
