"""The issue's own acceptance path: seed a SQLite file, serve it, probe it."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx

from tests.ports import free_port


def test_seed_then_serve_answers_health_and_readiness(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_DATABASE")}
    kefu = [sys.executable, "-m", "kefu.cli"]
    seeded = subprocess.run(
        [*kefu, "seed", "--customers", "1000", "--database-url", "sqlite:///x.db"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert seeded.returncode == 0, seeded.stderr
    assert "seeded 1,000 customers" in seeded.stdout
    port = free_port()
    server = subprocess.Popen(
        [*kefu, "serve", "--port", str(port), "--database-url", "sqlite:///x.db"],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 30
        while True:
            try:
                health = httpx.get(base + "/healthz", timeout=1)
                break
            except httpx.HTTPError:
                assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
                assert time.time() < deadline, "kefu serve did not start"
                time.sleep(0.2)
        assert health.json()["status"] == "ok"
        ready = httpx.get(base + "/readyz", timeout=5)
        assert ready.status_code == 200 and ready.json()["database"] == "ok"
    finally:
        server.terminate()
        server.wait(timeout=10)
