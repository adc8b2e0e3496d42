"""ClamAV's daemon (clamd) over its socket: the INSTREAM command.

`ClamdClient` streams bytes to clamd (unix socket path, or ``host:port``) in
chunks and reads its verdict. `ClamAVSource` is a service-layer state source
(see `aupguard.service.screening`) that scans an event's attachments before
the engine runs and passes the findings in as ``state.media``; it fails open
(a down daemon is recorded in `Decision.degraded`, and the pack still sees
every other signal). Nothing is downloaded: clamd uses whatever signature
databases the operator installed.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from aupguard.engine.events import AnyEvent, InboundMessage, OutboundMessage
from aupguard.engine.state import MediaState

__all__ = ["ClamAVSource", "ClamResult", "ClamdClient", "ClamdError"]

CHUNK = 64 << 10


class ClamdError(OSError):
    """clamd could not be reached or answered something unexpected."""


@dataclass(frozen=True)
class ClamResult:
    status: Literal["clean", "infected", "error"]
    signature: str | None = None
    reason: str | None = None


class ClamdClient:
    def __init__(self, address: str, timeout: float = 30.0) -> None:
        self.address = address
        self.timeout = timeout

    def _connect(self) -> socket.socket:
        try:
            if self.address.startswith("/") or self.address.startswith("unix:"):
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(self.timeout)
                sock.connect(self.address.removeprefix("unix:"))
            else:
                host, _, port = self.address.rpartition(":")
                sock = socket.create_connection((host or "127.0.0.1", int(port)), self.timeout)
                sock.settimeout(self.timeout)
        except (OSError, ValueError) as exc:
            raise ClamdError(f"cannot connect to clamd at {self.address}: {exc}") from None
        return sock

    def _command(self, sock: socket.socket, command: bytes) -> None:
        sock.sendall(b"z" + command + b"\0")

    @staticmethod
    def _reply(sock: socket.socket) -> str:
        data = b""
        while not data.endswith(b"\0"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
            if len(data) > 1 << 16:
                raise ClamdError("clamd reply too long")
        return data.rstrip(b"\0").decode("utf-8", "replace").strip()

    def ping(self) -> bool:
        with self._connect() as sock:
            self._command(sock, b"PING")
            return self._reply(sock) == "PONG"

    def version(self) -> str:
        with self._connect() as sock:
            self._command(sock, b"VERSION")
            return self._reply(sock)

    def instream(self, data: bytes) -> ClamResult:
        """Scan `data`; a clamd-side problem (size limit...) is an ``error`` result."""
        with self._connect() as sock:
            try:
                self._command(sock, b"INSTREAM")
                for start in range(0, len(data), CHUNK):
                    piece = data[start : start + CHUNK]
                    sock.sendall(struct.pack("!L", len(piece)) + piece)
                sock.sendall(struct.pack("!L", 0))
                reply = self._reply(sock)
            except OSError as exc:
                # clamd closes the socket when the stream exceeds its StreamMaxLength
                return ClamResult("error", reason=f"clamd stopped reading: {exc}")
        return _parse(reply)


def _parse(reply: str) -> ClamResult:
    body = reply.split(":", 1)[1].strip() if ":" in reply else reply
    if body == "OK":
        return ClamResult("clean")
    if body.endswith(" FOUND"):
        return ClamResult("infected", signature=body[: -len(" FOUND")].strip())
    if body.endswith("ERROR"):
        return ClamResult("error", reason=body[: -len("ERROR")].strip() or "error")
    return ClamResult("error", reason=f"unexpected reply {reply[:100]!r}")


class ClamAVSource:
    """A fail-open state source that scans attachments with clamd (see the module doc)."""

    name = "clamav"
    fail_mode: Literal["open", "closed"] = "open"
    clauses: tuple[str, ...] = ("W5", "V3")

    def __init__(self, client: ClamdClient, max_bytes: int = 5 << 20) -> None:
        self.client = client
        self.max_bytes = max_bytes

    def read(self, event: AnyEvent, now: datetime) -> dict[str, Any]:
        if not isinstance(event, OutboundMessage | InboundMessage) or not event.media:
            return {}
        infected: set[str] = set()
        unscannable: set[str] = set()
        for index, media in enumerate(event.media):
            if media.data is None or len(media.data) > self.max_bytes:
                continue  # the engine reports these itself
            result = self.client.instream(media.data)
            where = f" (attachment {index + 1})" if len(event.media) > 1 else ""
            if result.status == "infected":
                infected.add(f"clamav:{result.signature}{where}")
            elif result.status == "error":
                unscannable.add(f"ClamAV could not scan it: {result.reason}{where}")
        state = MediaState(
            infected=frozenset(infected),
            unscannable=frozenset(unscannable),
            scanners=frozenset({"clamav"}),
        )
        return {"media": state}
