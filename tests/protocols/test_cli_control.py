"""The simulator CLI and its HTTP control API."""

import asyncio
import sys

import httpx
import pytest

from kefu.protocols.control import control_app
from kefu.protocols.message import OutMessage
from kefu.protocols.simulator import SimulatorConfig
from kefu.protocols.smpp import SmppSimulator
from tests.ports import free_port

from .conftest import make_client


@pytest.mark.parametrize("protocol", ["cmpp2", "smpp"])
async def test_cli_runs_a_simulator_with_control_api(protocol):
    port, control = free_port(), free_port()
    user, secret = ("900001", "888888") if protocol == "cmpp2" else ("kefu", "secret")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kefu.cli", "sms", "simulator", "--protocol", protocol,
        "--port", str(port), "--control-port", str(control), "--username", user,
        "--password", secret, "--report-delay", "0.05",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        banner = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
        assert f"{protocol} simulator on 127.0.0.1:{port}" in banner
        client = make_client(protocol, port, None)
        await client.start()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{control}") as http:
            r = await http.post(
                "/mo", json={"from": "13800138000", "to": "95511", "text": "查余额"}
            )
            assert r.status_code == 200 and r.json() == {"parts": 1}
            mo = await asyncio.wait_for(client.inbound.get(), 10)
            assert (mo.source, mo.text) == ("13800138000", "查余额")
            out = await client.submit(OutMessage("13800138000", "您的余额为100元", source="95511"))
            assert out.ok
            r = await http.get("/mt", params={"to": "13800138000"})
            [msg] = r.json()
            assert msg["text"] == "您的余额为100元" and msg["from"] == "95511"
            assert msg["message_ids"] == out.message_ids
        await client.close()
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 20)
    assert proc.returncode == 0  # SIGTERM is a clean shutdown


async def test_control_api_validation_and_faults():
    sim = SmppSimulator(SimulatorConfig("kefu", "secret"))
    transport = httpx.ASGITransport(app=control_app(sim))
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as http:
        r = await http.post("/mo", json={"to": "95511", "text": "hi"})  # "from" missing
        assert r.status_code == 422
        assert (await http.get("/mt")).status_code == 422  # "to" missing
        assert (await http.get("/mt", params={"to": "1"})).json() == []
        r = await http.post(
            "/faults", json={"response_delay": 2, "max_tps": 5, "failure_ratio": 0.5}
        )
        assert r.json()["max_tps"] == 5 and sim.config.response_delay == 2
        assert sim.bucket.rate == 5
        assert (await http.post("/faults", json={"failure_ratio": 3})).status_code == 422
        r = await http.post("/mo", json={"from": "138", "to": "95511", "text": "queued"})
        assert r.json() == {"parts": 1} and len(sim.pending_mo) == 1  # no receiver bound yet
        stats = (await http.get("/stats")).json()
        assert stats["protocol"] == "smpp" and stats["mo"] == 1


def test_cli_rejects_bad_options():
    from typer.testing import CliRunner

    from kefu.cli import app

    runner = CliRunner(env={"COLUMNS": "200", "TERMINAL_WIDTH": "200"})
    result = runner.invoke(app, ["sms", "simulator", "--protocol", "x25", "--port", "1",
                                 "--control-port", "2", "--username", "u", "--password", "p"])  # fmt: skip
    assert result.exit_code != 0 and "x25" in result.output
    result = runner.invoke(app, ["sms", "simulator", "--protocol", "sgip", "--port", "0",
                                 "--control-port", "0", "--username", "u", "--password", "p",
                                 "--sgip-deliver-to", "nohost"])  # fmt: skip
    assert result.exit_code != 0 and "HOST:PORT" in result.output
