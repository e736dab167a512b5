"""Our SMPP client against an SMSC that is not ours: smpp.twisted3, Jasmin's SMPP stack."""

import asyncio
import json
import sys
from pathlib import Path

import pytest

from kefu.protocols import smpp
from kefu.protocols.errors import AuthenticationFailed
from kefu.protocols.message import OutMessage

SERVER = Path(__file__).with_name("twisted_smsc.py")
LONG = (
    "您好，您的账户于3月15日支出人民币2,000.00元，余额为8,765.43元。如非本人操作请致电95511。" * 2
)


@pytest.fixture
async def twisted_smsc():
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(SERVER), stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
    assert line.startswith("PORT "), line
    yield proc, int(line.split()[1])
    proc.stdin.close()
    try:
        await asyncio.wait_for(proc.wait(), 10)
    except TimeoutError:
        proc.kill()


async def test_our_client_against_twisted_smsc(twisted_smsc):
    proc, port = twisted_smsc
    client = smpp.client("127.0.0.1", port, "kefu", "secret", keepalive_interval=0.2)
    await client.start()
    short = await client.submit(OutMessage("8613800138000", "ping", source="95511"))
    long = await client.submit(OutMessage("8613800138000", LONG, source="95511"))
    assert short.ok and short.message_ids[0].startswith("tw")
    assert long.ok and len(long.message_ids) == 2  # 112 UCS2 characters: 67 + 45
    mo = await asyncio.wait_for(client.inbound.get(), 10)  # the server's deliver_sm "pong"
    assert (mo.kind, mo.text, mo.source) == ("mo", "pong", "8613800138000")
    while client.stats["keepalives"] < 1:  # enquire_link answered by Twisted
        await asyncio.sleep(0.05)
    await client.close()  # unbind answered by Twisted
    seen = [json.loads(await asyncio.wait_for(proc.stdout.readline(), 10)) for _ in range(3)]
    assert bytes.fromhex(seen[0]["sm"]) == b"ping"
    assert all(s["udhi"] and s["coding"] == 8 for s in seen[1:])
    text = b"".join(bytes.fromhex(s["sm"])[6:] for s in seen[1:]).decode("utf-16-be")
    assert text == LONG


async def test_twisted_smsc_refuses_bad_password(twisted_smsc):
    _, port = twisted_smsc
    client = smpp.client("127.0.0.1", port, "kefu", "wrong")
    with pytest.raises(AuthenticationFailed):
        await asyncio.wait_for(client.start(), 10)
    await client.close()
