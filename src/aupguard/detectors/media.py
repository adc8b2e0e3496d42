"""Attachments (W5 V3, W9 W10): malware by hash list and YARA, executables, content
that contradicts its declared type, and media that cannot be scanned.

Scanning runs once per event and only when the event has attachments, so text
messages never pay for it. The pack's ``attachments`` dataset sets the caps,
the hash lists and the YARA rule files; ClamAV's findings arrive through
``state.media`` from the service layer (`aupguard.content.clamav`).
Evidence names what matched and the attachment's SHA-256, never its content.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from aupguard.content.attachments import (
    ArchiveLimits,
    MediaReport,
    ScanConfig,
    compile_yara,
    merge_hashes,
    scan_media,
    types_agree,
)
from aupguard.engine.context import Context
from aupguard.engine.decision import Evidence
from aupguard.engine.registry import MEDIA, ValueType, dataset, detector

NEEDS_MEDIA = frozenset({MEDIA})
"""Without attachments these detectors return their default, so the index skips their rules."""

__all__ = ["Attachments", "HashEntry", "reports"]

_SHA256 = r"^[0-9a-fA-F]{64}$"


class HashEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sha256: str = Field(pattern=_SHA256)
    name: str = Field(min_length=1)


class ArchiveLimitsModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_members: int = Field(default=1000, ge=1)
    max_total_bytes: int = Field(default=50 << 20, ge=1)
    max_ratio: float = Field(default=100.0, gt=1)
    max_depth: int = Field(default=2, ge=1, le=10)


class Attachments(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_bytes: int = Field(default=5 << 20, ge=1)
    archive: ArchiveLimitsModel = ArchiveLimitsModel()
    hashes: list[HashEntry] = []
    hash_files: list[str] = []
    """Files of ``sha256 [name]`` lines (``#`` comments) the operator maintains."""
    yara: list[str] = []
    """YARA rule files the operator maintains."""
    builtin_yara: bool = True
    """Also use the rules shipped in aupguard/content/rules (the canary and a few droppers)."""
    yara_timeout: int = Field(default=5, ge=1, le=60)


def _read_hash_file(path: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for number, line in enumerate(Path(path).read_text("utf-8").splitlines(), 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        digest, _, name = text.partition(" ")
        if len(digest) != 64 or any(c not in "0123456789abcdefABCDEF" for c in digest):
            raise ValueError(f"{path}:{number}: not a SHA-256 (64 hex digits)")
        out[digest.lower()] = name.strip() or Path(path).name
    return out


def _prepare(model: Attachments) -> ScanConfig:
    sources: dict[str, str] = {}
    if model.builtin_yara:
        folder = resources.files("aupguard.content").joinpath("rules")
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".yar"):
                sources[f"aupguard_{entry.name[:-4].replace('-', '_')}"] = entry.read_text("utf-8")
    for i, path in enumerate(model.yara):
        try:
            sources[f"operator_{i}"] = Path(path).read_text("utf-8")
        except OSError as exc:
            raise ValueError(f"YARA file {path}: {exc.strerror or exc}") from None
    try:
        files = [_read_hash_file(p) for p in model.hash_files]
    except OSError as exc:
        raise ValueError(f"hash file: {exc}") from None
    hashes = merge_hashes([{h.sha256: h.name for h in model.hashes}, *files])
    return ScanConfig(
        max_bytes=model.max_bytes,
        archive=ArchiveLimits(**model.archive.model_dump()),
        hashes=hashes,
        yara=compile_yara(sources),
        yara_timeout=model.yara_timeout,
    )


dataset(
    "attachments",
    Attachments,
    prepare=_prepare,
    description="Attachment scanning: size caps, archive limits, hash lists, YARA rules",
)

_NO_REPORTS: list[MediaReport] = []


def reports(ctx: Context) -> list[MediaReport]:
    """One scan report per attachment of the event (computed once)."""
    cached: list[MediaReport] | None = ctx.memo.get("media._reports")
    if cached is not None:
        return cached
    media = getattr(ctx.event, "media", ())
    config: ScanConfig | None = ctx.pack.data.get("attachments")
    if not media:
        cached = _NO_REPORTS
    else:
        config = config or ScanConfig()
        cached = [
            scan_media(
                m.data,
                claimed=m.content_type,
                declared_size=m.size,
                declared_sha256=m.sha256,
                config=config,
            )
            for m in media
        ]
    ctx.memo["media._reports"] = cached
    return cached


def _where(i: int, report: MediaReport) -> str:
    digest = f"sha256 {report.sha256[:16]}..." if report.sha256 else "no content"
    return f"attachment {i + 1} ({digest})"


@detector("media.infected", output=ValueType.LABELS, cost=5, needs=NEEDS_MEDIA)
def infected(ctx: Context) -> frozenset[str]:
    """What matched in the attachments: hash lists, YARA rules, and ClamAV (through the state)."""
    found: set[str] = set()
    for i, report in enumerate(reports(ctx)):
        for item in report.infected:
            found.add(item)
            ctx.add_evidence(
                "media.infected",
                Evidence("media.infected", f"{item} in {_where(i, report)}", "media"),
            )
    for item in ctx.state.media.infected:
        found.add(item)
        ctx.add_evidence("media.infected", Evidence("media.infected", item, "media"))
    return frozenset(found)


@detector("media.unscannable", output=ValueType.LABELS, cost=5, needs=NEEDS_MEDIA)
def unscannable(ctx: Context) -> frozenset[str]:
    """Why attachments could not be scanned (size cap, corrupt or bomb-shaped archive,
    unknown content, a scanner's error)."""
    found: set[str] = set()
    for i, report in enumerate(reports(ctx)):
        for reason in report.unscannable:
            found.add(reason)
            ctx.add_evidence(
                "media.unscannable",
                Evidence("media.unscannable", f"{reason}: {_where(i, report)}", "media"),
            )
    for reason in ctx.state.media.unscannable:
        found.add(reason)
        ctx.add_evidence("media.unscannable", Evidence("media.unscannable", reason, "media"))
    return frozenset(found)


@detector("media.type_mismatch", output=ValueType.LABELS, cost=5, needs=NEEDS_MEDIA)
def type_mismatch(ctx: Context) -> frozenset[str]:
    """Attachments whose bytes contradict their declared content type ('claimed -> found')."""
    found: set[str] = set()
    for i, report in enumerate(reports(ctx)):
        if report.claimed and report.detected and not types_agree(report.claimed, report.detected):
            label = f"{report.claimed} -> {report.detected}"
            found.add(label)
            ctx.add_evidence(
                "media.type_mismatch",
                Evidence("media.type_mismatch", f"{label}: {_where(i, report)}", "media"),
            )
    return frozenset(found)


@detector("media.executable", output=ValueType.BOOL, cost=5, needs=NEEDS_MEDIA)
def executable(ctx: Context) -> bool:
    """An attachment is, or an archive holds, a program (Windows, Linux, macOS, Android, script)."""
    for i, report in enumerate(reports(ctx)):
        if report.executable:
            ctx.add_evidence(
                "media.executable",
                Evidence("media.executable", f"program in {_where(i, report)}", "media"),
            )
            return True
    return False


@detector("media.not_scanned", output=ValueType.NUMBER, cost=1, needs=NEEDS_MEDIA)
def not_scanned(ctx: Context) -> float:
    """Attachments given only by reference (no content to scan here)."""
    return float(sum(1 for report in reports(ctx) if not report.provided))
