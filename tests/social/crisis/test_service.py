"""The crisis service's rules on their own: one row per burst however the detector names or
dates it again, and the refusals of batch replies and escalation records."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from kefu.social.crisis import service
from kefu.social.crisis.models import CrisisAlert
from kefu.social.detector import BurstAlert
from tests.social.crisis.stream import T0, staff

pytestmark = pytest.mark.db
GAP = timedelta(minutes=15)


def burst(term: str, start: int, raised: int, volume: int = 10, **extra: object) -> BurstAlert:
    alert = BurstAlert(term=term, started_at=T0 + timedelta(minutes=start),
                       raised_at=T0 + timedelta(minutes=raised), volume=volume, negativity=0.9,
                       reach=100.0, level=1)  # fmt: skip
    if extra:  # the detector's ``related`` (newer detectors only)
        object.__setattr__(alert, "__dict__", {**alert.__dict__, **extra})
    return alert


async def count(db) -> int:  # type: ignore[no-untyped-def]
    return await db.scalar(select(func.count()).select_from(CrisisAlert)) or 0


async def test_the_same_burst_dated_differently_updates_its_row(sessionmaker) -> None:  # type: ignore[no-untyped-def]
    async with sessionmaker() as db:
        first, created = await service.store_alert(
            db, burst("盗刷", 40, 42), post_ids=[1, 2], gap=GAP, now=T0
        )
        assert created
        # A restarted detector puts the start two minutes later and sees more posts.
        again, created = await service.store_alert(db, burst("盗刷", 42, 47, volume=30), post_ids=[2, 3],
                                                   gap=GAP, now=T0)  # fmt: skip
        assert not created and again.id == first.id
        assert again.volume == 30 and again.post_ids == [1, 2, 3]
        assert again.last_seen_at == T0 + timedelta(minutes=47)
        # Long after the burst was last seen: a new burst, a new alert.
        later, created = await service.store_alert(
            db, burst("盗刷", 90, 92), post_ids=[], gap=GAP, now=T0
        )
        assert created and later.id != first.id
        assert await count(db) == 2


async def test_the_same_crisis_led_by_another_of_its_words_is_the_same_alert(sessionmaker) -> None:  # type: ignore[no-untyped-def]
    async with sessionmaker() as db:
        first, _ = await service.store_alert(db, burst("盗刷", 40, 42, related=("信用卡",)), post_ids=[1],
                                             gap=GAP, now=T0)  # fmt: skip
        assert first.related == ["信用卡"] and first.playbook == "card_fraud"
        assert service.alert_label(first) == "盗刷·信用卡"
        again, created = await service.store_alert(db, burst("信用卡", 39, 44, related=("盗刷",)), post_ids=[2],
                                                   gap=GAP, now=T0)  # fmt: skip
        assert not created and again.id == first.id
        # Unrelated at the same time: its own alert.
        _, created = await service.store_alert(
            db, burst("排队", 40, 43), post_ids=[], gap=GAP, now=T0
        )
        assert created
        assert await count(db) == 2


async def test_batch_reply_refusals(sessionmaker) -> None:  # type: ignore[no-untyped-def]
    async with sessionmaker() as db:
        agent = await staff(db)
        maker = service.Maker(agent.id, agent.username, agent.display_name, True)

        async def propose(**changes):  # type: ignore[no-untyped-def]
            values = dict(term="盗刷", mode="dm", body="您好", request_key="k" * 12, maker=maker,
                          alert_id=None, now=T0)  # fmt: skip
            return await service.propose(db, **{**values, **changes})

        for bad, why in [({"mode": "weibo"}, "mode"), ({"body": " "}, "characters"),
                         ({"body": "您好 {balance}"}, "unknown variables"),
                         ({"request_key": "short"}, "request_key"), ({"term": ""}, "term")]:  # fmt: skip
            with pytest.raises(service.CrisisError, match=why):
                await propose(**bad)
        public = await propose(mode="comment", request_key="p" * 12)
        assert public.state == "pending" and public.needs_approval
        with pytest.raises(service.CrisisError, match="approval") as refused:
            await service.send(db, public.id, bank=None, since=T0, now=T0)
        assert refused.value.status == 409
        with pytest.raises(service.CrisisError, match="own") as own:
            await service.review(db, public.id, actor=agent.username, approve=True, note="", now=T0)
        assert own.value.status == 403
        with pytest.raises(service.CrisisError, match="why"):
            await service.review(db, public.id, actor="other", approve=False, note="", now=T0)
        rejected = await service.review(
            db, public.id, actor="other", approve=False, note="措辞不妥", now=T0
        )
        assert rejected.state == "rejected"
        with pytest.raises(service.CrisisError, match="rejected"):
            await service.send(db, public.id, bank=None, since=T0, now=T0)
        private = await propose(request_key="d" * 12)
        assert private.state == "approved" and not private.needs_approval
        assert (
            await propose(request_key="d" * 12, body="另一段")
        ).id == private.id  # a double click


async def test_escalation_record_refusals(sessionmaker) -> None:  # type: ignore[no-untyped-def]
    async with sessionmaker() as db:
        with pytest.raises(service.CrisisError, match="team"):
            await service.report(
                db, term="盗刷", team="ceo", note="x", actor="a", alert_id=None, now=T0
            )
        with pytest.raises(service.CrisisError, match="note"):
            await service.report(
                db, term="盗刷", team="pr", note=" ", actor="a", alert_id=None, now=T0
            )
        with pytest.raises(service.CrisisError, match="no alert") as missing:
            await service.report(
                db, term="盗刷", team="pr", note="x", actor="a", alert_id=999, now=T0
            )
        assert missing.value.status == 404
        row = await service.report(
            db, term="盗刷", team="legal", note="律师函", actor="a", alert_id=None, now=T0
        )
        done = await service.record_outcome(db, row.id, outcome="已回函", actor="sup", now=T0)
        assert done.outcome_by == "sup"
        with pytest.raises(service.CrisisError, match="already") as twice:
            await service.record_outcome(db, row.id, outcome="再来", actor="sup", now=T0)
        assert twice.value.status == 409
