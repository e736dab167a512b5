"""Coverage-guided fuzzing (atheris / libFuzzer) of the five PDU decoders and WeChat's XML and
message crypto, for longer than the test suite's one second per target.

Prints, per target, the inputs run, the coverage reached (libFuzzer's ``cov``: instrumented
edges; ``ft``: features, edges × hit counts), the corpus it grew from the seeds and the rate.
Any crash, hang (> 5 s on one input) or growth past 1 GB RSS fails the run and prints
libFuzzer's report with the crashing input's file (kept under ``--workdir``).

    .venv/bin/python benchmarks/fuzz_coverage.py [--seconds 60] [--only cmpp2] [--jobs 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the harness lives in tests/

from tests.security.fuzz_targets import TARGETS, FuzzStats, run  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="per target")
    parser.add_argument("--only", choices=TARGETS)
    parser.add_argument("--jobs", type=int, default=2, help="targets fuzzed at once")
    parser.add_argument("--workdir", type=Path, help="keep corpora and crashes here")
    args = parser.parse_args()
    names = [args.only] if args.only else list(TARGETS)

    def one(name: str) -> FuzzStats:
        workdir = args.workdir / name if args.workdir else None
        return run(name, seconds=args.seconds, workdir=workdir)

    started = time.perf_counter()
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        results = list(pool.map(one, names))
    failed = False
    print(
        f"{'target':14} {'inputs':>11} {'cov':>6} {'ft':>6} {'corpus':>7} {'exec/s':>8} {'rss MB':>6}  result"
    )
    for s in results:
        verdict = "ok" if s.returncode == 0 else f"FAILED (exit {s.returncode})"
        print(f"{s.target:14} {s.runs:>11,} {s.coverage:>6} {s.features:>6} {s.corpus:>7} "
              f"{s.exec_per_s:>8,} {s.peak_rss_mb:>6}  {verdict}")  # fmt: skip
        if s.returncode:
            failed = True
            print("   " + s.crash.replace("\n", "\n   "))
    print(f"{sum(s.runs for s in results):,} inputs in {time.perf_counter() - started:.0f} s "
          f"({args.seconds:.0f} s per target, {args.jobs} at a time)")  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
