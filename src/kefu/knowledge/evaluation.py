"""Scoring the matcher and the index on question-pair files (used by the CLI and benchmarks)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from kefu.knowledge.dense import TextEmbedder, encoder_embedder, shipped_embedder
from kefu.knowledge.index import IndexedEntry, KnowledgeIndex
from kefu.knowledge.matcher import MatcherModel, prepare, shipped_dense_matcher, shipped_matcher
from kefu.knowledge.pairs import Pair, accuracy, iter_recall, labels_of, retrieval_queries
from kefu.knowledge.rerank import reranker_from_env


def default_matcher() -> MatcherModel:
    """What the index ranks with: the dense matcher where the encoder is available."""
    return shipped_dense_matcher() if shipped_embedder() is not None else shipped_matcher()


def pair_scores(
    pairs: Sequence[Pair],
    matcher: MatcherModel | None = None,
    embedder: TextEmbedder | None = None,
) -> np.ndarray:
    matcher = matcher or default_matcher()
    sentences = sorted({s for p in pairs for s in (p.a, p.b)})
    prepared = [prepare(s) for s in sentences]
    vectors: list[np.ndarray | None] = [None] * len(sentences)
    if matcher.uses_cosine:
        embedder = embedder or encoder_embedder()
        if embedder is None:
            raise ValueError("this matcher needs the encoder, which is unavailable")
        vectors = list(embedder.embed([p.text for p in prepared]))
    encoded = {
        s: matcher.encode(p, v) for s, p, v in zip(sentences, prepared, vectors, strict=True)
    }
    return np.array([matcher.probability_encoded(encoded[p.a], encoded[p.b]) for p in pairs])


def pair_accuracy(
    pairs: Sequence[Pair],
    matcher: MatcherModel | None = None,
    embedder: TextEmbedder | None = None,
) -> float:
    matcher = matcher or default_matcher()
    scores = pair_scores(pairs, matcher, embedder)
    return accuracy(scores, labels_of(pairs), matcher.pair_threshold)


def sentence_index(sentences: Sequence[str], **kwargs: object) -> KnowledgeIndex:
    """An index holding every sentence as the standard question of an FAQ of its own, with
    the product's re-ranker configuration unless one is given."""
    if "reranker" not in kwargs:
        kwargs["reranker"], kwargs["rerank_weight"] = reranker_from_env()
    index = KnowledgeIndex(**kwargs)  # type: ignore[arg-type]
    index.build(
        IndexedEntry(
            entry_id=i, version=1, kind="faq", question=s, paraphrases=(), answers={"agent": s}
        )  # fmt: skip
        for i, s in enumerate(sentences)
    )
    return index


@dataclass(frozen=True)
class RetrievalResult:
    queries: int
    questions: int
    recall: dict[int, float]


def retrieval_recall(
    pairs: Sequence[Pair], ks: Sequence[int] = (1, 5), index: KnowledgeIndex | None = None
) -> RetrievalResult:
    sentences, queries = retrieval_queries(pairs)
    index = index or sentence_index(sentences)
    top = max(ks)

    def ranked() -> Iterator[tuple[list[str], set[str]]]:
        for query, wanted in queries:
            # The query itself is in the index; it is not a paraphrase of itself.
            hits = index.search(query, k=top + 1)
            found = [h.entry.question for h in hits if h.entry.question != query][:top]
            yield found, wanted

    return RetrievalResult(len(queries), len(sentences), iter_recall(ranked(), ks))
