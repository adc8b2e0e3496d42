"""STIR/SHAKEN signing and verification: the round trip, the reference vectors, and a
precise failure reason (never an exception) for every kind of bad input."""

from __future__ import annotations

import base64
import contextlib
import json
from datetime import timedelta
from pathlib import Path

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from aupguard.identity.certs import CertificateCache, Revocations, TrustStore
from aupguard.identity.passport import (
    Reason,
    ShakenError,
    canonical_json,
    identity_header,
    parse_identity_header,
    sign_passport,
)
from aupguard.identity.tnauthlist import TNAuthList, TNAuthListError, decode, encode
from aupguard.identity.verify import ShakenVerifier
from tests.identity.conftest import NOW, CertServer, make_verifier
from tests.identity.pki import START, RefPKI, issue_sp, load_cert, make_ca, pem

CALLER, CALLEE = "+12025550143", "+14155550123"
IAT = int(NOW.timestamp())


def signed(pki: RefPKI, x5u: str, *, key: object = None, **claims: object) -> str:
    args: dict[str, object] = {
        "x5u": x5u,
        "orig": "12025550143",
        "dest": "14155550123",
        "attest": "A",
        "iat": IAT,
    }
    args.update(claims)
    token = sign_passport(key or pki.sp_key, **args)  # type: ignore[arg-type]
    return identity_header(token, x5u)


def local_verifier(pki: RefPKI, *certs: x509.Certificate, **kw: object) -> ShakenVerifier:
    body = pem(*(certs or (pki.sp,)))
    cache = CertificateCache(lambda _url: body, TrustStore([pki.ca]), **kw)  # type: ignore[arg-type]
    return ShakenVerifier(cache)


def forge(header: dict[str, object], claims: object, pki: RefPKI, x5u: str) -> str:
    """A JWS with any header and claims, signed with the SP key (ES256)."""
    payload = canonical_json(claims)
    token = jwt.PyJWS().encode(payload, pki.sp_key, algorithm="ES256", headers=header)
    return identity_header(token, x5u)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


GOOD_HEADER = {"alg": "ES256", "ppt": "shaken", "typ": "passport"}
X5U = "https://certs.example/sp.pem"


def claims(**over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "attest": "A",
        "dest": {"tn": ["14155550123"]},
        "iat": IAT,
        "orig": {"tn": "12025550143"},
        "origid": "5b0d3c5a-6f4e-4a57-9d3b-2f6b1c7e8a90",
    }
    base.update(over)
    return base


# --- acceptance ---------------------------------------------------------------------------------


def test_round_trip_attestation_a_passes_with_the_reference_ca(
    pki: RefPKI, served: tuple[CertServer, str]
) -> None:
    server, x5u = served
    header = signed(pki, x5u)
    result = make_verifier(pki, server).verify(header, now=NOW, caller=CALLER, callee=CALLEE)
    assert result.verstat == "TN-Validation-Passed", result
    assert (result.attest, result.orig, result.dest, result.spc) == (
        "A",
        "12025550143",
        ("14155550123",),
        "1234",
    )
    assert result.verstat_attest == "TN-Validation-Passed-A"


def test_tampering_with_one_claim_fails_with_the_reason(
    pki: RefPKI, served: tuple[CertServer, str]
) -> None:
    server, x5u = served
    token, params = signed(pki, x5u).split(";", 1)
    head, body, sig = token.split(".")
    tampered = json.loads(base64.urlsafe_b64decode(body + "=="))
    tampered["attest"] = "B"
    forged = f"{head}.{b64(canonical_json(tampered))}.{sig};{params}"
    result = make_verifier(pki, server).verify(forged, now=NOW)
    assert result.verstat == "TN-Validation-Failed"
    assert result.reason is Reason.SIGNATURE
    assert "signature" in result.detail


def test_reference_passport_is_rejected_for_string_orig_and_dest(pki: RefPKI, ref: Path) -> None:
    text = (ref / "sp" / "passport.txt").read_text()
    header = text.split("SIP Identity Header with PASSporT is:")[1].strip()
    verifier = local_verifier(pki, load_cert(ref / "sp" / "sp.pem"))
    result = verifier.verify(header, now=NOW)
    assert result.verstat == "TN-Validation-Failed"
    assert result.reason is Reason.CLAIM_TYPE
    assert result.detail.startswith("orig must be an object")
    assert "found a string" in result.detail
    # the signed compact form above the header has the same problem
    token = text.split("PASSporT signed is:")[1].split("SIP Identity")[0].strip()
    result = verifier.verify(f"{token};info=<{x5u_of(token)}>", now=NOW)
    assert result.reason is Reason.CLAIM_TYPE


def x5u_of(token: str) -> str:
    head = json.loads(base64.urlsafe_b64decode(token.split(".", maxsplit=1)[0] + "=="))
    return str(head["x5u"])


def test_reference_sp_certificate_tnauthlist_is_a_url_not_der(pki: RefPKI, ref: Path) -> None:
    result = local_verifier(pki, load_cert(ref / "sp" / "sp.pem")).verify(signed(pki, X5U), now=NOW)
    assert result.reason is Reason.TNAUTH_MALFORMED
    assert "IA5String" in result.detail


# --- bad input: each with its reason --------------------------------------------------------------


def test_signed_passport_is_canonical_json(pki: RefPKI) -> None:
    token = signed(pki, X5U).split(";")[0]
    head, body, _ = token.split(".")
    raw_head = base64.urlsafe_b64decode(head + "==")
    raw_body = base64.urlsafe_b64decode(body + "==")
    assert (
        raw_head == b'{"alg":"ES256","ppt":"shaken","typ":"passport","x5u":"' + X5U.encode() + b'"}'
    )
    assert raw_body == canonical_json(json.loads(raw_body))
    assert list(json.loads(raw_body)) == ["attest", "dest", "iat", "orig", "origid"]


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: "", Reason.NO_IDENTITY),
        (lambda p: signed(p, X5U).split(";")[0], Reason.INFO_MISSING),
        (lambda p: signed(p, X5U)[:40], Reason.INFO_MISSING),
        (lambda p: signed(p, X5U).replace(".", "", 1), Reason.JWS_MALFORMED),
        (lambda p: "a.b.c;info=<https://certs.example/sp.pem>", Reason.NOT_BASE64URL),
        (lambda p: "e30*.e30.e30;info=<https://certs.example/sp.pem>", Reason.NOT_BASE64URL),
        (lambda p: f"{b64(b'not json')}.e30.AAAA;info=<{X5U}>", Reason.NOT_JSON),
        (lambda p: signed(p, X5U).replace(";alg=ES256", ";alg=RS256"), Reason.PARAM_ALG),
        (lambda p: signed(p, X5U).replace(";ppt=shaken", ";ppt=div"), Reason.PARAM_PPT),
        (
            lambda p: signed(p, X5U).replace(f"<{X5U}>", "<https://other.example/x.pem>"),
            Reason.INFO_MISMATCH,
        ),
        (lambda p: signed(p, X5U).replace(f"<{X5U}>", f"<{X5U}"), Reason.HEADER_MALFORMED),
        (lambda p: "x" * 9000, Reason.HEADER_TOO_LONG),
        (lambda p: _hs256(X5U), Reason.ALG_UNSUPPORTED),
        (lambda p: _none_alg(X5U), Reason.ALG_NONE),
        (
            lambda p: forge({"ppt": "div", "typ": "passport", "x5u": X5U}, claims(), p, X5U),
            Reason.PPT,
        ),
        (
            lambda p: forge({"ppt": "shaken", "typ": "JWT", "x5u": X5U}, claims(), p, X5U),
            Reason.TYP,
        ),
        (
            lambda p: forge({"ppt": "shaken", "typ": "passport"}, claims(), p, X5U),
            Reason.X5U_MISSING,
        ),
        (lambda p: _without("origid", p), Reason.CLAIM_MISSING),
        (lambda p: _without("attest", p), Reason.CLAIM_MISSING),
        (lambda p: _with(p, dest={"tn": "14155550123"}), Reason.CLAIM_TYPE),
        (lambda p: _with(p, orig={"tn": "+1 202 555 0143"}), Reason.CLAIM_TYPE),
        (lambda p: _with(p, iat="1780416000"), Reason.CLAIM_TYPE),
        (lambda p: _with(p, attest="D"), Reason.ATTEST),
        (lambda p: _with(p, origid="ref"), Reason.ORIGID),
        (lambda p: signed(p, X5U, iat=IAT + 120), Reason.IAT_FUTURE),
        (lambda p: signed(p, X5U, iat=IAT - 61), Reason.IAT_STALE),
        (lambda p: signed(p, X5U, orig="12025550199"), Reason.ORIG_MISMATCH),
        (lambda p: signed(p, X5U, dest="14155550199"), Reason.DEST_MISMATCH),
        (lambda p: signed(p, X5U).replace(".", "..", 1), Reason.JWS_MALFORMED),
    ],
)
def test_bad_headers_fail_with_a_precise_reason(pki: RefPKI, make: object, reason: Reason) -> None:
    header = make(pki)  # type: ignore[operator]
    result = local_verifier(pki).verify(header, now=NOW, caller=CALLER, callee=CALLEE)
    assert result.reason is reason, result
    assert result.verstat == (
        "No-TN-Validation" if reason is Reason.NO_IDENTITY else "TN-Validation-Failed"
    )
    assert result.detail
    assert result.sip_code in (403, 428, 436, 437, 438)


def _hs256(x5u: str) -> str:
    headers = {"ppt": "shaken", "typ": "passport", "x5u": x5u}
    token = jwt.encode(
        claims(), "a-shared-secret-of-32-bytes-long!", algorithm="HS256", headers=headers
    )
    return identity_header(token, x5u)


def _none_alg(x5u: str) -> str:
    head = b64(canonical_json({**GOOD_HEADER, "alg": "none", "x5u": x5u}))
    return identity_header(f"{head}.{b64(canonical_json(claims()))}.", x5u)


def _without(name: str, pki: RefPKI) -> str:
    body = claims()
    del body[name]
    return forge({**GOOD_HEADER, "x5u": X5U}, body, pki, X5U)


def _with(pki: RefPKI, **over: object) -> str:
    return forge({**GOOD_HEADER, "x5u": X5U}, claims(**over), pki, X5U)


def test_freshness_window_is_configurable(pki: RefPKI) -> None:
    header = signed(pki, X5U, iat=IAT - 300)
    cache = CertificateCache(lambda _u: pem(pki.sp), TrustStore([pki.ca]))
    assert ShakenVerifier(cache).verify(header, now=NOW).reason is Reason.IAT_STALE
    assert ShakenVerifier(cache, max_age=600).verify(header, now=NOW).passed


# --- certificates -------------------------------------------------------------------------------


def test_expired_certificate(pki: RefPKI) -> None:
    sp, _ = issue_sp(pki.ca, pki.ca_key, key=pki.sp_key, not_before=START, days=30)
    result = local_verifier(pki, sp).verify(signed(pki, X5U), now=NOW)
    assert result.reason is Reason.CERT_EXPIRED
    assert "expired on 2020-12-01" in result.detail


def test_certificate_not_yet_valid(pki: RefPKI) -> None:
    sp, _ = issue_sp(pki.ca, pki.ca_key, key=pki.sp_key, not_before=NOW + timedelta(days=1))
    assert (
        local_verifier(pki, sp).verify(signed(pki, X5U), now=NOW).reason
        is Reason.CERT_NOT_YET_VALID
    )


def test_wrong_chain_is_untrusted(pki: RefPKI, ref: Path) -> None:
    wrong = load_cert(ref / "sp" / "wrongsp.pem")
    result = local_verifier(pki, wrong).verify(signed(pki, X5U), now=NOW)
    assert result.reason is Reason.CHAIN_UNTRUSTED
    assert "Wrong CA" in result.detail
    other_ca, other_key = make_ca("Other CA")
    sp, _ = issue_sp(other_ca, other_key, key=pki.sp_key)
    assert local_verifier(pki, sp, other_ca).verify(signed(pki, X5U), now=NOW).reason is (
        Reason.CHAIN_UNTRUSTED
    )


def test_chain_through_an_intermediate(pki: RefPKI) -> None:
    inter, inter_key = issue_sp(pki.ca, pki.ca_key, ca=True, spc=None, cn="Test STI-ICA")
    sp, _ = issue_sp(inter, inter_key, key=pki.sp_key)
    assert local_verifier(pki, sp, inter).verify(signed(pki, X5U), now=NOW).passed
    assert (
        local_verifier(pki, sp).verify(signed(pki, X5U), now=NOW).reason is Reason.CHAIN_UNTRUSTED
    )


def test_key_not_matching_the_certificate_fails_the_signature(pki: RefPKI) -> None:
    other, _ = issue_sp(pki.ca, pki.ca_key)  # a fresh key, not sp.priv
    result = local_verifier(pki, other).verify(signed(pki, X5U), now=NOW)
    assert result.reason is Reason.SIGNATURE


def test_revoked_certificate(pki: RefPKI, tmp_path: Path) -> None:
    sp, _ = issue_sp(pki.ca, pki.ca_key, key=pki.sp_key, serial=4242)
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(pki.ca.subject)
        .last_update(START)
        .next_update(NOW + timedelta(days=30))
        .add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(4242).revocation_date(START).build()
        )
        .sign(pki.ca_key, hashes.SHA256())
    )
    path = tmp_path / "ca.crl"
    from cryptography.hazmat.primitives.serialization import Encoding

    path.write_bytes(crl.public_bytes(Encoding.PEM))
    revocations = Revocations.from_paths([path])
    result = local_verifier(pki, sp, revocations=revocations).verify(signed(pki, X5U), now=NOW)
    assert result.reason is Reason.CERT_REVOKED
    assert "4242" in result.detail
    # a CRL signed by someone else revokes nothing
    _, other_key = make_ca("Not the CA")
    forged = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(pki.ca.subject)
        .last_update(START)
        .next_update(NOW + timedelta(days=30))
        .add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(4242).revocation_date(START).build()
        )
        .sign(other_key, hashes.SHA256())
    )
    assert (
        local_verifier(pki, sp, revocations=Revocations([forged]))
        .verify(signed(pki, X5U), now=NOW)
        .passed
    )


def test_tnauthlist_checks(pki: RefPKI) -> None:
    header = signed(pki, X5U)
    cache = CertificateCache(lambda _u: pem(pki.sp), TrustStore([pki.ca]))
    result = ShakenVerifier(cache, allowed_spcs={"9999"}).verify(header, now=NOW)
    assert result.reason is Reason.SPC_NOT_ALLOWED
    assert ShakenVerifier(cache, allowed_spcs={"1234"}).verify(header, now=NOW).passed
    numbers_only, _ = issue_sp(
        pki.ca, pki.ca_key, key=pki.sp_key, spc=None, numbers=("12025550143",)
    )
    assert local_verifier(pki, numbers_only).verify(header, now=NOW).passed
    other = signed(pki, X5U, orig="12025550100")
    assert (
        local_verifier(pki, numbers_only).verify(other, now=NOW).reason is Reason.TN_NOT_AUTHORISED
    )
    missing, _ = issue_sp(pki.ca, pki.ca_key, key=pki.sp_key, spc=None)
    assert local_verifier(pki, missing).verify(header, now=NOW).reason is Reason.TNAUTH_MISSING


# --- x5u fetching over a local HTTP server ----------------------------------------------------------


def test_x5u_is_fetched_once_then_cached(pki: RefPKI, served: tuple[CertServer, str]) -> None:
    server, x5u = served
    verifier = make_verifier(pki, server)
    for _ in range(3):
        assert verifier.verify(signed(pki, x5u), now=NOW).passed
    assert server.requests == ["/sp.pem"]
    assert (verifier.certificates.hits, verifier.certificates.misses) == (2, 1)


@pytest.mark.parametrize(
    ("path", "status", "body", "reason"),
    [
        ("/huge.pem", 200, b"A" * 10_000_000, Reason.X5U_TOO_LARGE),
        ("/no-length", 200, b"A" * 200_000, Reason.X5U_TOO_LARGE),
        ("/missing.pem", 404, b"", Reason.X5U_FETCH),
        ("/text.pem", 200, b"hello, not a certificate", Reason.X5U_NOT_CERT),
        ("/moved.pem", 302, b"http://evil.example/sp.pem", Reason.X5U_FETCH),
    ],
)
def test_x5u_failures(
    pki: RefPKI, cert_server: CertServer, path: str, status: int, body: bytes, reason: Reason
) -> None:
    cert_server.routes[path] = (status, body, 0.0)
    x5u = cert_server.url(path)
    result = make_verifier(pki, cert_server).verify(signed(pki, x5u), now=NOW)
    assert result.reason is reason, result
    assert result.sip_code == 436


def test_x5u_slow_server_times_out(pki: RefPKI, cert_server: CertServer) -> None:
    cert_server.routes["/slow.pem"] = (200, pem(pki.sp) * 4, 0.05)
    x5u = cert_server.url("/slow.pem")
    result = make_verifier(pki, cert_server, timeout=0.3).verify(signed(pki, x5u), now=NOW)
    assert result.reason is Reason.X5U_TIMEOUT


def test_x5u_host_and_scheme_allow_list(pki: RefPKI, cert_server: CertServer) -> None:
    verifier = make_verifier(pki, cert_server)
    result = verifier.verify(signed(pki, "http://evil.example/sp.pem"), now=NOW)
    assert result.reason is Reason.X5U_HOST
    assert "evil.example" in result.detail
    result = verifier.verify(signed(pki, f"ftp://{cert_server.host}/sp.pem"), now=NOW)
    assert result.reason is Reason.X5U_SCHEME
    assert cert_server.requests == []


# --- fuzzing ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fuzz_verifier(pki: RefPKI) -> ShakenVerifier:
    return local_verifier(pki)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=400))
def test_fuzz_arbitrary_text_never_raises(fuzz_verifier: ShakenVerifier, text: str) -> None:
    result = fuzz_verifier.verify(text, now=NOW)
    assert not result.passed
    assert result.reason is not None
    assert result.detail


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_fuzz_mutated_headers_never_pass(
    fuzz_verifier: ShakenVerifier, pki: RefPKI, data: st.DataObject
) -> None:
    header = _GOOD.setdefault("header", signed(pki, X5U))
    token_len = header.index(";")
    op = data.draw(st.sampled_from(["replace", "truncate", "insert", "delete"]))
    at = data.draw(st.integers(0, token_len - 1))
    if op == "truncate":
        mutated = header[:at]
    elif op == "delete":
        mutated = header[:at] + header[at + 1 :]
    else:
        ch = data.draw(st.characters(codec="ascii").filter(lambda c: c != header[at]))
        mutated = header[:at] + ch + header[at + (op == "replace") :]
    # whitespace around the header value is not part of the token (parsers strip it)
    assume(mutated.strip() != header.strip())
    result = fuzz_verifier.verify(mutated, now=NOW)
    assert not result.passed, mutated
    assert result.reason is not None


_GOOD: dict[str, str] = {}


@given(
    name=st.sampled_from(["info", "alg", "ppt", "x", "INFO"]),
    value=st.text(alphabet=st.characters(codec="ascii"), max_size=30),
    prefix=st.text(alphabet=st.sampled_from('abc.-_=;<>" '), max_size=20),
)
def test_fuzz_identity_parameters(name: str, value: str, prefix: str) -> None:
    text = f"{prefix};{name}={value};info=<https://x.example/a.pem>"
    try:
        parsed = parse_identity_header(text)
    except ShakenError:
        return
    assert parsed.info


@given(
    spcs=st.lists(st.text(alphabet="0123456789ABCDEF", min_size=1, max_size=8), max_size=3),
    numbers=st.lists(st.text(alphabet="0123456789#*", min_size=1, max_size=15), max_size=3),
    ranges=st.lists(
        st.tuples(st.text(alphabet="0123456789", min_size=1, max_size=15), st.integers(2, 10**12)),
        max_size=3,
    ),
)
def test_tnauthlist_round_trip(
    spcs: list[str], numbers: list[str], ranges: list[tuple[str, int]]
) -> None:
    if not (spcs or numbers or ranges):
        return
    value = TNAuthList(tuple(spcs), tuple(ranges), tuple(numbers))
    assert decode(encode(value)) == value


@given(st.binary(max_size=200))
def test_tnauthlist_decoder_raises_only_its_error(raw: bytes) -> None:
    with contextlib.suppress(TNAuthListError):
        decode(raw)


def test_tnauthlist_der_examples() -> None:
    assert encode(TNAuthList(spcs=("1234",))) == bytes.fromhex("3008a0061604") + b"1234"
    assert decode(bytes.fromhex("3005a003160131")).spcs == ("1",)  # the reference CSR's
    with pytest.raises(TNAuthListError, match="indefinite"):
        decode(bytes.fromhex("3080a003160131"))
    with pytest.raises(TNAuthListError, match="empty"):
        decode(bytes.fromhex("3000"))
