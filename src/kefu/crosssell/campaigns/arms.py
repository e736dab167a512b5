"""The A/B split: each customer's arm comes from a seeded uniform draw of their own (a hash of
the campaign's seed and their customer number), so the split is reproducible, does not depend
on the order the audience was read in, and is recorded with the member."""

from __future__ import annotations

import hashlib

TREATED, HOLDOUT = "treated", "holdout"


def draw(seed: int, customer_no: str) -> float:
    digest = hashlib.sha256(f"{seed}:{customer_no}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def arm(seed: int, customer_no: str, holdout_share: float) -> tuple[str, float]:
    u = draw(seed, customer_no)
    return (HOLDOUT if u < holdout_share else TREATED), u
