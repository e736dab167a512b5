"""Does the map spread the load? One simulated city day (three branches, one overloaded), the
same arrivals with 0%, 30% and 60% of customers choosing the branch with the lowest predicted
wait (the rule's estimate, as the map shows it) among the two nearest to where they arrived.
Prints mean and p90 wait (minutes) over 10 seeds.

    .venv/bin/python benchmarks/branch_guidance.py
"""

from __future__ import annotations

import statistics

from kefu.branch.simulator import BranchPlan, default_profiles, simulate_day

NEIGHBOURS = {"A": ("A", "B"), "B": ("B", "C"), "C": ("C", "B")}


def plans() -> list[BranchPlan]:
    return [BranchPlan("A", default_profiles(4), base_per_hour=38),
            BranchPlan("B", default_profiles(5), base_per_hour=24),
            BranchPlan("C", default_profiles(5), base_per_hour=15)]  # fmt: skip


def run(share: float) -> tuple[float, float]:
    waits = []
    for seed in range(10):

        def guided(customer, guesses, rng, share=share):  # type: ignore[no-untyped-def]
            home = customer.branch
            return (
                home if rng.random() >= share else min(NEIGHBOURS[home], key=lambda b: guesses[b])
            )

        customers = simulate_day(plans(), seed=seed, chooser=guided)
        waits += [(c.start - c.arrival) / 60 for c in customers if c.start is not None]
    return statistics.mean(waits), statistics.quantiles(waits, n=10)[-1]


if __name__ == "__main__":
    for share in (0.0, 0.3, 0.6):
        mean, p90 = run(share)
        print(f"guided_share={share:.0%} mean_wait_min={mean:.1f} p90_wait_min={p90:.1f}")
