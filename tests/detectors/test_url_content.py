"""Link detectors beyond extraction: lookalikes, broken links, shorteners, login pages,
sender identity, and the lures of today's smishing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aupguard import Engine, Verdict
from aupguard.detectors.content import lookalike_of
from aupguard.detectors.urls import deobfuscate, find_links, unscannable_reasons
from aupguard.engine.normalise import normalise
from tests.factories import message


@pytest.mark.parametrize(
    ("host", "brand"),
    [
        ("paypa1-secure-login.com", "paypal"),
        ("xn--pypal-4ve.com", "paypal"),
        ("usps.packages-ustr.top", "usps"),
        ("wellsfargo-unlock.net", "wellsfargo"),
        ("netflx.com", "netflix"),
        ("arnazon-support.com", "amazon"),
        ("bankofamericaalerts.com", "bofa"),
    ],
)
def test_lookalike_domains(engine: Engine, host: str, brand: str) -> None:
    found = lookalike_of(engine.pack.data["brands"], host)
    assert found is not None and found[0] == brand


@pytest.mark.parametrize(
    "host",
    [
        "paypal.com",
        "www.paypal.com",
        "login.paypal.co.uk".replace(".co.uk", ".com"),
        "ups.com",
        "pineapple-recipes.com",
        "goodmorning.com",
        "example.org",
    ],
)
def test_real_and_unrelated_domains_are_not_lookalikes(engine: Engine, host: str) -> None:
    assert lookalike_of(engine.pack.data["brands"], host) is None


def test_paypa1_is_flagged_as_a_lookalike_in_the_decision(engine: Engine) -> None:
    """Acceptance: paypa1-secure-login.com is flagged as a lookalike."""
    decision = engine.screen(
        message("Your account has been limited. Restore access at paypa1-secure-login.com")
    )
    assert decision.verdict is Verdict.BLOCK
    hit = next(h for h in decision.hits if h.rule == "impersonation.lookalike_domain")
    assert "O1" in hit.clauses and "P22" in hit.clauses
    assert any("paypa1-secure-login.com imitates paypal" in e.label for e in hit.evidence)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("open http:// now", "no host after the scheme"),
        ("open http://localhost/x", "no domain name after the scheme"),
        ("open http://", "no host after the scheme"),
        ("open http://[::1 now", "malformed IPv6 literal"),
        ("open http://" + "a" * 5000 + ".com/x", "host longer than DNS allows"),
        ("open https://" + "q" * 70 + ".example.com", "host longer than DNS allows"),
    ],
)
def test_broken_links_are_unscannable_not_errors(engine: Engine, text: str, reason: str) -> None:
    reasons = unscannable_reasons(deobfuscate(normalise(text))[0])
    assert any(r.startswith(reason) for r in reasons)
    decision = engine.screen(message(text))
    assert decision.verdict in (Verdict.HOLD, Verdict.BLOCK)  # 5,000 characters are oversized too
    hit = next(h for h in decision.hits if h.rule == "urls.unscannable")
    assert hit.action.value == "hold"
    assert any(e.label.startswith(reason) for e in hit.evidence)
    assert hit.clauses == ("W5", "V3")


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="htps:/[]:.-xw1ab ", max_size=60))
def test_link_detectors_never_raise(text: str) -> None:
    deobfuscated, _ = deobfuscate(normalise(text))
    find_links(deobfuscated)
    unscannable_reasons(deobfuscated)


def test_links_split_by_spaces_are_rejoined() -> None:
    for raw, host in [
        ("visit www. paypal.com/x", "www.paypal.com"),
        ("goto http:// evil.top/a", "evil.top"),
        ("sms. ac/rewards", "sms.ac"),
    ]:
        text, _ = deobfuscate(normalise(raw))
        assert [link.host for link in find_links(text)] == [host]


def test_shortener_with_a_lure_is_blocked_and_alone_is_not(engine: Engine) -> None:
    lure = engine.screen(
        message("Final notice: pay the fee now or your parcel is returned: cutt.ly/3parcel")
    )
    assert lure.verdict is Verdict.BLOCK
    assert "phishing.shortened_lure" in [h.rule for h in lure.hits]
    assert engine.screen(message("photos from the trip: bit.ly/3xYz")).verdict is Verdict.ALLOW


def test_shortener_list_comes_from_the_package_and_the_pack(engine: Engine) -> None:
    shorteners = engine.pack.data["url_shorteners"]
    assert "bit.ly" in shorteners and "tinyurl.com" in shorteners and "qrco.de" in shorteners
    assert "paypal.com" not in shorteners
    assert len(shorteners.domains) > 1000


def test_links_to_official_domains_are_recognised(engine: Engine) -> None:
    ctx_ok = engine.screen(
        message("Your package was delivered. Track at https://www.fedex.com/track?id=1")
    )
    assert ctx_ok.verdict is Verdict.ALLOW


def test_sender_identity_mismatch(engine: Engine) -> None:
    lure = message("Chase Bank: your account is locked, verify immediately", brand="Acme Shoes")
    decision = engine.screen(lure)
    assert "impersonation.sender_mismatch" in [h.rule for h in decision.hits]
    assert decision.verdict is Verdict.BLOCK
    alpha = message(
        "Santander: unusual activity, verify your identity today",
        **{"from": "HSBCUK", "sender_type": "alphanumeric"},
    )
    assert "impersonation.sender_mismatch" in [h.rule for h in engine.screen(alpha).hits]
    named = message(
        "HSBC: unusual activity on your card, verify your identity today",
        **{"from": "HSBC", "sender_type": "alphanumeric"},
    )
    assert "impersonation.sender_mismatch" not in [h.rule for h in engine.screen(named).hits]
    own = message("Chase Bank: your statement is ready", brand="Chase Bank")
    assert "impersonation.sender_mismatch" not in [h.rule for h in engine.screen(own).hits]


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        (
            "Dear customer your SBI account will be blocked today. Please update your PAN card immediately: http://sbi-kyc-update.in/login",
            "phishing.lure_link",
        ),
        (
            "E-ZPass: unpaid toll of $6.99. Pay by today: https://ezpass-ny.tolls-pay.com",
            "phishing.lure_link",
        ),
        (
            "Hey it's me, I sent you a 6 digit code by mistake. Can you forward it to me please?",
            "fraud.otp_forward",
        ),
        (
            "Hi mum, my phone broke, this is my new number. Can you help me pay a bill today?",
            "fraud.family_impersonation",
        ),
        (
            "Get instant personal loan up to Rs 5,00,000 in 10 mins! No documents. Apply: quickcash-loan.in",
            "fraud.loan_offer",
        ),
        (
            "Amazon partner task: complete simple tasks and earn daily commission, paid instantly",
            "fraud.task_job",
        ),
    ],
)
def test_modern_lures(engine: Engine, text: str, rule: str) -> None:
    decision = engine.screen(message(text))
    assert rule in [h.rule for h in decision.hits]
    assert decision.verdict in (Verdict.HOLD, Verdict.BLOCK)


@pytest.mark.parametrize(
    "text",
    [
        "Your OTP for login is 482913. Valid for 5 minutes. Do not share this code with anyone. -HDFC Bank",
        "Rs 2,500.00 debited from A/c XX4821 on 14-Oct-25 to VPA grocerymart@okaxis. Not you? Call 18002586161 -SBI",
        "USPS: Your package was delivered at 2:31 pm in or at mailbox. Track at usps.com",
        "Hi mum, landed safely, see you tomorrow",
    ],
)
def test_legitimate_transactional_messages_pass(engine: Engine, text: str) -> None:
    assert engine.screen(message(text)).verdict is Verdict.ALLOW
