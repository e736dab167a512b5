"""Precomputed offer scores: the same decision as scoring live; a missing, stale or outdated
row falls back to live scoring (written again only by a POST: the panel's GET writes nothing); a product a row scored that the hard
rules now refuse is never shown; score-all is chunked and resumable."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from kefu.bank.synthetic.adapter import SyntheticBank
from kefu.crosssell import scores
from kefu.crosssell.arbitration import Policy, decide, decide_stored
from kefu.crosssell.features import FEATURE_NAMES, facts_from_bank, facts_from_bundle
from kefu.crosssell.models import OfferScore
from kefu.crosssell.service import ModelState, offers_for, record_outcome
from kefu.db.engine import make_engine, make_sessionmaker
from tests.conftest import seed_sync
from tests.crosssell.helpers import PRODUCTS, FixedPropensity, facts, models


def _models():  # type: ignore[no-untyped-def]
    m = models({"LOAN-CAR": 0.3, "DEP3M": 0.9, "INS-ACC": 0.4})
    for code, column in (("INS-CAR", "holds:LOAN-CAR"), ("CARD-INST", "salary")):
        m.propensity[code] = FixedPropensity(0.7, FEATURE_NAMES.index(column))  # type: ignore[assignment]
    return m


def test_precomputed_gives_the_live_decision() -> None:
    m = _models()
    customers = [facts(), facts(held=frozenset({"LOAN-CAR"}), customer_no="C2"),
                 facts(age=70, salary=False, customer_no="C3")]  # fmt: skip
    stored = scores.score_many(m, PRODUCTS, customers)
    for customer, row in zip(customers, stored, strict=True):
        live = decide(PRODUCTS, customer, m, Policy())
        pre = decide_stored(PRODUCTS, customer, m, Policy(), scores.loads(scores.dumps(row)))
        assert pre is not None and live.offers
        assert [(o.product.code, o.propensity, o.reasons) for o in pre.offers] == [
            (o.product.code, o.propensity, o.reasons) for o in live.offers
        ]
        assert pre.excluded == live.excluded


def test_a_stored_product_the_rules_now_refuse_is_never_shown() -> None:
    m = _models()
    stored = scores.score_many(m, PRODUCTS, [facts()])[0]
    assert "WM-R3" in stored  # suitable when scored: risk assessment C3
    stored["WM-R3"] = (0.99, [("base", 0.99)])
    now_unsuitable = facts(risk_level=2)  # reassessed since: C2 < R3
    decision = decide_stored(PRODUCTS, now_unsuitable, m, Policy(), stored)
    assert decision is not None and decision.offers
    assert "WM-R3" not in [o.product.code for o in decision.offers]
    assert any("R3" in r for r in decision.excluded["优选理财·季季红"])
    # A product allowed today that the row never scored: the row cannot answer.
    del stored["DEP3M"]
    assert decide_stored(PRODUCTS, facts(), m, Policy(), stored) is None


async def _scenario(url: str) -> None:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    bank = SyntheticBank(engine)
    m = _models()
    state = ModelState(m, None)
    today = date(2026, 6, 30)
    try:

        async def panel(no: str, keep: bool = False):  # type: ignore[no-untyped-def]
            async with sessions() as db, db.begin():
                return await offers_for(db, bank, no, state=state, today=today, keep=keep)

        first = await panel("C0000000001")  # no row yet: live, and a look writes nothing
        assert first.source == "live" and first.decision and first.decision.offers
        async with sessions() as db:
            assert await db.scalar(select(func.count()).select_from(OfferScore)) == 0
        assert (await panel("C0000000001")).source == "live"  # so it stays live
        kept = await panel("C0000000001", keep=True)  # a POST keeps the live score
        assert kept.source == "live"
        again = await panel("C0000000001")
        assert again.source == "precomputed"
        assert [o.product.code for o in again.decision.offers] == [  # type: ignore[union-attr]
            o.product.code for o in first.decision.offers
        ]
        # Stale (older than a week) → live again; so is a row of other models.
        async with sessions() as db, db.begin():
            await db.execute(update(OfferScore).values(
                computed_at=datetime.now(UTC) - scores.ROW_STALE - timedelta(hours=1)))  # fmt: skip
        assert (await panel("C0000000001", keep=True)).source == "live"
        async with sessions() as db, db.begin():
            await db.execute(update(OfferScore).values(model_version="2020-01-01T00:00:00"))
        assert (await panel("C0000000001", keep=True)).source == "live"

        # A row, fresh by every test, that scored a product the rules refuse for this customer
        # (an investment product: the customer has no risk assessment) very high: never shown.
        async with sessions() as db, db.begin():
            row = await db.get(OfferScore, "C0000000001")
            assert row is not None
            planted = scores.loads(row.scores) | {"FUND-IDX": (0.99, [("base", 0.99)])}
            row.scores = scores.dumps(planted)
        shown = await panel("C0000000001")
        assert shown.source == "precomputed"
        assert "FUND-IDX" not in [o.product.code for o in shown.decision.offers]  # type: ignore[union-attr]
        async with sessions() as db, db.begin():  # and stale: live scoring never shows it either
            await db.execute(update(OfferScore).values(inputs="changed"))
        shown = await panel("C0000000001")
        assert shown.source == "live"
        assert "FUND-IDX" not in [o.product.code for o in shown.decision.offers]  # type: ignore[union-attr]

        # An accepted offer: the row is dropped, so the next panel scores the new holdings.
        async with sessions() as db, db.begin():
            await record_outcome(db, customer_no="C0000000001", product_code="DEP3M",
                                 outcome="accepted", conversation_id=None, agent_id=None)  # fmt: skip
        async with sessions() as db:
            assert await db.get(OfferScore, "C0000000001") is None

        # score-all: chunked, the unknown customer counted, resumed without scoring again.
        nos = ["C0000000001", "C0000000002", "C0000000003", "C9999999999"]
        seen: list[int] = []
        done = await scores.score_all(sessions, bank, nos, m, today=today, chunk=2,
                                      report=lambda p: seen.append(p.done))  # fmt: skip
        assert (done.done, done.missing, done.skipped, seen) == (3, 1, 0, [2, 3])
        again_all = await scores.score_all(sessions, bank, nos, m, today=today, chunk=2)
        assert (again_all.done, again_all.skipped) == (0, 3)
        async with sessions() as db:
            rows = (await db.scalars(select(OfferScore).order_by(OfferScore.customer_no))).all()
        assert [r.customer_no for r in rows] == nos[:3]
        assert all(r.model_version == scores.model_version(m) and r.as_of == today for r in rows)
    finally:
        await engine.dispose()


@pytest.mark.db
def test_panel_reads_rows_and_falls_back_to_live(db_url: str) -> None:
    seed_sync(db_url, 3)
    asyncio.run(_scenario(db_url))


def test_digest_follows_holdings() -> None:
    assert scores.inputs_digest(facts()) != scores.inputs_digest(
        replace(facts(), held=frozenset({"DEP3M"}))
    )
    assert scores.inputs_digest(facts()) == scores.inputs_digest(replace(facts(), salary=False))


async def _bulk_scenario(url: str) -> None:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    bank = SyntheticBank(engine)
    today = date(2026, 6, 30)
    nos = [f"C{i:010d}" for i in range(1, 9)] + ["C9999999999"]
    try:
        # The bulk read gives every customer the facts the per-customer calls give (salary too).
        bundles = await bank.read_many(nos)
        assert "C9999999999" not in bundles and len(bundles) == 8
        for no in nos[:8]:
            one = await facts_from_bank(bank, no, today=today)
            assert facts_from_bundle(bundles[no], today=today) == one
        assert any(b.recent for b in bundles.values())

        # score-all through the bulk read writes the rows the per-customer reads write.
        class PerCustomer:
            def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
                if name == "read_many":
                    raise AttributeError(name)
                return getattr(bank, name)

        m = _models()
        written = {}
        for way in (PerCustomer(), bank):
            done = await scores.score_all(sessions, way, nos, m, today=today, force=True)  # type: ignore[arg-type]
            assert (done.done, done.missing) == (8, 1)
            async with sessions() as db:
                written[type(way).__name__] = dict(
                    (await db.execute(select(OfferScore.customer_no, OfferScore.scores))).all()
                )
        assert (
            written["PerCustomer"] == written["SyntheticBank"]
            and len(written["SyntheticBank"]) == 8
        )
    finally:
        await engine.dispose()


@pytest.mark.db
def test_bulk_bank_read_scores_the_same(db_url: str) -> None:
    seed_sync(db_url, 8)
    asyncio.run(_bulk_scenario(db_url))
