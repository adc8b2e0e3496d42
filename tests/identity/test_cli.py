"""`aupguard shaken sign|verify` and `aupguard numbers verify|list` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from aupguard.cli import app
from tests.identity.conftest import NOW
from tests.identity.pki import RefPKI, pem

runner = CliRunner()
AT = str(int(NOW.timestamp()))


def sp_file(tmp_path: Path, pki: RefPKI) -> Path:
    path = tmp_path / "sp.pem"
    path.write_bytes(pem(pki.sp))
    return path


def sign(ref: Path, *extra: str) -> list[str]:
    return [
        "shaken",
        "sign",
        "--key",
        str(ref / "sp" / "sp.priv"),
        "--x5u",
        "https://certs.example/sp.pem",
        "--from",
        "+12025550143",
        "--to",
        "+1 415 555 0123",
        "--at",
        AT,
        *extra,
    ]


def test_sign_then_verify(ref: Path, pki: RefPKI, tmp_path: Path) -> None:
    signed = runner.invoke(app, sign(ref, "--attest", "A"))
    assert signed.exit_code == 0, signed.output
    header = signed.stdout.strip()
    assert header.endswith(";info=<https://certs.example/sp.pem>;alg=ES256;ppt=shaken")
    verify = [
        "shaken",
        "verify",
        header,
        "--trust",
        str(ref / "ca"),
        "--cert",
        str(sp_file(tmp_path, pki)),
        "--at",
        AT,
        "--from",
        "+12025550143",
        "--json",
    ]
    result = runner.invoke(app, verify)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["verstat"], data["attest"], data["spc"]) == ("TN-Validation-Passed", "A", "1234")


def test_verify_reports_the_reason_and_exits_1(ref: Path, pki: RefPKI, tmp_path: Path) -> None:
    text = (ref / "sp" / "passport.txt").read_text()
    header = text.split("SIP Identity Header with PASSporT is:")[1].strip()
    result = runner.invoke(
        app,
        [
            "shaken",
            "verify",
            header,
            "--trust",
            str(ref / "ca" / "ca.pem"),
            "--cert",
            str(ref / "sp" / "sp.pem"),
            "--at",
            "1603458131",
        ],
    )
    assert result.exit_code == 1
    assert "TN-Validation-Failed" in result.stdout
    assert "claim_type" in result.stdout and "orig must be an object" in result.stdout


def test_bad_input_exits_2_naming_the_option(ref: Path, tmp_path: Path) -> None:
    cases = [
        (sign(ref), "--attest"),
        (sign(ref, "--attest", "D"), "--attest"),
        (
            [
                "shaken",
                "sign",
                "--key",
                str(tmp_path / "nope"),
                "--x5u",
                "https://x/y",
                "--from",
                "+12025550143",
                "--to",
                "+14155550123",
                "--attest",
                "A",
            ],
            "--key",
        ),
        (
            [
                "shaken",
                "sign",
                "--key",
                str(ref / "ca" / "ca.pem"),
                "--x5u",
                "https://x/y",
                "--from",
                "+12025550143",
                "--to",
                "+14155550123",
                "--attest",
                "A",
            ],
            "--key",
        ),
        (sign(ref, "--attest", "A", "--at", "yesterday"), "--at"),
        (
            [
                "shaken",
                "sign",
                "--key",
                "k",
                "--x5u",
                "https://x/y",
                "--from",
                "12",
                "--to",
                "+14155550123",
                "--attest",
                "A",
            ],
            "--from",
        ),
        (["shaken", "verify", "x", "--trust", str(tmp_path / "none")], "no such file"),
        (["shaken", "verify", "x"], "--trust"),
        (["numbers", "verify", "+12025550143", "-a", "acme"], "exactly one"),
    ]
    for args, needle in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert needle in result.stderr, (needle, result.stderr)
        assert "Traceback" not in result.output


def test_numbers_verify_and_list(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ids.sqlite'}"
    issued = runner.invoke(
        app, ["numbers", "verify", "+12025550143", "-a", "acme", "--send-code", "sms", "--url", url]
    )
    assert issued.exit_code == 0, issued.output
    code = issued.stdout.split()[1]
    wrong = runner.invoke(
        app,
        [
            "numbers",
            "verify",
            "+12025550143",
            "-a",
            "acme",
            "--code",
            "999999" if code != "999999" else "000000",
            "--url",
            url,
        ],
    )
    assert wrong.exit_code == 2 and "--code" in wrong.stderr
    ok = runner.invoke(
        app, ["numbers", "verify", "+1 202 555 0143", "-a", "acme", "--code", code, "--url", url]
    )
    assert ok.exit_code == 0 and "attestation A" in ok.stdout
    loa = runner.invoke(
        app,
        [
            "numbers",
            "verify",
            "+12025550150",
            "-a",
            "acme",
            "--evidence",
            "customer_attestation",
            "--url",
            url,
        ],
    )
    assert loa.exit_code == 0
    taken = runner.invoke(
        app,
        [
            "numbers",
            "verify",
            "+12025550143",
            "-a",
            "globex",
            "--evidence",
            "carrier_loa",
            "--reference",
            "L",
            "--url",
            url,
        ],
    )
    assert taken.exit_code == 2 and "another account" in taken.stderr
    listed = runner.invoke(app, ["numbers", "list", "-a", "acme", "--json", "--url", url])
    rows = json.loads(listed.stdout)
    assert [(r["sender"], r["status"], r["attestation"]) for r in rows] == [
        ("+12025550143", "verified", "A"),
        ("+12025550150", "verified", "B"),
    ]
    assert (
        json.loads(
            runner.invoke(app, ["numbers", "list", "-a", "globex", "--json", "--url", url]).stdout
        )
        == []
    )
    signed = runner.invoke(
        app,
        [
            "shaken",
            "sign",
            "--key",
            "missing.priv",
            "--x5u",
            "https://x/y",
            "--from",
            "+12025550150",
            "--to",
            "+14155550123",
            "-a",
            "acme",
            "--url",
            url,
        ],
    )
    assert signed.exit_code == 2 and "--key" in signed.stderr


def test_verify_in_a_real_process_fetches_x5u_from_a_local_server(
    ref: Path, pki: RefPKI, served: tuple[object, str]
) -> None:
    _, x5u = served
    host = x5u.split("/")[2]
    signed = runner.invoke(
        app,
        [
            "shaken",
            "sign",
            "--key",
            str(ref / "sp" / "sp.priv"),
            "--x5u",
            x5u,
            "--from",
            "+12025550143",
            "--to",
            "+14155550123",
            "--attest",
            "B",
            "--at",
            AT,
        ],
    )
    header = signed.stdout.strip()
    args = [
        str(Path(sys.executable).with_name("aupguard")),
        "shaken",
        "verify",
        header,
        "--trust",
        str(ref / "ca" / "ca.pem"),
        "--allow-http",
        "--at",
        AT,
    ]
    denied = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    assert denied.returncode == 1
    assert "x5u_host_not_allowed" in denied.stdout
    allowed = subprocess.run(
        [*args, "--allow-host", host], capture_output=True, text=True, timeout=60, check=False
    )
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert "TN-Validation-Passed-B" in allowed.stdout
