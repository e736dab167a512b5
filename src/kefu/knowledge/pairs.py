"""Reading question-pair files in the BQ corpus format and scoring matchers on them.

Format: CSV with ``sentence1,sentence2,label`` (label 1 = same meaning); a header line and a
UTF-8 BOM are tolerated, as the published files have both, and lines starting with ``#`` are
comments (our own files open with their provenance).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    label: int


class PairFileError(ValueError):
    pass


def read_pairs(path: Path) -> list[Pair]:
    pairs: list[Pair] = []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for lineno, row in enumerate(csv.reader(fh), start=1):
            # Comment lines (a provenance note) and the header are skipped wherever they are.
            if not row or row[0].startswith("#") or row[:3] == ["sentence1", "sentence2", "label"]:
                continue
            if len(row) != 3 or row[2].strip() not in {"0", "1"}:
                raise PairFileError(f"{path}:{lineno}: expected sentence1,sentence2,label(0/1)")
            pairs.append(Pair(row[0], row[1], int(row[2])))
    if not pairs:
        raise PairFileError(f"{path}: no pairs")
    return pairs


def best_threshold(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """The threshold maximising accuracy of ``score >= t``, and that accuracy."""
    order = np.argsort(-scores)
    s, y = scores[order], labels[order]
    # Predict positive for the first i items: correct = positives among them + negatives after.
    tp = np.concatenate([[0], np.cumsum(y)])
    neg_after = (len(y) - y.sum()) - np.concatenate([[0], np.cumsum(1 - y)])
    correct = tp + neg_after
    i = int(np.argmax(correct))
    if i == 0:
        return float(s[0]) + 1e-9, correct[0] / len(y)
    # Midway between the last accepted score and the next one generalises better than either.
    t = float(s[i - 1]) if i == len(s) else float((s[i - 1] + s[i]) / 2)
    return t, float(correct[i]) / len(y)


def accuracy(scores: np.ndarray, labels: np.ndarray, threshold: float) -> float:
    return float(((scores >= threshold).astype(int) == labels).mean())


def labels_of(pairs: Sequence[Pair]) -> np.ndarray:
    return np.array([p.label for p in pairs], dtype=np.int64)


def retrieval_queries(pairs: Sequence[Pair]) -> tuple[list[str], list[tuple[str, set[str]]]]:
    """The BQ retrieval task: every distinct sentence is an FAQ question; each sentence with a
    labelled paraphrase is a query whose right answers are its paraphrases (never itself)."""
    sentences: dict[str, None] = {}
    positives: dict[str, set[str]] = {}
    for p in pairs:
        sentences.setdefault(p.a)
        sentences.setdefault(p.b)
        if p.label == 1 and p.a != p.b:
            positives.setdefault(p.a, set()).add(p.b)
            positives.setdefault(p.b, set()).add(p.a)
    return list(sentences), sorted(positives.items())


def iter_recall(
    ranked: Iterator[tuple[list[str], set[str]]], ks: Sequence[int]
) -> dict[int, float]:
    hits = dict.fromkeys(ks, 0)
    n = 0
    for found, wanted in ranked:
        n += 1
        for k in ks:
            if wanted & set(found[:k]):
                hits[k] += 1
    return {k: hits[k] / max(n, 1) for k in ks}
