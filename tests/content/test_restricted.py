"""Restricted categories (P27): the pack decides per category, the detectors only find.

The default pack blocks drugs and cannabis, holds firearms and adult content,
and holds alcohol and tobacco promotion unless the recipient's age is
verified. A platform pack changes that per category without touching code.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from aupguard import ConsentState, Engine, State, Verdict
from tests.factories import message

AGE_VERIFIED = State(consent=ConsentState(status="opted_in", age_verified=True))
OPTED_IN = State(consent=ConsentState(status="opted_in"))
FIREARMS = "Glock 19 and AR-15 in stock at our store, visit this weekend"
ALCOHOL = "Luigi's: Happy hour! 2-for-1 cocktails tonight. Reply STOP to opt out"


def test_default_policy_per_category(engine: Engine) -> None:
    assert engine.screen(message("Buy cocaine now, discreet delivery")).verdict is Verdict.BLOCK
    assert engine.screen(message(FIREARMS)).verdict is Verdict.HOLD
    promo = message(ALCOHOL, category="marketing")
    held = engine.screen(promo, OPTED_IN)
    assert held.verdict is Verdict.HOLD
    assert [h.rule for h in held.hits] == ["content.shaft.alcohol"]
    assert engine.screen(promo, AGE_VERIFIED).verdict is Verdict.ALLOW


def test_a_platform_pack_allows_firearms_with_age_gating_and_blocks_alcohol(tmp_path: Path) -> None:
    (tmp_path / "pack.yaml").write_text(
        textwrap.dedent(
            """\
            pack: outdoor-retail
            version: "1"
            extends: default
            overrides:
              content.shaft.firearms:
                title: Firearms promotion without age-gate evidence
                when:
                  all:
                    - lexicon: shaft.firearms
                    - not: {state: consent.age_verified, is: true}
                examples:
                  - event: {body: "Glock 19 in stock"}
                  - event: {body: "Glock 19 in stock"}
                    state: {consent: {age_verified: true}}
                    fires: false
              content.shaft.alcohol:
                action: block
                when: {lexicon: shaft.alcohol}
                examples:
                  - event: {body: "craft beer delivery tonight"}
            """
        ),
        "utf-8",
    )
    platform = Engine.from_pack(tmp_path)
    assert platform.screen(message(FIREARMS)).verdict is Verdict.HOLD
    assert platform.screen(message(FIREARMS), AGE_VERIFIED).verdict is Verdict.ALLOW
    blocked = platform.screen(message(ALCOHOL, category="marketing"), AGE_VERIFIED)
    assert blocked.verdict is Verdict.BLOCK
    assert "P27" in blocked.clauses
