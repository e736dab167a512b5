"""Quality of the knowledge matcher and index on real bank questions (BQ corpus), with baselines.

Run: .venv/bin/python benchmarks/knowledge_quality.py   (needs ../shared/data/bq_corpus)

(a) Pair accuracy on test.csv. Every method's threshold is tuned on dev.csv and then applied
    unchanged to test.csv: the shipped matcher (threshold shipped in data/matcher.json) against
    lexical baselines — char and word Jaccard, edit ratio, char 1–2-gram TF-IDF cosine.
(b) Retrieval: every distinct sentence of test.csv is an FAQ question; for each sentence with a
    labelled paraphrase, is a paraphrase ranked first / in the top five (the query itself is
    excluded)? The shipped index (BM25 candidates + matcher + char n-gram re-ranker), the same
    without the re-ranker, TF-IDF cosine and plain BM25.
"""

from __future__ import annotations

import time
from difflib import SequenceMatcher

import numpy as np

from kefu.knowledge.evaluation import pair_scores, retrieval_recall, sentence_index
from kefu.knowledge.index import bm25_tokens
from kefu.knowledge.matcher import prepare, shipped_matcher
from kefu.knowledge.pairs import (
    accuracy,
    best_threshold,
    iter_recall,
    labels_of,
    read_pairs,
    retrieval_queries,
)
from kefu.knowledge.rerank import reranker_from_env
from kefu.language.resources import shared_data_dir


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / max(1, len(a | b))


def lexical_baselines(dev, test) -> dict[str, float]:  # type: ignore[no-untyped-def]
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True)
    vec.fit([p.a for p in dev] + [p.b for p in dev])

    def tfidf(pairs):  # type: ignore[no-untyped-def]
        a = vec.transform([p.a for p in pairs])
        b = vec.transform([p.b for p in pairs])
        return np.asarray(a.multiply(b).sum(axis=1)).ravel()

    methods = {
        "char jaccard": lambda ps: np.array([_jaccard(prepare(p.a).char_set, prepare(p.b).char_set) for p in ps]),
        "word jaccard": lambda ps: np.array([_jaccard(prepare(p.a).word_set, prepare(p.b).word_set) for p in ps]),
        "edit ratio": lambda ps: np.array([SequenceMatcher(None, p.a, p.b).ratio() for p in ps]),
        "char 1-2gram tfidf cosine": tfidf,
    }  # fmt: skip
    out = {}
    for name, fn in methods.items():
        threshold, _ = best_threshold(fn(dev), labels_of(dev))
        out[name] = accuracy(fn(test), labels_of(test), threshold)
    return out


def retrieval_baselines(test) -> dict[str, dict[int, float]]:  # type: ignore[no-untyped-def]
    import bm25s
    from sklearn.feature_extraction.text import TfidfVectorizer

    sentences, queries = retrieval_queries(test)
    position = {s: i for i, s in enumerate(sentences)}
    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True)
    x = vec.fit_transform(sentences)
    bm25 = bm25s.BM25()
    bm25.index([bm25_tokens(prepare(s)) or ["\u2205"] for s in sentences], show_progress=False)

    def ranked_tfidf():  # type: ignore[no-untyped-def]
        for query, wanted in queries:
            sims = (x @ x[position[query]].T).toarray().ravel()
            sims[position[query]] = -1
            yield [sentences[i] for i in np.argsort(-sims)[:5]], wanted

    def ranked_bm25():  # type: ignore[no-untyped-def]
        for query, wanted in queries:
            ids = bm25.get_tokens_ids(bm25_tokens(prepare(query)))
            scores = bm25.get_scores_from_ids(ids) if ids else np.zeros(len(sentences))
            scores[position[query]] = -1
            yield [sentences[i] for i in np.argsort(-scores)[:5]], wanted

    return {"tfidf char 1-2gram cosine": iter_recall(ranked_tfidf(), (1, 5)),
            "bm25s alone (same tokens)": iter_recall(ranked_bm25(), (1, 5))}  # fmt: skip


def main() -> None:
    data = shared_data_dir() / "bq_corpus"
    dev, test = read_pairs(data / "dev.csv"), read_pairs(data / "test.csv")
    matcher = shipped_matcher()
    print(f"BQ corpus: dev {len(dev)} pairs (tuning), test {len(test)} pairs (scoring)")
    print("\n(a) pair accuracy on test.csv, thresholds tuned on dev.csv")
    start = time.perf_counter()
    ours = accuracy(pair_scores(test, matcher), labels_of(test), matcher.pair_threshold)
    per_pair = (time.perf_counter() - start) / len(test) * 1e6
    print(f"  kefu matcher (shipped, threshold {matcher.pair_threshold:.3f})  accuracy={ours:.3f}"
          f"   ({per_pair:.0f} µs per pair incl. segmentation)")  # fmt: skip
    for name, acc in lexical_baselines(dev, test).items():
        print(f"  baseline {name:<28}  accuracy={acc:.3f}")

    print("\n(b) retrieval on test.csv: recall of a labelled paraphrase")
    sentences, _ = retrieval_queries(test)
    shipped = retrieval_recall(test)  # the product's configuration (re-ranker from the environment)
    reranker, weight = reranker_from_env()
    print(f"  {shipped.questions} FAQ questions, {shipped.queries} queries")
    label = f"bm25s + matcher + re-ranker {weight}" if reranker else "bm25s + matcher"
    print(f"  kefu index as shipped ({label})  recall@1={shipped.recall[1]:.3f} "
          f"recall@5={shipped.recall[5]:.3f}")  # fmt: skip
    plain = retrieval_recall(test, index=sentence_index(sentences, reranker=None))
    print(f"  kefu index without re-ranker          recall@1={plain.recall[1]:.3f} "
          f"recall@5={plain.recall[5]:.3f}")  # fmt: skip
    for name, recall in retrieval_baselines(test).items():
        print(f"  baseline {name:<32} recall@1={recall[1]:.3f} recall@5={recall[5]:.3f}")


if __name__ == "__main__":
    main()
