"""The search index: BM25 (bm25s) over jieba words and dense retrieval with the shipped encoder
(``dense.py``) for candidates, fused by reciprocal rank; the pair matcher, which also weighs the
encoder's cosine, to rank them.

Every question of an entry (the standard one and each paraphrase) is a document; an entry
scores as its best-matching question, so a customer who phrases it like any paraphrase finds
it ("paraphrase-aware").

bm25s builds immutable indexes, so the index keeps two segments: a large *main* segment built
in bulk and a small *delta* segment rebuilt on each change (milliseconds while it is small).
Documents of a changed or removed entry in the main segment are masked out (bm25s's
``weight_mask``) rather than deleted. When the delta grows past a fraction of the main segment
both are merged by one rebuild; that is the only full build after start-up.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

import bm25s
import numpy as np

from kefu.knowledge.dense import DenseIndex, TextEmbedder, shipped_embedder
from kefu.knowledge.matcher import (
    Encoded,
    MatcherModel,
    Prepared,
    prepare,
    shipped_dense_matcher,
    shipped_matcher,
)
from kefu.knowledge.rerank import Reranker
from kefu.language.resources import load_once
from kefu.language.tokenize import lexicon

CANDIDATE_DOCS = 40  # BM25 documents per segment handed to the matcher
DENSE_CANDIDATES = 20  # entries from dense retrieval handed to the matcher
# e5's cosines are compressed: unrelated chit-chat reaches 0.88-0.90 against the demo base
# ("今天心情不好" ~ "房贷逾期一天" 0.897) and customers' paraphrases sit at 0.96-0.99; BQ's
# labelled paraphrases have a median of 0.93. Below the floor dense retrieval proposes nothing
# (BM25 may still), so a question about the weather finds no FAQ at all.
DENSE_FLOOR = 0.9
RRF_K = 60  # reciprocal-rank fusion constant (Cormack et al. 2009)
MIN_DELTA_DOCS = 2_000  # merge when the delta exceeds max(this, MERGE_FRACTION × main)
MERGE_FRACTION = 0.05


@dataclass(frozen=True)
class IndexedEntry:
    """What the index knows of one published entry version."""

    entry_id: int
    version: int
    kind: str
    question: str
    paraphrases: tuple[str, ...]
    answers: dict[str, str]  # channel variant → text ("sms", "wechat", "agent")
    internal_note: str = ""
    category: str = ""
    products: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()  # empty: applies everywhere
    effective_from: datetime | None = None
    expires_at: datetime | None = None
    # Each question prepared and encoded for the index's matcher (filled in by the index).
    prepared: tuple[Encoded, ...] = field(default=(), compare=False, repr=False)

    @property
    def questions(self) -> tuple[str, ...]:
        return (self.question, *self.paraphrases)

    def live(self, now: datetime) -> bool:
        """Only published, effective, unexpired content is ever answered."""
        if self.effective_from is not None and now < self.effective_from:
            return False
        return self.expires_at is None or now < self.expires_at

    def applies_to(self, region: str | None) -> bool:
        return not self.regions or region is None or region in self.regions


@load_once
def _stopwords() -> frozenset[str]:
    return lexicon().stopwords


def bm25_tokens(p: Prepared) -> list[str]:
    """Content words for BM25; question particles and stopwords only add noise to ranking."""
    stop = _stopwords()
    words = [w for w in p.words if w not in stop]
    return words or list(p.words)


@dataclass(frozen=True)
class Hit:
    entry: IndexedEntry
    score: float  # matcher probability that the query means this entry: thresholds use it
    matched: str  # the question or paraphrase that matched best
    rank: float = 0.0  # what hits are ordered by: the probability, blended with a re-ranker


class _Segment:
    """One immutable bm25s index plus which (entry, version, question) each document is."""

    def __init__(self, docs: Sequence[tuple[int, int, list[str]]]) -> None:
        self.entry_ids = np.array([d[0] for d in docs], dtype=np.int64)
        self.versions = np.array([d[1] for d in docs], dtype=np.int64)
        self.mask = np.ones(len(docs), dtype=np.float32)
        self.retriever: bm25s.BM25 | None = None
        if docs:
            # An empty document list would make bm25s fail; keep token lists non-empty.
            corpus = [d[2] or ["\u2205"] for d in docs]
            self.retriever = bm25s.BM25()
            self.retriever.index(corpus, show_progress=False)

    def __len__(self) -> int:
        return len(self.entry_ids)

    def candidates(self, tokens: list[str], k: int) -> list[tuple[int, float]]:
        """The best ``k`` documents and their BM25 scores, best first."""
        if self.retriever is None or not tokens:
            return []
        ids = self.retriever.get_tokens_ids(tokens)
        if not ids:
            return []
        scores = self.retriever.get_scores_from_ids(ids, weight_mask=self.mask)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        return [(int(i), float(scores[i])) for i in top[np.argsort(-scores[top])] if scores[i] > 0]


class KnowledgeIndex:
    """Searches need no lock: changes replace the entry map and segments (copy-on-write) under
    a lock, and a search works on the objects it read at its start."""

    def __init__(
        self,
        matcher: MatcherModel | None = None,
        *,
        reranker: Reranker | None = None,
        rerank_weight: float = 0.0,
        embedder: TextEmbedder | None = None,
        dense: bool = True,
    ) -> None:
        """``dense``: also retrieve with the encoder (``embedder``, the process's shared one by
        default); off, or where the encoder is missing, BM25 and the lexical matcher rank alone.
        A matcher that weighs the cosine needs the embedder."""
        self.embedder = (embedder or shipped_embedder()) if dense else None
        if matcher is None:
            matcher = shipped_dense_matcher() if self.embedder is not None else shipped_matcher()
        if matcher.uses_cosine and self.embedder is None:
            raise ValueError("this matcher weighs the encoder's cosine: give an embedder")
        self.matcher = matcher
        self.dense_index = DenseIndex()
        self.reranker = reranker
        self.rerank_weight = rerank_weight if reranker is not None else 0.0
        self._entries: dict[int, IndexedEntry] = {}
        self._main = _Segment([])
        self._delta = _Segment([])
        self._delta_ids: set[int] = set()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def document_count(self) -> int:
        return sum(len(e.questions) for e in self._entries.values())

    def get(self, entry_id: int) -> IndexedEntry | None:
        return self._entries.get(entry_id)

    def entries(self) -> list[IndexedEntry]:
        return list(self._entries.values())

    # --- changes -------------------------------------------------------------------------
    def build(self, entries: Iterable[IndexedEntry]) -> None:
        """Replace everything with one bulk build (start-up, or a merge)."""
        prepared = {e.entry_id: e for e in self._prepared_many(list(entries))}
        main = _Segment(_docs(prepared.values()))
        dense = DenseIndex()
        if self.embedder is not None:
            owners = [e.entry_id for e in prepared.values() for _ in e.prepared]
            vectors = [p.vector for e in prepared.values() for p in e.prepared]
            dense.build(owners, np.array(vectors, dtype=np.float32).reshape(-1, self._dim()))
        with self._lock:
            self._entries = prepared
            self._main, self._delta, self._delta_ids = main, _Segment([]), set()
            self.dense_index = dense

    def _dim(self) -> int:
        return self.embedder.encoder.config.hidden if self.embedder is not None else 0

    def _prepared_many(self, entries: list[IndexedEntry]) -> list[IndexedEntry]:
        """Prepare and encode every question; embeddings in one batched call (cached by text)."""
        todo = [e for e in entries if not e.prepared]
        preps = [[prepare(q) for q in e.questions] for e in todo]
        vectors = None
        if self.embedder is not None:
            vectors = iter(self.embedder.embed([p.text for ps in preps for p in ps]))
        done = {}
        for entry, ps in zip(todo, preps, strict=True):
            encoded = tuple(
                self.matcher.encode(p, next(vectors) if vectors is not None else None) for p in ps
            )
            done[entry.entry_id] = replace(entry, prepared=encoded)
        return [done.get(e.entry_id, e) if not e.prepared else e for e in entries]

    def _prepared(self, entry: IndexedEntry) -> IndexedEntry:
        return self._prepared_many([entry])[0]

    def upsert(self, entry: IndexedEntry) -> None:
        entry = self._prepared(entry)
        if self.embedder is not None:
            self.dense_index.upsert(entry.entry_id, np.array([p.vector for p in entry.prepared]))
        with self._lock:
            # Copy-on-write: a search running in another thread keeps its consistent snapshot.
            self._entries = {**self._entries, entry.entry_id: entry}
            self._mask_main(entry.entry_id)
            self._delta_ids.add(entry.entry_id)
            self._rebuild_delta_or_merge()

    def remove(self, entry_id: int) -> None:
        with self._lock:
            if entry_id not in self._entries:
                return
            self._entries = {k: v for k, v in self._entries.items() if k != entry_id}
            self.dense_index.remove(entry_id)
            self._mask_main(entry_id)
            if entry_id in self._delta_ids:
                self._delta_ids.discard(entry_id)
                self._rebuild_delta_or_merge()

    def _mask_main(self, entry_id: int) -> None:
        self._main.mask[self._main.entry_ids == entry_id] = 0.0

    def _rebuild_delta_or_merge(self) -> None:
        delta_entries = [self._entries[i] for i in self._delta_ids]
        docs = _docs(delta_entries)
        if len(docs) > max(MIN_DELTA_DOCS, MERGE_FRACTION * len(self._main)):
            self._main = _Segment(_docs(self._entries.values()))
            self._delta, self._delta_ids = _Segment([]), set()
        else:
            self._delta = _Segment(docs)

    # --- search --------------------------------------------------------------------------
    def search(
        self,
        text: str,
        *,
        k: int = 5,
        now: datetime | None = None,
        region: str | None = None,
        kinds: Sequence[str] = ("faq",),
    ) -> list[Hit]:
        query = prepare(text)
        if not any(ch.isalnum() for ch in query.text):  # empty, or punctuation and emoji only
            return []
        tokens = bm25_tokens(query)
        main, delta, entries = self._main, self._delta, self._entries  # a consistent snapshot

        def usable(entry: IndexedEntry | None) -> bool:
            if entry is None or entry.kind not in kinds or not entry.applies_to(region):
                return False
            return now is None or entry.live(now)

        lexical: list[tuple[float, int]] = []  # (BM25 score, entry id), per segment
        for segment in (delta, main):
            for doc, score in segment.candidates(tokens, CANDIDATE_DOCS):
                entry = entries.get(int(segment.entry_ids[doc]))
                if usable(entry) and entry.version == int(segment.versions[doc]):  # type: ignore[union-attr]
                    lexical.append((score, entry.entry_id))  # type: ignore[union-attr]
        # Delta first, then main: BM25 scores of two segments are not comparable (each has its
        # own statistics), so a just-published entry must not be cut by a cross-segment sort.
        lexical_ids = list(dict.fromkeys(e for _, e in lexical))
        vector = None
        dense_ids: list[int] = []
        if self.embedder is not None:
            vector = self.embedder.embed_query(query.text)
            # Over-fetch: filtered-out entries (other kinds, regions, not yet live) are skipped.
            found = self.dense_index.search(vector, 3 * DENSE_CANDIDATES)
            dense_ids = [e for e, cos in found if cos >= DENSE_FLOOR and usable(entries.get(e))]
            dense_ids = dense_ids[:DENSE_CANDIDATES]
        # Every candidate of either list is scored (at most 2 × 40 + 20), in fused order.
        chosen = fuse([lexical_ids, dense_ids], len(lexical_ids) + len(dense_ids))
        return self._rank(self.matcher.encode(query, vector), [entries[i] for i in chosen], k)

    def _rank(self, query: Encoded, candidates: list[IndexedEntry], k: int) -> list[Hit]:
        if not candidates:
            return []
        flat = [(e, q, p) for e in candidates for q, p in zip(e.questions, e.prepared, strict=True)]
        probability = self.matcher.score_many(query, [p for _, _, p in flat])
        rank = probability
        # A re-ranker changes the order only; thresholds keep seeing the calibrated probability.
        if self.reranker is not None and self.rerank_weight > 0:
            dense = self.reranker.similarities(query.text, [p.text for _, _, p in flat])
            rank = (1 - self.rerank_weight) * rank + self.rerank_weight * dense
        best: dict[int, Hit] = {}
        for (entry, question, _), p, r in zip(flat, probability, rank, strict=True):
            hit = best.get(entry.entry_id)
            if hit is None or r > hit.rank:
                best[entry.entry_id] = Hit(entry, float(p), question, float(r))
        return sorted(best.values(), key=lambda h: (-h.rank, h.entry.entry_id))[:k]


def fuse(rankings: Sequence[Sequence[int]], limit: int) -> list[int]:
    """Reciprocal-rank fusion: an item's score is the sum of ``1 / (RRF_K + rank)`` over the
    lists it appears in; the best ``limit`` items, ties in first-seen order."""
    score: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, 1):
            score[item] = score.get(item, 0.0) + 1.0 / (RRF_K + rank)
    return sorted(score, key=lambda i: -score[i])[:limit]


def _docs(entries: Iterable[IndexedEntry]) -> list[tuple[int, int, list[str]]]:
    return [
        (e.entry_id, e.version, bm25_tokens(p.prepared))
        for e in entries
        for p in e.prepared
    ]  # fmt: skip
