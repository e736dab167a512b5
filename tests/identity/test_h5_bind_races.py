"""Issue 21, finding 2 through the page the attacker used: 40 wrong codes posted in parallel
to ``POST /h5/{account}/bind/confirm`` of a real server, then the real code."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import select

from kefu.identity.models import ChannelIdentity
from kefu.identity.otp import MAX_ATTEMPTS, OtpChallenge
from tests.hall.test_h5 import (  # noqa: F401 - wechat_sim is a fixture
    CSRF,
    PENDING,
    _bind_form,
    _codes,
    _customer,
    _rows,
    _wait_code,
    hall_settings,
    open_as,
    run,
    wechat_sim,
)
from tests.outbound.test_api import simulator as smsc  # noqa: F401 - a fixture
from tests.security.live import LiveServer

pytestmark = pytest.mark.db


def test_parallel_wrong_codes_through_the_h5_page(seeded_url: str, wechat_sim, smsc) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    smsc_port, control = smsc
    settings = hall_settings(seeded_url, wechat_sim.url, smsc_port)
    profile, cards = run(_customer(seeded_url, 7))
    with LiveServer(settings) as base, httpx.Client(base_url=base, timeout=30) as follower:
        page = open_as(follower, wechat_sim.url, "o-racer", "/h5/hall/bind")  # type: ignore[arg-type]
        seen = len(_codes(control, profile.mobile))
        sent = _bind_form(follower, page, cards[0].card_no, profile.mobile)  # type: ignore[arg-type]
        assert sent.status_code == 200, sent.text
        code = _wait_code(control, profile.mobile, seen)
        form = {"pending": PENDING.search(sent.text).group(1),
                "csrf": CSRF.search(sent.text).group(1)}  # fmt: skip
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"

        async def attack() -> list[httpx.Response]:
            async with httpx.AsyncClient(base_url=base, cookies=follower.cookies,
                                         timeout=60) as http:  # fmt: skip
                return await asyncio.gather(
                    *(http.post("/h5/hall/bind/confirm", data={**form, "code": wrong})
                      for _ in range(40))
                )  # fmt: skip

        answers = asyncio.run(attack())
        assert {a.status_code for a in answers} == {422}, [a.status_code for a in answers]
        checked = [a for a in answers if 'data-reason="wrong_code"' in a.text]
        assert len(checked) <= MAX_ATTEMPTS - 1
        late = follower.post("/h5/hall/bind/confirm", data={**form, "code": code})
        assert late.status_code == 422  # the real code no longer binds
    challenges = run(_rows(seeded_url, select(OtpChallenge)))
    assert max(c.attempts for c in challenges) == MAX_ATTEMPTS
    bound = run(
        _rows(seeded_url, select(ChannelIdentity).where(ChannelIdentity.value == "o-racer"))
    )
    assert bound == []
