"""Fixtures for content tests: a real clamd on a temporary unix socket with a tiny
signature database built here (no signature download exists on this machine)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from aupguard.content.clamav import ClamdClient, ClamdError

CLAMD = shutil.which("clamd") or "/usr/sbin/clamd"


@dataclass(frozen=True)
class Clamd:
    client: ClamdClient
    hdb_sample: bytes
    """A file the .hdb (MD5) signature names."""
    ndb_marker: bytes
    """Bytes the .ndb (body pattern) signature matches anywhere in a file."""


@pytest.fixture(scope="session")
def clamd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clamd]:
    if not Path(CLAMD).is_file():
        pytest.fail(
            "clamd is not installed: `make test` installs clamav-daemon (scripts/debian-packages.txt)"
        )
    root = tmp_path_factory.mktemp("clamd")
    db = root / "db"
    db.mkdir()
    sample = b"aupguard clamav hash-list sample, harmless\n"
    marker = b"AUPGUARD-CLAMD-BODY-SIGNATURE-0042"
    (db / "aupguard.hdb").write_text(
        f"{hashlib.md5(sample).hexdigest()}:{len(sample)}:Aupguard.Test.Hash\n",
        "ascii",  # clamd's .hdb format is MD5
    )
    (db / "aupguard.ndb").write_text(f"Aupguard.Test.Body:0:*:{marker.hex()}\n", "ascii")
    socket_path = root / "clamd.sock"
    config = root / "clamd.conf"
    config.write_text(
        "\n".join(
            [
                f"LocalSocket {socket_path}",
                f"DatabaseDirectory {db}",
                f"TemporaryDirectory {root}",
                f"PidFile {root / 'clamd.pid'}",
                f"LogFile {root / 'clamd.log'}",
                "Foreground yes",
                "StreamMaxLength 2M",
                "MaxThreads 2",
                "",
            ]
        ),
        "ascii",
    )
    process = subprocess.Popen(
        [CLAMD, "--config-file", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    client = ClamdClient(str(socket_path), timeout=10)
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                log = (
                    (root / "clamd.log").read_text("utf-8", "replace")
                    if (root / "clamd.log").exists()
                    else ""
                )
                err = process.stderr.read().decode("utf-8", "replace") if process.stderr else ""
                pytest.fail(f"clamd exited with {process.returncode}: {err[-2000:]} {log[-2000:]}")
            try:
                if socket_path.exists() and client.ping():
                    break
            except ClamdError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("clamd did not answer PING within 90 s")
            time.sleep(0.2)
        yield Clamd(client, sample, marker)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()
