"""`aupguard shaken sign|verify` and `aupguard numbers verify|list`."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

import typer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from rich.table import Table

from aupguard.cli.app import app, console, fail
from aupguard.config import Settings
from aupguard.identity.certs import (
    CertificateCache,
    CertificateFetcher,
    Revocations,
    TrustStore,
    load_certificates,
)
from aupguard.identity.numbering import InvalidSender, normalise_sender
from aupguard.identity.passport import ATTESTATIONS
from aupguard.identity.registry import EvidenceKind, attestation_for
from aupguard.identity.service import (
    RegistrationError,
    ShakenSigner,
    confirm_verification,
    record_evidence,
    register_sender,
    start_verification,
)
from aupguard.identity.sql import SqlSenderRegistry
from aupguard.identity.verify import ShakenVerifier
from aupguard.store.db import Database
from aupguard.store.migrate import upgrade

shaken_app = typer.Typer(help="Sign and verify STIR/SHAKEN PASSporTs.", no_args_is_help=True)
numbers_app = typer.Typer(
    help="Register and verify an account's numbers and sender ids.", no_args_is_help=True
)
app.add_typer(shaken_app, name="shaken")
app.add_typer(numbers_app, name="numbers")

UrlOption = Annotated[
    str | None,
    typer.Option("--url", help="Database URL (default: AUPGUARD_DATABASE_URL or SQLite)."),
]
AccountOption = Annotated[str, typer.Option("--account", "-a", help="The account (tenant).")]
RegionOption = Annotated[
    str | None, typer.Option("--region", help="Region for numbers given without +country code.")
]


def _registry(url: str | None) -> SqlSenderRegistry:
    try:
        db = Database(url or Settings().database_url)
        upgrade(db)
    except Exception as exc:  # a bad URL or unreachable server: say so, no traceback
        fail(f"database: {type(exc).__name__}: {str(exc)[:200]}")
    return SqlSenderRegistry(db)


def _now(at: str | None) -> datetime:
    if at is None:
        return datetime.now(UTC)
    text = at.strip()
    if text.isdigit():
        return datetime.fromtimestamp(int(text), UTC)
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        fail(f"--at: {at!r} is neither an ISO time nor seconds since the epoch")
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _number(value: str, option: str, region: str | None = None) -> str:
    try:
        normal = normalise_sender(value, region)
    except InvalidSender as exc:
        fail(f"{option}: {exc}")
    if not normal.startswith("+"):
        fail(f"{option}: {value!r} is not a telephone number")
    return normal


def _key(path: Path) -> ec.EllipticCurvePrivateKey:
    if not path.is_file():
        fail(f"--key: {path}: no such file")
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        fail(f"--key: {path}: not an unencrypted PEM private key ({str(exc)[:80]})")
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        fail(f"--key: {path}: ES256 needs an EC P-256 key")
    return key


@shaken_app.command("sign")
def sign_command(
    key: Annotated[Path, typer.Option("--key", help="The STI certificate's private key (PEM).")],
    x5u: Annotated[str, typer.Option("--x5u", help="Where verifiers fetch the certificate.")],
    caller: Annotated[str, typer.Option("--from", help="Calling number (E.164).")],
    callee: Annotated[str, typer.Option("--to", help="Called number (E.164).")],
    attest: Annotated[
        str | None, typer.Option("--attest", help="A, B or C (default: from the registry).")
    ] = None,
    account: Annotated[
        str | None,
        typer.Option(
            "--account", "-a", help="Choose the attestation from this account's evidence."
        ),
    ] = None,
    at: Annotated[str | None, typer.Option("--at", help="Signing time (ISO or epoch).")] = None,
    origid: Annotated[str | None, typer.Option("--origid", help="Origination id (UUID).")] = None,
    url: UrlOption = None,
) -> None:
    """Sign a SHAKEN PASSporT and print the SIP Identity header value."""
    orig, dest = _number(caller, "--from"), _number(callee, "--to")
    if not x5u.lower().startswith(("https://", "http://")):
        fail(f"--x5u: {x5u!r} is not an http(s) URL")
    chosen: str
    if attest is not None:
        if attest.upper() not in ATTESTATIONS:
            fail(f"--attest: {attest!r} is not A, B or C")
        chosen = attest.upper()
    elif account is not None:
        record = _registry(url).get(account, orig)
        chosen = attestation_for(record) or "C"
    else:
        fail("give --attest A|B|C, or --account to choose it from the registry's evidence")
    if origid is not None:
        import uuid

        try:
            uuid.UUID(origid)
        except ValueError:
            fail(f"--origid: {origid!r} is not a UUID")
    signer = ShakenSigner(_key(key), x5u)
    attestation: Literal["A", "B", "C"] = chosen  # type: ignore[assignment]
    sys.stdout.write(signer.header(orig, dest, attestation, _now(at), origid) + "\n")


@shaken_app.command("verify")
def verify_command(
    header: Annotated[
        str | None, typer.Argument(help="The Identity header value ('-' or omitted: stdin).")
    ] = None,
    trust: Annotated[
        list[Path], typer.Option("--trust", help="STI-CA root certificate file or folder.")
    ] = [],  # noqa: B006 - typer needs a literal default
    crl: Annotated[list[Path], typer.Option("--crl", help="Revocation list (PEM/DER).")] = [],  # noqa: B006
    cert: Annotated[
        Path | None,
        typer.Option("--cert", help="Use this certificate for the x5u instead of fetching it."),
    ] = None,
    allow_host: Annotated[
        list[str], typer.Option("--allow-host", help="Host x5u may be fetched from.")
    ] = [],  # noqa: B006
    allow_http: Annotated[
        bool, typer.Option("--allow-http", help="Also fetch http:// x5u.")
    ] = False,
    max_age: Annotated[float, typer.Option("--max-age", help="iat freshness, seconds.")] = 60.0,
    spc: Annotated[
        list[str], typer.Option("--spc", help="Accepted service provider code (repeatable).")
    ] = [],  # noqa: B006
    caller: Annotated[str | None, typer.Option("--from", help="The call's From number.")] = None,
    callee: Annotated[str | None, typer.Option("--to", help="The call's To number.")] = None,
    at: Annotated[
        str | None, typer.Option("--at", help="Verification time (ISO or epoch).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Verify an Identity header: exit 0 when TN-Validation-Passed, 1 otherwise."""
    if header is None or header == "-":
        header = sys.stdin.read()
    if not trust:
        fail("--trust: give at least one STI-CA certificate file or folder")
    for path in [*trust, *crl]:
        if not path.exists():
            fail(f"{path}: no such file or folder")
    try:
        store = TrustStore.from_paths(trust)
        revocations = Revocations.from_paths(crl)
    except ValueError as exc:
        fail(str(exc))
    if not len(store):
        fail("--trust: no certificate found")
    if cert is not None:
        if not cert.is_file():
            fail(f"--cert: {cert}: no such file")
        data = cert.read_bytes()
        try:
            load_certificates(data)
        except ValueError:
            fail(f"--cert: {cert}: not a PEM or DER certificate")
        cache = CertificateCache(lambda _url: data, store, revocations=revocations)
    else:
        fetcher = CertificateFetcher(
            allow_host, schemes=("https", "http") if allow_http else ("https",)
        )
        cache = CertificateCache(fetcher.fetch, store, revocations=revocations)
    verifier = ShakenVerifier(cache, max_age=max_age, allowed_spcs=spc or None)
    result = verifier.verify(header.strip(), now=_now(at), caller=caller, callee=callee)
    if as_json:
        sys.stdout.write(json.dumps(result.to_dict()) + "\n")
    else:
        style = "bold green" if result.passed else "bold red"
        console.print(f"[{style}]{result.verstat_attest}[/]")
        if result.reason is not None:
            console.print(
                f"  reason: {result.reason.value} (SIP {result.sip_code}): {result.detail}",
                markup=False,
                soft_wrap=True,
            )
        if result.orig is not None:
            console.print(
                f"  orig {result.orig} -> dest {', '.join(result.dest)}, attest {result.attest}, "
                f"iat {result.iat}",
                markup=False,
            )
    if not result.passed:
        raise typer.Exit(1)


@numbers_app.command("verify")
def numbers_verify(
    sender: Annotated[str, typer.Argument(help="Number (E.164), short code or sender id.")],
    account: AccountOption,
    send_code: Annotated[
        str | None,
        typer.Option("--send-code", help="Issue a code to deliver by 'sms' or 'call'; prints it."),
    ] = None,
    code: Annotated[str | None, typer.Option("--code", help="The code read back.")] = None,
    evidence: Annotated[
        str | None,
        typer.Option(
            "--evidence",
            help="carrier_loa, platform_assigned, brand_registration, whatsapp_business or customer_attestation.",
        ),
    ] = None,
    reference: Annotated[
        str | None, typer.Option("--reference", help="LOA id, brand/campaign registration id...")
    ] = None,
    brand: Annotated[
        str | None, typer.Option("--brand", help="Brand the sender id stands for.")
    ] = None,
    region: RegionOption = None,
    url: UrlOption = None,
) -> None:
    """Verify a sender: by a code sent to the number, or by recorded evidence."""
    chosen = [o for o in (send_code, code, evidence) if o is not None]
    if len(chosen) != 1:
        fail("give exactly one of --send-code sms|call, --code CODE, or --evidence KIND")
    registry = _registry(url)
    now = datetime.now(UTC)
    try:
        if brand is not None:
            register_sender(registry, account, sender, now, brand=brand, region=region)
        if send_code is not None:
            channel: Literal["call", "sms"]
            if send_code == "sms":
                channel = "sms"
            elif send_code == "call":
                channel = "call"
            else:
                fail(f"--send-code: {send_code!r} is neither 'sms' nor 'call'")
            issued = start_verification(
                registry,
                account,
                sender,
                now,
                channel=channel,
                region=region,
            )
            console.print(
                f"code {issued} issued for {normalise_sender(sender, region)} "
                f"(deliver it by {send_code}; valid 10 minutes)"
            )
            return
        if code is not None:
            record = confirm_verification(registry, account, sender, code, now, region=region)
        else:
            try:
                kind = EvidenceKind(str(evidence))
            except ValueError:
                kinds = ", ".join(k.value for k in EvidenceKind)
                fail(f"--evidence: {evidence!r} is not one of {kinds}")
            record = record_evidence(
                registry, account, sender, kind, now, reference=reference, region=region
            )
    except RegistrationError as exc:
        fail(
            f"--{exc.field.replace('_', '-')}: {exc.message}"
            if exc.field != "sender"
            else exc.message
        )
    attest = attestation_for(record)
    console.print(
        f"{record.sender} verified for {account} ({record.evidence[-1].kind.value}); "
        f"calls from it are signed with attestation {attest}"
    )


@numbers_app.command("list")
def numbers_list(
    account: AccountOption,
    url: UrlOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The account's numbers and sender ids, with status and evidence."""
    records = _registry(url).list(account)
    if as_json:
        rows = [
            {
                "sender": r.sender,
                "kind": r.kind.value,
                "status": r.status,
                "brand": r.brand,
                "attestation": attestation_for(r),
                "evidence": [e.kind.value for e in r.evidence],
            }
            for r in records
        ]
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    table = Table(title=f"senders of {account}", title_justify="left")
    for column in ("sender", "kind", "status", "attestation", "evidence", "brand"):
        table.add_column(column)
    for r in records:
        table.add_row(
            r.sender,
            r.kind.value,
            r.status,
            attestation_for(r) or "-",
            ", ".join(e.kind.value for e in r.evidence) or "-",
            r.brand or "",
        )
    console.print(table)
    console.print(f"{len(records)} sender(s)")
