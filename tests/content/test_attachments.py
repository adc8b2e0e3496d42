"""Attachment scanning for real: YARA (yara-python), hash lists, magic-byte types,
size caps, corrupt and bomb-shaped archives - each a result, never an exception."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aupguard import Engine, OutboundMessage, Verdict
from aupguard.content.attachments import ScanConfig, compile_yara, scan_media, sniff, types_agree
from tests.factories import message
from tests.packs import engine_for

CANARY = b"AUPGUARD-CANARY-ATTACHMENT: this harmless file must be reported as malware"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32
EXE = b"MZ\x90\x00" + b"\x00" * 60 + b"This program cannot be run in DOS mode"


def _zip(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _mms(*media: dict[str, object]) -> OutboundMessage:
    return message("see attached", channel="mms", media=list(media))


def test_content_type_comes_from_the_bytes() -> None:
    assert sniff(PNG) == "image/png"
    assert sniff(JPEG) == "image/jpeg"
    assert sniff(EXE) == "application/x-msdownload"
    assert sniff(b"\x7fELF\x02\x01\x01" + b"\x00" * 20) == "application/x-executable"
    assert sniff(_zip({"a.txt": b"hi"})) == "application/zip"
    assert sniff(b"BEGIN:VCARD\nVERSION:3.0\nEND:VCARD\n") == "text/vcard"
    assert sniff(b"\x00\x01\x02garbage\xff") is None
    assert types_agree("image/jpg", "image/jpeg")
    assert not types_agree("image/jpeg", "application/x-msdownload")
    assert not types_agree("application/octet-stream", "application/x-msdownload")
    assert types_agree("application/octet-stream", "image/png")


def test_yara_rules_run_for_real() -> None:
    rules = compile_yara(
        {"t": 'rule smishing_apk { strings: $a = "AndroidManifest.xml" condition: $a }'}
    )
    config = ScanConfig(yara=rules)
    apk = _zip(
        {"AndroidManifest.xml": b"<manifest/>", "classes.dex": b"dex\n035\x00" + b"\x00" * 20}
    )
    report = scan_media(apk, claimed="application/vnd.android.package-archive", config=config)
    assert "yara:smishing_apk" in report.infected or any(
        "smishing_apk" in i for i in report.infected
    )
    assert report.executable  # the DEX inside
    with pytest.raises(ValueError, match="YARA rules do not compile"):
        compile_yara({"bad": "rule {"})


def test_default_pack_finds_the_canary_by_hash_and_by_yara(engine: Engine) -> None:
    decision = engine.screen(_mms({"content_type": "text/plain", "data": CANARY}))
    assert decision.verdict is Verdict.BLOCK
    hit = next(h for h in decision.hits if h.rule == "media.malware")
    labels = " ".join(e.label for e in hit.evidence)
    assert "hash:aupguard-canary" in labels and "yara:aupguard_canary" in labels
    assert "W5" in hit.clauses and "V3" in hit.clauses
    assert CANARY.decode() not in str(decision.to_dict())  # evidence names, never content
    # inside an archive, and by declared hash when the content is not given
    inside = engine.screen(
        _mms({"content_type": "application/zip", "data": _zip({"x/readme.txt": CANARY})})
    )
    assert inside.verdict is Verdict.BLOCK
    digest = hashlib.sha256(CANARY).hexdigest()
    by_ref = engine.screen(_mms({"url": "https://m.example.com/1", "sha256": digest}))
    assert "media.malware" in [h.rule for h in by_ref.hits]


def test_operator_hash_files_and_yara_files(tmp_path: Path) -> None:
    bad = b"operator's own known-bad sample"
    hashes = tmp_path / "bad.sha256"
    hashes.write_text(f"# known bad\n{hashlib.sha256(bad).hexdigest()} FamilyX\n", "utf-8")
    rules = tmp_path / "mine.yar"
    rules.write_text('rule op_rule { strings: $a = "operator-marker" condition: $a }', "utf-8")
    engine = engine_for(
        tmp_path,
        f"""
        data:
          attachments:
            source: test
            as_of: 2026-01-01
            values: {{hash_files: ["{hashes}"], yara: ["{rules}"], builtin_yara: false}}
        rules:
          - id: media.mine
            title: malware
            clauses: [X1]
            when: {{detector: media.infected}}
            action: block
            severity: high
            examples:
              - event: {{channel: mms, media: [{{data: "operator-marker inside"}}]}}
        """,
    )
    assert engine.screen(_mms({"data": bad})).verdict is Verdict.BLOCK
    assert engine.screen(_mms({"data": b"operator-marker inside"})).verdict is Verdict.BLOCK
    assert (
        engine.screen(_mms({"data": CANARY})).verdict is Verdict.ALLOW
    )  # builtin rules off, hash not listed


@pytest.mark.parametrize(
    ("media", "reason"),
    [
        (
            {"content_type": "image/jpeg", "data": b"\x00" * (50 << 20)},
            "larger than the 5 MiB scanning cap",
        ),
        (
            {
                "content_type": "image/jpeg",
                "size": 50 << 20,
                "url": "https://m.example.com/big.jpg",
            },
            "larger than the 5 MiB scanning cap",
        ),
        (
            {"content_type": "image/png", "data": b"\x00\x01\x02 corrupt \x00\xff"},
            "content type not recognised",
        ),
        (
            {"content_type": "application/zip", "data": b"PK\x03\x04" + b"\x00" * 10},
            "corrupt archive",
        ),
        ({"content_type": "application/zip", "data": "BOMB"}, "zip bomb suspected"),
        ({"content_type": "application/zip", "data": "NESTED"}, "archives nested deeper"),
        ({"content_type": "application/zip", "data": "MANY"}, "archive holds 1001 members"),
        (
            {"content_type": "image/png", "data": PNG, "sha256": "0" * 64},
            "does not match its declared SHA-256",
        ),
    ],
)
def test_unscannable_media_is_a_result_and_held(
    engine: Engine, media: dict[str, object], reason: str
) -> None:
    if media.get("data") == "BOMB":
        media = {**media, "data": _zip({"bomb.txt": b"\x00" * (60 << 20)})}
    elif media.get("data") == "NESTED":
        media = {**media, "data": _zip({"1.zip": _zip({"2.zip": _zip({"3.txt": b"deep"})})})}
    elif media.get("data") == "MANY":
        media = {
            **media,
            "data": _zip({f"f{i}.txt": b"x" for i in range(1001)}, zipfile.ZIP_STORED),
        }
    decision = engine.screen(_mms(media))
    assert decision.verdict is Verdict.HOLD
    hit = next(h for h in decision.hits if h.rule == "media.unscannable")
    assert any(reason in e.label for e in hit.evidence), [e.label for e in hit.evidence]


def test_wrong_mime_claims_and_programs(engine: Engine) -> None:
    lying = engine.screen(_mms({"content_type": "image/jpeg", "data": b"%PDF-1.4\n%x\n"}))
    assert "media.type_mismatch" in [h.rule for h in lying.hits]
    assert lying.verdict is Verdict.HOLD
    program = engine.screen(_mms({"content_type": "image/jpeg", "data": EXE}))
    assert program.verdict is Verdict.BLOCK
    assert {"media.executable", "media.type_mismatch"} <= {h.rule for h in program.hits}
    zipped = engine.screen(
        _mms({"content_type": "application/zip", "data": _zip({"setup.exe": EXE})})
    )
    assert "media.executable" in [h.rule for h in zipped.hits]
    honest = engine.screen(
        _mms(
            {"content_type": "image/png", "data": PNG}, {"content_type": "image/jpeg", "data": JPEG}
        )
    )
    assert honest.verdict is Verdict.ALLOW


def test_media_by_reference_is_only_tagged(engine: Engine) -> None:
    decision = engine.screen(
        _mms({"url": "https://m.example.com/a.jpg", "content_type": "image/jpeg"})
    )
    assert decision.verdict is Verdict.ALLOW
    assert [h.rule for h in decision.hits] == ["media.not_scanned"]


@settings(max_examples=150, deadline=None)
@given(
    st.binary(max_size=2048), st.sampled_from(["image/jpeg", "application/zip", "text/plain", None])
)
def test_scanning_never_raises(data: bytes, claimed: str | None) -> None:
    config = ScanConfig(yara=compile_yara({"t": 'rule r { strings: $a = "zz" condition: $a }'}))
    for blob in (data, b"PK\x03\x04" + data, b"PK\x05\x06" + data):
        report = scan_media(blob, claimed=claimed, config=config)
        assert report.sha256 == hashlib.sha256(blob).hexdigest()
