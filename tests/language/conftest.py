from __future__ import annotations

import fcntl
import json
from datetime import date
from typing import Any

import pytest

from kefu.language.resources import shared_data_dir

TODAY = date(2026, 11, 29)

needs_shared = pytest.mark.skipif(
    not (shared_data_dir() / "weibo2018").is_dir()
    or not (shared_data_dir() / "smp2017_ecdt_task1").is_dir(),
    reason=f"shared data not found at {shared_data_dir()}",
)


@pytest.fixture(scope="session")
def sentiment_report(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> dict[str, Any]:
    """``evaluation.sentiment_heldout()`` once per run: the deep model reads 1,678 posts (about
    two minutes of CPU). Its two users sit in two modules, which ``--dist loadscope`` may give to
    two xdist workers; the first to come computes it under a file lock in the run's shared
    temporary directory and the other reads it there, instead of paying the two minutes again."""
    from kefu.language.evaluation import sentiment_heldout

    if worker_id == "master":  # not under xdist
        return sentiment_heldout()
    shared = tmp_path_factory.getbasetemp().parent / "sentiment_heldout.json"
    with open(f"{shared}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if shared.is_file():
            return json.loads(shared.read_text(encoding="utf-8"))
        report = sentiment_heldout()
        shared.write_text(json.dumps(report), encoding="utf-8")
        return report
