"""Issue 21, item 4: a bounded coverage-guided run (atheris / libFuzzer, two seconds each) of the
five PDU decoders together and of WeChat's XML parser and message crypto together. Each
target's contract is in tests/security/fuzz_targets.py; a crash, a hang (> 5 s on an input)
or growth past 1 GB fails the run with libFuzzer's report. The long run, target by target:
benchmarks/fuzz_coverage.py."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.security.fuzz_targets import COMBINED, FuzzStats, run

pytest.importorskip("atheris", reason="coverage-guided fuzzing needs atheris (dev extra)")


@pytest.fixture(scope="module")
def results() -> dict[str, FuzzStats]:
    # Each target is its own process (libFuzzer owns it); both run at once.
    with ThreadPoolExecutor(len(COMBINED)) as pool:
        return dict(zip(COMBINED, pool.map(lambda name: run(name, seconds=2), COMBINED),
                        strict=True))  # fmt: skip


@pytest.mark.parametrize("target", list(COMBINED))
def test_no_input_breaks_the_contract(results: dict[str, FuzzStats], target: str) -> None:
    stats = results[target]
    assert stats.returncode == 0, f"{target} crashed:\n{stats.crash}"
    # The run did fuzz: inputs went through instrumented code, the corpus grew past what the
    # seeds cover, and memory stayed far below the limit.
    assert stats.runs >= 1000 and stats.coverage > 50, "\n".join(stats.log[-20:])
    assert stats.features > stats.coverage and stats.corpus > 0
    assert 0 < stats.peak_rss_mb < stats.inherited_mb + 1024  # grew less than 1 GB
