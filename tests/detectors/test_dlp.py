"""Data-loss detectors (V8 S14): cards, IBANs, SSNs, credentials, health terms - and that
raw sensitive values never reach decisions, CLI output or logs."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from aupguard import Engine, Verdict
from aupguard.cli import app
from aupguard.detectors.dlp import iban_ok, ibans, secrets, ssn_ok, ssns
from tests.factories import message

CARD = "4111 1111 1111 1111"
IBAN = "DE89 3704 0044 0532 0130 00"
SSN = "123-45-6788"
AWS = "AKIAIOSFODNN7EXAMPLE"
GITHUB = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
RAW_VALUES = [
    CARD,
    CARD.replace(" ", ""),
    IBAN,
    IBAN.replace(" ", ""),
    SSN,
    SSN.replace("-", ""),
    AWS,
    GITHUB,
    "hunter2024",
]
LEAKY = (
    f"card {CARD} exp 12/29, iban {IBAN}, ssn {SSN}, aws {AWS}, token {GITHUB}, "
    "password: hunter2024"
)


def test_card_number_is_detected_and_redacted_in_the_decision(engine: Engine) -> None:
    """Acceptance: a Luhn-valid card number is detected and appears redacted."""
    decision = engine.screen(message(f"my card is {CARD} exp 12/29"))
    assert decision.verdict is Verdict.HOLD
    hit = next(h for h in decision.hits if h.rule == "dlp.card_number")
    assert hit.clauses[:2] == ("V8", "S14")
    assert [e.excerpt for e in hit.evidence] == ["card ending 1111 (16 digits)"]
    assert CARD not in json.dumps(decision.to_dict())


def test_iban_checksum_and_lengths(engine: Engine) -> None:
    lengths = engine.pack.data["iban_lengths"]
    assert iban_ok("GB82WEST12345698765432", lengths)
    assert iban_ok("DE89370400440532013000", lengths)
    assert not iban_ok("DE89370400440532013001", lengths)  # checksum
    assert not iban_ok("DE8937040044053201300", lengths)  # length
    assert not iban_ok("ZZ89370400440532013000", lengths)  # country
    assert [c for _, _, c in ibans(f"to {IBAN} today", lengths)] == ["DE89370400440532013000"]


def test_ssn_ranges() -> None:
    assert ssn_ok("123", "45", "6788")
    for area, group, serial in [
        ("000", "12", "3456"),
        ("666", "12", "3456"),
        ("900", "12", "3456"),
        ("123", "00", "3456"),
        ("123", "45", "0000"),
        ("078", "05", "1120"),
    ]:
        assert not ssn_ok(area, group, serial)
    assert [d for _, _, d in ssns(f"ssn {SSN}")] == ["123456788"]
    assert ssns("call 555-123-4567 or 123-45 6788") == []
    assert [d for _, _, d in ssns("my social security number is 234567890")] == ["234567890"]
    assert ssns("order 234567890 shipped") == []


def test_credentials() -> None:
    kinds = {kind for _, _, kind, _ in secrets(LEAKY + " -----BEGIN OPENSSH PRIVATE KEY-----")}
    assert kinds == {"AWS access key", "GitHub token", "password", "private key"}
    assert secrets("the password policy changed") == []


@given(st.text(alphabet="0123456789 -", max_size=60))
def test_digit_detectors_never_raise(text: str) -> None:
    ssns(text)
    ibans("DE" + text, {"DE": 22})


def test_raw_sensitive_values_never_reach_decisions_output_or_logs(
    engine: Engine, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    decision = engine.screen(message(LEAKY))
    rules = {h.rule for h in decision.hits}
    assert {"dlp.card_number", "dlp.iban", "dlp.ssn", "dlp.credentials"} <= rules
    record = json.dumps(decision.to_dict(), ensure_ascii=False)
    cli = CliRunner().invoke(app, ["screen", "--json", LEAKY])
    table = CliRunner().invoke(app, ["screen", LEAKY])
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps({"body": LEAKY}) + "\n", "utf-8")
    out = tmp_path / "decisions.jsonl"
    replay = CliRunner().invoke(app, ["replay", str(events), "--out", str(out)])
    assert cli.exit_code == 0 and table.exit_code == 0 and replay.exit_code == 0
    everything = "\n".join(
        [record, cli.output, table.output, replay.output, out.read_text("utf-8"), caplog.text]
    )
    for value in RAW_VALUES:
        assert value not in everything, value
    # the redacted forms are there instead
    assert "card ending 1111" in record and "DE IBAN ending 3000" in record
    assert "SSN ending 6788" in record and "AWS access key ending MPLE" in record


def test_health_terms_are_sensitive_and_held_with_an_identifier(engine: Engine) -> None:
    tagged = engine.screen(message("your std test results are ready"))
    assert tagged.verdict is Verdict.ALLOW
    assert [h.rule for h in tagged.hits] == ["dlp.health_condition"]
    assert "std test results" not in json.dumps(tagged.to_dict())
    held = engine.screen(message("Patient DOB 04/05/1980, diagnosed with schizophrenia"))
    assert held.verdict is Verdict.HOLD
    assert "schizophrenia" not in json.dumps(held.to_dict())


def test_one_time_codes_are_not_passwords() -> None:
    assert secrets("Your code to reset your Spotify password is 5582.") == []
    assert [k for _, _, k, _ in secrets("wifi password: Summer2024!")] == ["password"]


def test_this_platforms_own_api_keys_are_credentials(engine: Engine) -> None:
    key = "aupg_0f1e2d3c4b5a6978_" + "Zx9-_" * 8 + "abc"
    assert [(kind, value) for _, _, kind, value in secrets(f"key={key}.")] == [
        ("aupguard API key", key)
    ]
    assert secrets("aupg_0f1e2d3c4b5a6978 is the key id, not the key") == []
    decision = engine.screen(message(f"here is our prod key {key} use it"))
    assert decision.verdict is Verdict.HOLD
    assert {h.rule for h in decision.hits} == {"dlp.credentials"}
    assert key not in str(decision.hits[0].evidence)
