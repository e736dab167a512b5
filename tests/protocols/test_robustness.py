"""Hostile input on the wire, and the library's independence from the rest of kefu."""

import ast
import asyncio
import struct
from pathlib import Path

import pytest

from kefu.protocols import framing
from kefu.protocols.errors import AuthenticationFailed, BadLength, PDUTooLarge
from kefu.protocols.message import OutMessage

from .conftest import Pair

# A Submit whose body stops after its header, and the response id each protocol answers with
HEADERS = {
    "smpp": (struct.pack(">IIII", 16 + 3, 0x4, 0, 9) + b"abc", 0x80000000, 16),
    "cmpp2": (struct.pack(">III", 12 + 3, 0x4, 9) + b"abc", 0x80000004, 12),
    "cmpp3": (struct.pack(">III", 12 + 3, 0x4, 9) + b"abc", 0x80000004, 12),
    "sgip": (struct.pack(">IIIII", 20 + 3, 0x3, 1, 2, 9) + b"abc", 0x80000003, 20),
    "smgp": (struct.pack(">III", 12 + 3, 0x2, 9) + b"abc", 0x80000002, 12),
}


async def test_simulator_survives_malformed_and_oversized_input(pair: Pair):
    sim = await pair.start_sim()
    bad_submit, answer_id, header = HEADERS[pair.protocol]
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
    writer.write(bad_submit)
    head = await asyncio.wait_for(reader.readexactly(header), 5)
    length, command_id = struct.unpack_from(">II", head)
    assert command_id == answer_id  # generic_nack / Submit_Resp with an error code
    await reader.readexactly(length - header)
    assert sim.stats["malformed"] == 1
    writer.write(struct.pack(">I", 0xFFFFFFF0) + b"\0" * 12)  # claims a 4 GB PDU
    assert await asyncio.wait_for(reader.read(), 5) == b""  # dropped, nothing allocated
    writer.close()
    client = await pair.client()  # the simulator still serves everyone else
    assert (await client.submit(OutMessage("13800138000", "still here"))).ok


def test_framing_checks_length_before_buffering():
    buf = bytearray(struct.pack(">I", 10**9) + b"\0" * 8)
    with pytest.raises(PDUTooLarge):
        framing.split_frames(buf, 12, 4096)
    with pytest.raises(BadLength):
        framing.split_frames(bytearray(struct.pack(">I", 3) + b"\0" * 8), 12, 4096)
    buf = bytearray(struct.pack(">III", 12, 8, 1) + struct.pack(">III", 12, 8, 2) + b"\0\0")
    frames = framing.split_frames(buf, 12, 4096)
    assert len(frames) == 2 and buf == b"\0\0"  # the partial third frame waits


async def test_cmpp3_client_against_cmpp2_gateway():
    pair = Pair("cmpp2")
    try:
        sim = await pair.start_sim()
        from kefu.protocols import cmpp

        client = cmpp.client("127.0.0.1", sim.port, "900001", "888888", version=3)
        with pytest.raises(AuthenticationFailed, match="Status 4"):  # version too high
            await asyncio.wait_for(client.start(), 5)
        await client.close()
    finally:
        await pair.close()


def test_protocols_import_nothing_else_from_kefu():
    root = Path(__import__("kefu.protocols").protocols.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                absolute = node.level == 0
                if (
                    absolute
                    and node.module.startswith("kefu")
                    and not node.module.startswith("kefu.protocols")
                ):
                    offenders.append(f"{path.name}: {node.module}")
                depth = len(path.relative_to(root).parts)  # 1 = top-level module
                if node.level > depth:
                    offenders.append(f"{path.name}: climbs out with {'.' * node.level}")
            elif isinstance(node, ast.Import):
                offenders += [f"{path.name}: {a.name}" for a in node.names
                              if a.name.startswith("kefu") and not a.name.startswith("kefu.protocols")]  # fmt: skip
    assert offenders == []
