"""Schemathesis over kefu's OpenAPI document (issue 21): operations, cases, failures.

Run: .venv/bin/python benchmarks/security_schemathesis.py [--max-examples 50] [--stateful]
     [--database-url postgresql://…] [--workers 2] [--all-checks]

Seeds a database (SQLite in a temporary directory unless ``--database-url``; that database is
emptied first), starts kefu on a loopback port with its API documents open, creates an admin
API key and runs schemathesis with every stateless check (tests/security/contract.py) and, with
``--stateful``, the stateful phase and its checks too (use_after_free,
ensure_resource_availability). ``--all-checks`` runs the known gaps too. Prints the number of
operations, cases and failures, then each distinct failure. The suite's test (tests/security/test_openapi_contract.py) runs the same with
fewer examples and asserts no failure.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.security.contract

from tests.security.contract import CHECKS, run_schemathesis, seed_database  # noqa: E402
from tests.security.live import LiveServer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=50)
    parser.add_argument("--stateful", action="store_true")
    parser.add_argument("--database-url")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument(
        "--all-checks", action="store_true", help="also the known gaps (contract.KNOWN_GAPS)"
    )
    args = parser.parse_args()

    from tests.conftest import _reset_postgres

    from kefu.config import load_settings

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/kefu.db"
        if args.database_url:
            _reset_postgres(url)
        key = seed_database(url)
        settings = load_settings(database_url=url, secret_key="bench", api_docs_public=True)
        phases = ["examples", "coverage", "fuzzing"] + (["stateful"] if args.stateful else [])
        checks = list(CHECKS) + (
            ["use_after_free", "ensure_resource_availability"] if args.stateful else []
        )
        started = time.perf_counter()
        with LiveServer(settings) as base:
            run = run_schemathesis(
                base, key, max_examples=args.max_examples, phases=phases, checks=checks,
                seed=args.seed, workers=args.workers, gaps={} if args.all_checks else None,
            )  # fmt: skip
        elapsed = time.perf_counter() - started
    print(f"max_examples={args.max_examples} phases={','.join(phases)} ({elapsed:.0f} s)")
    print(run.summary())
    sys.exit(1 if run.failures or run.errors else 0)


if __name__ == "__main__":
    main()
