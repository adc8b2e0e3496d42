"""Attachment scanning (W5 V3, W9 W10): content type by magic bytes, size caps,
archive safety, SHA-256 hash lists and YARA rules.

Everything here is pure computation over bytes the event carries, so the
engine can run it (`aupguard.detectors.media`); ClamAV, which needs a socket,
runs in the service layer (`aupguard.content.clamav`) and passes its findings
in through the state.

Nothing here raises on bad media. A file that cannot be judged - over the size
cap, a corrupt or bomb-shaped archive, content no magic number describes - is
reported *unscannable* with the reason, and the pack decides what that means
(the default pack holds it). Archives are inspected without extracting them
to disk: their central directory first (member count, declared sizes,
compression ratio, nesting), then each member read through a hard byte limit,
because declared sizes can lie.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import puremagic

__all__ = [
    "ArchiveLimits",
    "MediaReport",
    "ScanConfig",
    "compile_yara",
    "scan_media",
    "sniff",
    "types_agree",
]

EXECUTABLE_TYPES = frozenset(
    {
        "application/x-msdownload",
        "application/x-executable",
        "application/x-mach-binary",
        "application/vnd.android.package-archive",
        "application/x-dex",
        "application/x-sh",
        "application/java-archive",
    }
)
ARCHIVE_TYPES = frozenset({"application/zip"})


@dataclass(frozen=True)
class ArchiveLimits:
    max_members: int = 1000
    max_total_bytes: int = 50 << 20
    """Declared uncompressed size of all members together."""
    max_ratio: float = 100.0
    """Uncompressed / compressed size of any member (zip bombs reach 1,000+)."""
    max_depth: int = 2
    """Archives inside archives."""


@dataclass(frozen=True)
class ScanConfig:
    max_bytes: int = 5 << 20
    """Media larger than this are not scanned (reported unscannable)."""
    archive: ArchiveLimits = ArchiveLimits()
    hashes: dict[str, str] = field(default_factory=dict)
    """sha256 hex -> name of what it is (malware family, test file)."""
    yara: Any = None
    """Compiled YARA rules (`compile_yara`), or None."""
    yara_timeout: int = 5


@dataclass
class MediaReport:
    sha256: str | None
    detected: str | None = None
    """Content type found from the bytes (None: not recognised or not provided)."""
    claimed: str | None = None
    infected: list[str] = field(default_factory=list)
    """What matched: ``hash:<name>``, ``yara:<rule>`` (member paths for archives)."""
    unscannable: list[str] = field(default_factory=list)
    executable: bool = False
    provided: bool = True


def compile_yara(sources: dict[str, str]) -> Any:
    """Compile YARA rule texts (namespace -> source); raises ValueError naming the problem."""
    import yara

    if not sources:
        return None
    try:
        return yara.compile(sources=sources)
    except yara.Error as exc:
        raise ValueError(f"YARA rules do not compile: {exc}") from None


def _is_text(data: bytes) -> bool:
    if b"\x00" in data[:4096]:
        return False
    try:
        data[:4096].decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start > 4090  # a character cut at the sample's edge
    return True


def sniff(data: bytes) -> str | None:
    """The content type of `data` from its first bytes (magic numbers), or None."""
    head = data[:64]
    if head.startswith(b"MZ"):
        return "application/x-msdownload"
    if head.startswith(b"\x7fELF"):
        return "application/x-executable"
    if head[:4] in (
        b"\xfe\xed\xfa\xce",
        b"\xfe\xed\xfa\xcf",
        b"\xce\xfa\xed\xfe",
        b"\xcf\xfa\xed\xfe",
    ):
        return "application/x-mach-binary"
    if head.startswith(b"dex\n"):
        return "application/x-dex"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "application/zip"
    if head.startswith(b"#!"):
        return "application/x-sh"
    try:
        found = puremagic.from_string(data[:8192], mime=True)
    except (puremagic.PureError, ValueError):
        found = ""
    if found:
        return str(found)
    if _is_text(data):
        return "text/vcard" if head.upper().startswith(b"BEGIN:VCARD") else "text/plain"
    return None


_EQUIVALENT = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "audio/mp3": "audio/mpeg",
    "application/x-zip-compressed": "application/zip",
    "text/x-vcard": "text/vcard",
    "application/x-pdf": "application/pdf",
}


def _canonical(mime: str) -> str:
    base = mime.split(";", 1)[0].strip().lower()
    return _EQUIVALENT.get(base, base)


def types_agree(claimed: str, detected: str) -> bool:
    """Whether a claimed content type is an honest description of the detected one."""
    claimed, detected = _canonical(claimed), _canonical(detected)
    if claimed in (detected, "application/octet-stream"):
        return detected not in EXECUTABLE_TYPES or claimed == detected
    if detected in EXECUTABLE_TYPES:
        return False
    if detected == "application/zip":  # office documents, APKs and the like are zips
        return claimed.startswith("application/")
    return claimed.split("/", 1)[0] == detected.split("/", 1)[0]


def _match_hashes(data: bytes, config: ScanConfig, where: str, report: MediaReport) -> str:
    digest = hashlib.sha256(data).hexdigest()
    name = config.hashes.get(digest)
    if name is not None:
        report.infected.append(f"hash:{name}{where}")
    return digest


def _match_yara(data: bytes, config: ScanConfig, where: str, report: MediaReport) -> None:
    if config.yara is None:
        return
    import yara

    try:
        matches = config.yara.match(data=data, timeout=config.yara_timeout)
    except yara.TimeoutError:
        report.unscannable.append(f"YARA timed out{where}")
        return
    except yara.Error as exc:
        report.unscannable.append(f"YARA failed{where}: {exc}")
        return
    report.infected.extend(f"yara:{m.rule}{where}" for m in matches)


def _scan_archive(
    data: bytes, config: ScanConfig, depth: int, path: str, report: MediaReport
) -> None:
    limits = config.archive
    if depth > limits.max_depth:
        report.unscannable.append(f"archives nested deeper than {limits.max_depth}{path}")
        return
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        report.unscannable.append(f"corrupt archive{path}: {exc}")
        return
    if len(members) > limits.max_members:
        report.unscannable.append(
            f"archive holds {len(members)} members (limit {limits.max_members}){path}"
        )
        return
    total = sum(m.file_size for m in members)
    if total > limits.max_total_bytes:
        report.unscannable.append(
            f"zip bomb suspected: {total} bytes uncompressed (limit {limits.max_total_bytes}){path}"
        )
        return
    for member in members:
        if member.is_dir():
            continue
        ratio = member.file_size / max(1, member.compress_size)
        if ratio > limits.max_ratio:
            report.unscannable.append(
                f"zip bomb suspected: {member.filename!r} expands {ratio:.0f}x{path}"
            )
            return
    budget = limits.max_total_bytes
    for member in members:
        if member.is_dir():
            continue
        where = f"{path} in {member.filename}"
        try:
            with archive.open(member) as handle:
                content = handle.read(min(budget, config.max_bytes) + 1)
        except (
            zipfile.BadZipFile,
            RuntimeError,
            NotImplementedError,
            OSError,
            ValueError,
            EOFError,
        ) as exc:
            # RuntimeError: encrypted member; NotImplementedError: unknown compression
            report.unscannable.append(f"member cannot be read{where}: {exc}")
            continue
        if len(content) > min(budget, config.max_bytes):
            report.unscannable.append(f"zip bomb suspected: member larger than declared{where}")
            return
        budget -= len(content)
        kind = sniff(content)
        if kind in EXECUTABLE_TYPES:
            report.executable = True
        _match_hashes(content, config, where, report)
        _match_yara(content, config, where, report)
        if kind in ARCHIVE_TYPES:
            _scan_archive(content, config, depth + 1, where, report)


def scan_media(
    data: bytes | None,
    *,
    claimed: str | None = None,
    declared_size: int | None = None,
    declared_sha256: str | None = None,
    config: ScanConfig,
) -> MediaReport:
    """Scan one attachment's bytes (or what is known of it when they are not provided)."""
    if data is None:
        report = MediaReport(declared_sha256, claimed=claimed, provided=False)
        if declared_sha256 and declared_sha256 in config.hashes:
            report.infected.append(f"hash:{config.hashes[declared_sha256]}")
        if declared_size is not None and declared_size > config.max_bytes:
            report.unscannable.append(
                f"larger than the {config.max_bytes >> 20} MiB scanning cap ({declared_size} bytes)"
            )
        return report
    digest = hashlib.sha256(data).hexdigest()
    report = MediaReport(digest, claimed=claimed)
    if len(data) > config.max_bytes:
        report.unscannable.append(
            f"larger than the {config.max_bytes >> 20} MiB scanning cap ({len(data)} bytes)"
        )
        name = config.hashes.get(digest)
        if name is not None:
            report.infected.append(f"hash:{name}")
        return report
    if declared_sha256 and declared_sha256 != digest:
        report.unscannable.append("content does not match its declared SHA-256")
    report.detected = sniff(data)
    if report.detected is None:
        report.unscannable.append("content type not recognised (corrupt or unknown format)")
    elif report.detected in EXECUTABLE_TYPES:
        report.executable = True
    _match_hashes(data, config, "", report)
    _match_yara(data, config, "", report)
    if report.detected in ARCHIVE_TYPES:
        _scan_archive(data, config, 1, "", report)
    return report


def merge_hashes(lists: Iterable[dict[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for entries in lists:
        for digest, name in entries.items():
            out.setdefault(digest.lower(), name)
    return out
