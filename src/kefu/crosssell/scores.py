"""Precomputed offer scores: per customer, the propensity and reasons of every product that
passed the hard rules when it was scored, so the offer panel does no model arithmetic.

What is precomputed (``crosssell_scores``, filled by ``kefu crosssell score-all`` and refreshed
for one customer whenever the panel finds the row missing or out of date): the calibrated
propensities and their reasons. What stays live on every panel: the contact policy (cap,
refusals, complaints, the current conversation's mood) and every hard rule (eligibility,
suitability) on today's facts — a product the row scored but that is no longer allowed is never
shown, and a product allowed today that the row did not score sends the panel to live scoring.

A row is out of date when the models were retrained since (``model_version``), when the
customer's model inputs changed (``inputs``: age, tier, cards, holdings — an accepted offer
becomes a holding), or when it is older than ``ROW_STALE`` (salary credits are read only when
scoring, so a week bounds how long a change there goes unseen)."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.bank.models import Product
from kefu.bank.port import BankError, BankPort
from kefu.crosssell.arbitration import Reason, reasons_from, variants
from kefu.crosssell.catalogue import TERMS
from kefu.crosssell.features import facts_from_bank, facts_from_bundle, vector
from kefu.crosssell.models import OfferScore, RiskAssessment
from kefu.crosssell.propensity import one_thread
from kefu.crosssell.rules import Facts, refusals
from kefu.crosssell.training import Models
from kefu.db.engine import dialect_insert

ROW_STALE = timedelta(days=7)
CHUNK = 500  # customers scored and written per transaction by score-all
READS_AT_ONCE = 8  # customers whose facts are read from the bank port at the same time

Stored = dict[str, tuple[float, list[Reason]]]


def model_version(models: Models) -> str:
    return models.trained_at.isoformat()[:40]


def inputs_digest(facts: Facts) -> str:
    """What the models read, salary aside (it costs the account and transaction reads)."""
    text = f"{facts.age}|{facts.income_band}|{facts.credit_cards}|{','.join(sorted(facts.held))}"
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


def score_many(models: Models, products: list[Product], facts: list[Facts]) -> list[Stored]:
    """Per customer, every product that passes the hard rules and has a model: its propensity
    and reasons — the same numbers ``arbitration.decide`` computes one customer at a time, here
    one prediction per product for the whole batch."""
    out: list[Stored] = [{} for _ in facts]
    if not facts:
        return out
    with one_thread():
        x = np.array([vector(f) for f in facts])
        # Each customer's facts with one thing taken away (the reasons), built once for every
        # product: the vectors do not depend on the product scored.
        keys: list[list[str]] = []
        taken: list[np.ndarray] = []
        for f in facts:
            pairs = variants(f)
            keys.append([k for k, _ in pairs])
            taken.append(np.array([vector(v) for _, v in pairs]))
        for product in products:
            model = models.propensity.get(product.code)
            if model is None:
                continue
            terms = TERMS.get(product.code)
            chosen = [i for i, f in enumerate(facts) if not refusals(product, terms, f)]
            if not chosen:
                continue
            scores = model.predict(x[chosen])
            taken_away = model.predict(np.concatenate([taken[i] for i in chosen]))
            at = 0
            for n, i in enumerate(chosen):
                count = len(keys[i])
                drops = scores[n] - taken_away[at : at + count]
                at += count
                reasons = reasons_from(product.code, facts[i], models, float(scores[n]), keys[i],
                                       drops)  # fmt: skip
                out[i][product.code] = (float(scores[n]), reasons)
    return out


def dumps(stored: Stored) -> str:
    return json.dumps(
        {
            code: [p, [[k, round(v, 4)] for k, v in reasons]]
            for code, (p, reasons) in stored.items()
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )


def loads(text: str) -> Stored:
    return {
        code: (p, [(k, v) for k, v in reasons]) for code, (p, reasons) in json.loads(text).items()
    }


async def save(
    session: AsyncSession, models: Models, rows: list[tuple[Facts, Stored]], now: datetime
) -> None:
    if not rows:
        return
    values = [
        {"customer_no": f.customer_no, "model_version": model_version(models), "as_of": f.today,
         "computed_at": now, "inputs": inputs_digest(f), "scores": dumps(s)}
        for f, s in rows
    ]  # fmt: skip
    insert = dialect_insert(session, OfferScore).values(values)
    await session.execute(
        insert.on_conflict_do_update(
            index_elements=["customer_no"],
            set_={
                c: insert.excluded[c]
                for c in ("model_version", "as_of", "computed_at", "inputs", "scores")
            },
        )  # fmt: skip
    )


def usable(row: OfferScore | None, models: Models, facts: Facts, now: datetime) -> bool:
    return (
        row is not None
        and row.model_version == model_version(models)
        and row.computed_at >= now - ROW_STALE
        and row.inputs == inputs_digest(facts)
    )


async def forget(session: AsyncSession, customer_no: str) -> None:
    """The customer's row is out of date (an offer was accepted): score again on next look."""
    await session.execute(delete(OfferScore).where(OfferScore.customer_no == customer_no))


async def customer_facts(
    session: AsyncSession, bank: BankPort, customer_no: str, today: date, *, salary: bool = True
) -> Facts:
    """Raises the bank port's NotFound / BankError."""
    assessment = await session.get(RiskAssessment, customer_no)
    return await facts_from_bank(
        bank, customer_no, today=today, salary=salary,
        risk_level=assessment.level if assessment else None,
        assessed_on=assessment.assessed_on if assessment else None,
    )  # fmt: skip


@dataclass
class Progress:
    done: int = 0
    skipped: int = 0  # already scored by these models and fresh (a resumed run)
    missing: int = 0  # not found in the bank, or the bank failed for them


async def score_all(
    factory: Callable[[], AsyncSession],
    bank: BankPort,
    customer_nos: Iterable[str],
    models: Models,
    *,
    today: date,
    chunk: int = CHUNK,
    force: bool = False,
    report: Callable[[Progress], None] = lambda _: None,
) -> Progress:
    """Scores every customer in ``customer_nos``, ``chunk`` at a time, one transaction each, so
    an interrupted run keeps what it wrote; run again, it skips the customers already scored by
    these models within ``ROW_STALE`` (``force``: score them again)."""
    progress = Progress()
    products = await bank.list_products()
    batch: list[str] = []
    for customer_no in customer_nos:
        batch.append(customer_no)
        if len(batch) == chunk:
            await _chunk(factory, bank, batch, models, products, today, force, progress)
            report(progress)
            batch = []
    if batch:
        await _chunk(factory, bank, batch, models, products, today, force, progress)
        report(progress)
    return progress


async def _chunk(factory, bank, nos, models, products, today, force, progress) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    async with factory() as session:
        if not force:
            fresh = set(
                await session.scalars(
                    select(OfferScore.customer_no).where(
                        OfferScore.customer_no.in_(nos),
                        OfferScore.model_version == model_version(models),
                        OfferScore.computed_at >= now - ROW_STALE,
                    )
                )
            )
            progress.skipped += len(fresh)
            nos = [n for n in nos if n not in fresh]
        assessed = {
            a.customer_no: a
            for a in await session.scalars(
                select(RiskAssessment).where(RiskAssessment.customer_no.in_(nos))
            )
        }
        read_many = getattr(bank, "read_many", None)
        if read_many is not None:  # the synthetic bank: four queries for the whole chunk
            bundles = await read_many(nos)
            facts = [facts_from_bundle(bundles[n], today=today,
                                       risk_level=assessed[n].level if n in assessed else None,
                                       assessed_on=assessed[n].assessed_on if n in assessed else None)
                     for n in nos if n in bundles]  # fmt: skip
            progress.missing += len(nos) - len(facts)
            await save(session, models, list(zip(facts, score_many(models, products, facts),
                                                 strict=True)), now)  # fmt: skip
            await session.commit()
            progress.done += len(facts)
            return
        gate = asyncio.Semaphore(READS_AT_ONCE)

        async def read(customer_no: str) -> Facts | None:
            a = assessed.get(customer_no)
            async with gate:
                try:
                    return await facts_from_bank(
                        bank, customer_no, today=today,
                        risk_level=a.level if a else None, assessed_on=a.assessed_on if a else None,
                    )  # fmt: skip
                except BankError:  # NotFound included: a customer kefu knows, the bank no longer
                    return None

        read_all = await asyncio.gather(*(read(n) for n in nos))
        facts = [f for f in read_all if f is not None]
        progress.missing += len(read_all) - len(facts)
        await save(session, models, list(zip(facts, score_many(models, products, facts),
                                             strict=True)), now)  # fmt: skip
        await session.commit()
        progress.done += len(facts)
