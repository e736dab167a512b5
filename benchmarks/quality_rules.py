"""Quality inspection rules: precision and recall per rule on the labelled set
(tests/quality/data/labelled.json, built by benchmarks/quality_labelled_set.py), with the real
sentiment model, and the time per conversation.

    python benchmarks/quality_rules.py
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kefu.quality.inspection import Msg, inspect, load_rules

DATA = Path(__file__).resolve().parents[1] / "tests" / "quality" / "data" / "labelled.json"


def messages(conversation: dict) -> list[Msg]:
    start = datetime(2026, 12, 1, 9, tzinfo=UTC)
    return [Msg(t["sender"], t["text"], start + timedelta(minutes=t["minute"]))
            for t in conversation["turns"]]  # fmt: skip


def main() -> None:
    rules = load_rules()
    conversations = json.loads(DATA.read_text(encoding="utf-8"))["conversations"]
    inspect(messages(conversations[0]), rules)  # load the models before timing
    counts = {r.id: {"tp": 0, "fp": 0, "fn": 0} for r in rules.rules}
    started = time.perf_counter()
    for conversation in conversations:
        found = {f.rule for f in inspect(messages(conversation), rules).findings}
        truth = set(conversation["violations"])
        for rule in counts:
            if rule in found and rule in truth:
                counts[rule]["tp"] += 1
            elif rule in found:
                counts[rule]["fp"] += 1
            elif rule in truth:
                counts[rule]["fn"] += 1
    elapsed = time.perf_counter() - started
    print(f"{len(conversations)} labelled conversations, rules version {rules.version}")
    print(f"{'rule':<26}{'seeded':>7}{'precision':>11}{'recall':>8}")
    for rule, c in counts.items():
        seeded = c["tp"] + c["fn"]
        precision = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else float("nan")
        recall = c["tp"] / seeded if seeded else float("nan")
        print(f"{rule:<26}{seeded:>7}{precision:>11.2f}{recall:>8.2f}")
    print(f"inspection: {1000 * elapsed / len(conversations):.1f} ms per conversation "
          "(fast sentiment model, one process)")  # fmt: skip


if __name__ == "__main__":
    main()
