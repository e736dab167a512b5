from __future__ import annotations

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
def sentiment_report() -> dict[str, Any]:
    """``evaluation.sentiment_heldout()`` once per run: the deep model reads 1,678 posts."""
    from kefu.language.evaluation import sentiment_heldout

    return sentiment_heldout()
