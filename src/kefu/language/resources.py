"""Where the layer's files live, and one-time, thread-safe loading of them.

Everything heavy (dictionaries, models) is loaded on first use and then shared by every thread
of the process, so importing ``kefu.language`` stays cheap and ``kefu --help`` stays fast.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TypeVar

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = PACKAGE_DIR / "data"
MODELS_DIR = PACKAGE_DIR / "models"
# src/kefu/language → repository root is three levels up; shared data sits beside the repo.
REPO_ROOT = PACKAGE_DIR.parents[2]

T = TypeVar("T")


def shared_data_dir() -> Path:
    """The public data sets (never copied into the repo); ``KEFU_SHARED_DATA`` overrides."""
    override = os.environ.get("KEFU_SHARED_DATA")
    if override:
        return Path(override)
    return (REPO_ROOT / ".." / "shared" / "data").resolve()


def models_override_dir() -> Path | None:
    """Where a bank's retrained models live (``KEFU_MODELS_DIR``), or None for the shipped
    ones. ``kefu language train --data`` writes there; see docs/models.md."""
    override = os.environ.get("KEFU_MODELS_DIR")
    return Path(override) if override else None


def model_path(name: str) -> Path:
    """The model file ``name`` to serve: the bank's own in ``KEFU_MODELS_DIR`` when it holds
    one, else the shipped file. File by file, so a bank may retrain only its intents."""
    override = models_override_dir()
    if override is not None and (override / name).is_file():
        return override / name
    return MODELS_DIR / name


def read_lines(path: Path) -> list[str]:
    """Non-empty, stripped lines of a UTF-8 text file (BOM and CRLF tolerated)."""
    with path.open(encoding="utf-8-sig") as fh:
        return [s for s in (line.strip() for line in fh) if s]


def load_once(fn: Callable[[], T]) -> Callable[[], T]:
    """Memoise a zero-argument loader; concurrent first callers wait for one load.

    ``functools.cache`` would let two threads both run a slow load; a lock makes it one.
    """
    lock = threading.Lock()
    box: list[T] = []

    @wraps(fn)
    def wrapper() -> T:
        if box:
            return box[0]
        with lock:
            if not box:
                box.append(fn())
        return box[0]

    def cache_clear() -> None:
        with lock:
            box.clear()

    wrapper.cache_clear = cache_clear  # type: ignore[attr-defined]
    return wrapper
