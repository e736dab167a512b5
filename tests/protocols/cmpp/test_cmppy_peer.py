"""An independent CMPP 3.0 client (PyPI cmppy) against our ISMG simulator."""

import asyncio

from cmppy import Cmppy, SubmitReq

from kefu.protocols.cmpp import CmppSimulator
from kefu.protocols.simulator import SimulatorConfig

TEXT = "您的信用卡本期应还1234.56元"  # cmppy sends UCS2 (Msg_Fmt 8), single part


def _submit(port: int, secret: str):
    # cmppy connects, authenticates, submits once and terminates, all on its own codec
    return Cmppy("127.0.0.1", port, "900001", secret).request(
        SubmitReq("900001", TEXT, src_id="95511", dest_terminal_id=["13800138000"])
    )


async def test_cmppy_connects_and_submits():
    config = SimulatorConfig("900001", "888888")
    async with CmppSimulator(config, version=3) as sim:
        res = await asyncio.to_thread(_submit, sim.port, "888888")
        assert res is not None and res.result == 0 and res.msg_id != 0
        [mt] = sim.mt_for("13800138000")
        assert (mt.text, mt.source, mt.message_ids) == (TEXT, "95511", [str(res.msg_id)])
        assert sim.stats["binds"] == 1


async def test_cmppy_with_a_wrong_secret_is_refused():
    async with CmppSimulator(SimulatorConfig("900001", "888888"), version=3) as sim:
        res = await asyncio.to_thread(_submit, sim.port, "wrong")
        assert res is None  # cmppy gives up when CMPP_CONNECT_RESP Status is not 0
        assert sim.stats["auth_failures"] == 1 and sim.mt_for("13800138000") == []
