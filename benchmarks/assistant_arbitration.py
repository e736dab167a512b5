"""How-to questions vs data requests: where the assistant sends them, before and after
arbitration (kefu.assistant.arbitration), on our labelled set.

Run: .venv/bin/python benchmarks/assistant_arbitration.py [--show-errors]   (~15 s)

The set, tests/assistant/data/howto_vs_data.csv, pairs how-to questions with data requests on
the same topics (bills, limits, balance, transactions, repayment, points, loss reports,
passwords, transfers, cards); each row names the route (``intent`` or ``knowledge``) and the
target (the intent, or the FAQ's standard question in the demo knowledge base). The demo
knowledge base is loaded into a temporary SQLite database; nothing else is needed.

- "before": the engine as it was — any recognised intent runs its command, only ``other``
  reaches the knowledge base;
- "after": arbitration on the question's form and both scores.
A row is *routed* right when the route matches, and *reached* when, in addition, the command
is the labelled intent or the knowledge base's answer (or first choice) is the labelled FAQ.
"""

from __future__ import annotations

import asyncio
import csv
import sys
import tempfile
from collections import Counter
from datetime import date
from pathlib import Path

from kefu.assistant import arbitration
from kefu.db.engine import make_engine, make_sessionmaker, session_scope
from kefu.db.migrate import upgrade
from kefu.knowledge import answering
from kefu.knowledge.demo import load_demo_knowledge
from kefu.language.analyze import analyze
from kefu.language.intents import question_form

DATA = Path(__file__).resolve().parent.parent / "tests/assistant/data"
# The first set was written while the question-form markers were; the held-out one after
# they were fixed, and nothing was changed after scoring it.
SETS = {"labelled": DATA / "howto_vs_data.csv", "heldout": DATA / "howto_vs_data_heldout.csv"}
TODAY = date(2026, 11, 29)
# Intents the engine answers with a command (everything but ``other``, before this change).
COMMAND_INTENTS_BEFORE = frozenset(arbitration.ARBITRATED) | {
    "branch.queue", "agent.transfer", "unsubscribe", "subscribe", "bind", "greeting",
    "complaint",
}  # fmt: skip


def first_question(found: arbitration.Found) -> str | None:
    if isinstance(found, answering.Answer):
        return found.question
    if isinstance(found, answering.Suggestions) and found.choices:
        return found.choices[0].question
    return None


async def score(db, rows: list[dict[str, str]]) -> tuple[dict[str, object], list[str]]:  # type: ignore[no-untyped-def]
    tally: Counter[str] = Counter()
    errors: list[str] = []
    for row in rows:
        a = analyze(row["text"], today=TODAY)
        form = question_form(row["text"], a.slots)
        found = await answering.answer(db, question=row["text"], channel="sms", record_gap=False)
        before = "intent" if a.intent in COMMAND_INTENTS_BEFORE else "knowledge"
        after = (
            arbitration.route(form, a.intent, a.confidence, found)
            if a.intent in COMMAND_INTENTS_BEFORE
            else "knowledge"
        )
        for name, routed in (("before", before), ("after", after)):
            target = a.intent if routed == "intent" else first_question(found)
            tally[f"{name}_routed"] += routed == row["route"]
            tally[f"{name}_reached"] += routed == row["route"] and target == row["target"]
            if name == "after" and (routed, target) != (row["route"], row["target"]):
                errors.append(
                    f"{row['text']}: {routed} → {target} (want {row['route']} → "
                    f"{row['target']}; form {form.kind}, intent {a.intent} {a.confidence:.2f}, "
                    f"knowledge {arbitration.knowledge_score(found)})"
                )
    n = len(rows)
    report: dict[str, object] = {
        "rows": n,
        "how_to_rows": sum(r["route"] == "knowledge" for r in rows),
    }
    report.update({key: round(tally[key] / n, 4) for key in sorted(tally)})
    return report, errors


async def run(show_errors: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/arbitration.db"
        upgrade(url)
        engine = make_engine(url)
        factory = make_sessionmaker(engine)
        async with session_scope(factory) as db:
            await load_demo_knowledge(db)
        async with session_scope(factory) as db:
            for name, path in SETS.items():
                rows = list(csv.DictReader(path.open(encoding="utf-8")))
                report, errors = await score(db, rows)
                print(f"{name} ({path.name}): " + ", ".join(f"{k} {v}" for k, v in report.items()))
                if show_errors:
                    for line in errors:
                        print("  miss: " + line)
        await engine.dispose()


def main() -> None:
    asyncio.run(run("--show-errors" in sys.argv))


if __name__ == "__main__":
    main()
