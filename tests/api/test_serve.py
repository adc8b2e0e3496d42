"""`aupguard serve` as an operator runs it: a real process with two uvicorn workers,
a key made with the real `aupguard keys create`, requests over TCP on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx

from tests.services import aupguard_command, free_port

PHISH = "Your parcel is held, pay the fee at hxxp://dhl-track[.]top/pay"


def test_serve_with_two_workers(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "AUPGUARD_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite'}",
        "AUPGUARD_KEY_PEPPER": "test-pepper",
    }
    made = subprocess.run(
        [*aupguard_command(), "keys", "create", "--tenant", "acme", "-s", "send", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    key = json.loads(made.stdout)["secret"]
    port = free_port()
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen(
        [*aupguard_command(), "serve", "--workers", "2", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180  # two workers start slowly on a loaded 2-core machine
        while True:
            assert server.poll() is None, (tmp_path / "server.log").read_text()
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not become ready"
            time.sleep(0.2)
        with httpx.Client(base_url=base, timeout=10) as client:
            message = {"from": "+12025550143", "to": "+14155550123", "body": PHISH}
            answers = [
                client.post("/v1/screen", json=message, headers={"Authorization": f"Bearer {key}"})
                for _ in range(20)
            ]
            refused = client.post("/v1/screen", json=message)
            document = client.get("/openapi.json").json()
        assert {a.status_code for a in answers} == {200}
        assert {a.json()["verdict"] for a in answers} == {"block"}
        assert {a.json()["account"] for a in answers} == {"acme"}
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "missing_api_key"
        assert "/v1/screen" in document["paths"]
    finally:
        server.send_signal(signal.SIGTERM)
        code = server.wait(30)
        log.close()
    assert code == 0
    text = (tmp_path / "server.log").read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    requests = [
        line for line in lines if line.get("event") == "request" and line["route"] == "/v1/screen"
    ]
    assert len(requests) == 21
    assert "dhl-track" not in text
    assert key.split("_", 2)[2] not in text  # the secret (it may itself hold "_")


def test_serve_refuses_a_broken_pack_with_exit_2(tmp_path: Path) -> None:
    result = subprocess.run(
        [*aupguard_command(), "serve", "--pack", str(tmp_path / "missing.yaml"), "--port", "0"],
        env={**os.environ, "AUPGUARD_DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite'}"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "missing.yaml" in result.stderr + result.stdout
