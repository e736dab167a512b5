"""One RCA instance: dimension columns per leaf, actual and forecast values; file I/O and the
``a=a3&e=e1;b=b6&d=d1`` cause format of RiskLoc's data sets."""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class InstanceError(ValueError):
    """The instance file cannot be read as leaves with actual and forecast values."""


@dataclass(frozen=True)
class Instance:
    """Leaves of one metric at one time.

    ``codes[i, j]`` is the index of leaf i's value of dimension j in ``values[j]``. For a derived
    metric (a ratio of two sums, e.g. conversions / sessions) ``actual`` and ``forecast`` hold the
    numerator and ``actual_den`` / ``forecast_den`` the denominator.
    """

    dims: tuple[str, ...]
    values: tuple[tuple[str, ...], ...]
    codes: np.ndarray
    actual: np.ndarray
    forecast: np.ndarray
    actual_den: np.ndarray | None = None
    forecast_den: np.ndarray | None = None
    # Counts behind each leaf (e.g. sessions), for data whose noise shrinks with volume: a leaf
    # of 400 sessions then weighs more than one of 4. None: the noise is relative and alike.
    volume: np.ndarray | None = None

    @property
    def derived(self) -> bool:
        return self.actual_den is not None

    @classmethod
    def from_rows(
        cls,
        dims: Sequence[str],
        rows: Iterable[Sequence[str]],
        actual: Iterable[float],
        forecast: Iterable[float],
        actual_den: Iterable[float] | None = None,
        forecast_den: Iterable[float] | None = None,
    ) -> Instance:
        """Build from dimension values per leaf (any hashable text) and the numbers."""
        lookups: list[dict[str, int]] = [{} for _ in dims]
        coded: list[list[int]] = []
        for row in rows:
            if len(row) != len(dims):
                raise InstanceError(f"a leaf has {len(row)} dimension values, expected {len(dims)}")
            coded.append(
                [lk.setdefault(str(v), len(lk)) for lk, v in zip(lookups, row, strict=True)]
            )
        values = tuple(tuple(lk) for lk in lookups)
        codes = np.asarray(coded, dtype=np.int64).reshape(-1, len(dims))

        def arr(xs: Iterable[float] | None) -> np.ndarray | None:
            return None if xs is None else np.asarray(list(xs), dtype=float)

        act, fc = arr(actual), arr(forecast)
        assert act is not None and fc is not None
        if len(act) != len(codes) or len(fc) != len(codes):
            raise InstanceError("actual/forecast length differs from the number of leaves")
        return cls(tuple(dims), values, codes, act, fc, arr(actual_den), arr(forecast_den))


def _split_ratio(spec: str) -> tuple[str, str | None]:
    num, _, den = spec.partition("/")
    return num.strip(), (den.strip() or None)


def read_instance(path: str | Path, actual: str = "real", forecast: str = "predict") -> Instance:
    """Read a CSV (or ``.csv.gz``): every column other than the value columns is a dimension.

    ``actual``/``forecast`` name a column, or ``num/den`` for a derived metric (two columns whose
    ratio is the metric, e.g. ``--actual conv_real/sess_real``).
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
        if path.suffix == ".gz":
            raw = gzip.decompress(raw)
        text = raw.decode("utf-8-sig")
    except (OSError, EOFError, gzip.BadGzipFile, UnicodeDecodeError) as exc:
        raise InstanceError(f"cannot read {path}: {exc}") from None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        raise InstanceError(f"{path} is empty")
    header = [h.strip() for h in header]
    a_num, a_den = _split_ratio(actual)
    f_num, f_den = _split_ratio(forecast)
    if (a_den is None) != (f_den is None):
        raise InstanceError("give a denominator for both --actual and --forecast, or for neither")
    value_cols = [c for c in (a_num, a_den, f_num, f_den) if c]
    missing = [c for c in value_cols if c not in header]
    if missing:
        raise InstanceError(
            f"{path}: no column {', '.join(missing)} (columns: {', '.join(header)})"
        )
    idx = {c: header.index(c) for c in value_cols}
    dim_idx = [i for i, h in enumerate(header) if h not in idx]
    if not dim_idx:
        raise InstanceError(f"{path}: no dimension columns")
    dims = [header[i] for i in dim_idx]
    rows: list[list[str]] = []
    nums: dict[str, list[float]] = {c: [] for c in value_cols}
    for line_no, rec in enumerate(reader, start=2):
        if not rec:
            continue
        if len(rec) != len(header):
            raise InstanceError(f"{path}:{line_no}: {len(rec)} fields, header has {len(header)}")
        rows.append([rec[i] for i in dim_idx])
        for c, i in idx.items():
            try:
                nums[c].append(float(rec[i]) if rec[i].strip() else 0.0)
            except ValueError:
                raise InstanceError(f"{path}:{line_no}: {c}={rec[i]!r} is not a number") from None
    if not rows:
        raise InstanceError(f"{path} has no leaves")
    return Instance.from_rows(
        dims,
        rows,
        nums[a_num],
        nums[f_num],
        nums[a_den] if a_den else None,
        nums[f_den] if f_den else None,
    )


Element = tuple[tuple[str, str], ...]


def element_text(element: Element) -> str:
    return "&".join(f"{d}={v}" for d, v in sorted(element))


def format_causes(elements: Iterable[Element]) -> str:
    """``a=a3&e=e1;b=b6&d=d1`` with pairs and elements sorted."""
    return ";".join(sorted(element_text(e) for e in elements))


def parse_causes(text: str) -> set[str]:
    """The canonical text of each element of a cause set (pairs sorted), for scoring."""
    out: set[str] = set()
    for part in (text or "").split(";"):
        part = part.strip()
        if not part:
            continue
        pairs = []
        for kv in part.split("&"):
            d, sep, v = kv.partition("=")
            if not sep:
                raise InstanceError(f"bad cause element {part!r}")
            pairs.append((d.strip(), v.strip()))
        out.add(element_text(tuple(pairs)))
    return out
