"""Fixtures for the identity tests: the reference PKI (skips without ../shared/data),
a local HTTP server for x5u certificates, and a verifier wired to both."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from aupguard.identity.certs import CertificateCache, CertificateFetcher, TrustStore
from aupguard.identity.verify import ShakenVerifier
from tests.identity.pki import RefPKI, pem, ref_pki

NOW = datetime(2026, 6, 2, 16, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def ref(shared_data: Path) -> Path:
    return shared_data / "stir-shaken-ref"


@pytest.fixture(scope="session")
def pki(ref: Path) -> RefPKI:
    return ref_pki(ref)


class CertServer:
    """Serves certificates (or anything) from 127.0.0.1: path -> (status, body, delay)."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, bytes, float]] = {}
        self.requests: list[str] = []
        routes, requests = self.routes, self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                requests.append(self.path)
                status, body, delay = routes.get(self.path, (404, b"not found", 0.0))
                self.send_response(status)
                if status in (301, 302):
                    self.send_header("Location", body.decode())
                    body = b""
                self.send_header("Content-Type", "application/x-pem-file")
                if self.path != "/no-length":
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    if delay:
                        for i in range(0, len(body), 64):
                            self.wfile.write(body[i : i + 64])
                            self.wfile.flush()
                            time.sleep(delay)
                    else:
                        self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"http://{self.host}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def cert_server() -> Iterator[CertServer]:
    server = CertServer()
    yield server
    server.close()


@pytest.fixture
def served(cert_server: CertServer, pki: RefPKI) -> tuple[CertServer, str]:
    """The server with the reference SP certificate (real TNAuthList) at /sp.pem."""
    cert_server.routes["/sp.pem"] = (200, pem(pki.sp), 0.0)
    return cert_server, cert_server.url("/sp.pem")


def make_verifier(
    pki: RefPKI,
    server: CertServer,
    *,
    max_bytes: int = 64 * 1024,
    timeout: float = 2.0,
    **kw: object,
) -> ShakenVerifier:
    fetcher = CertificateFetcher(
        [server.host], schemes=("http",), max_bytes=max_bytes, timeout=timeout
    )
    cache = CertificateCache(fetcher.fetch, TrustStore([pki.ca]))
    return ShakenVerifier(cache, **kw)  # type: ignore[arg-type]
