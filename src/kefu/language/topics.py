"""Grouping many posts into topics, each labelled by its top terms.

scikit-learn does the work (TF-IDF over our segmentation, then k-means on the l2-normalised
vectors, which makes it cosine clustering); this module only picks a sensible number of
clusters and turns centroids into labels a supervisor can read ("信用卡 / 盗刷 / 冻结").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from kefu.language.keywords import KEEP_TAGS
from kefu.language.tokenize import lexicon, tag_of, tokenize


@dataclass(frozen=True)
class Topic:
    label: str  # top terms joined by " / "
    terms: tuple[str, ...]
    members: tuple[int, ...]  # indices into the input texts, most central first

    @property
    def size(self) -> int:
        return len(self.members)


def _content_words(text: str) -> list[str]:
    lex = lexicon()
    return [w for w in tokenize(text) if len(w) >= 2 and tag_of(w, lex) in KEEP_TAGS]


def cluster_topics(
    texts: Sequence[str], n_topics: int | None = None, top_terms: int = 3, seed: int = 0
) -> list[Topic]:
    """Cluster ``texts`` into topics, largest first. Texts without content words are left out.

    ``n_topics`` defaults to √(n/2) (a common rule of thumb), bounded to 2–20.
    """
    from sklearn.cluster import KMeans
    from sklearn.feature_extraction.text import TfidfVectorizer

    docs = [_content_words(t) for t in texts]
    keep = [i for i, d in enumerate(docs) if d]
    if not keep:
        return []
    vectorizer = TfidfVectorizer(analyzer=lambda d: d, sublinear_tf=True)
    x = vectorizer.fit_transform([docs[i] for i in keep])
    k = n_topics or max(2, min(20, round(math.sqrt(len(keep) / 2))))
    k = min(k, len(keep), x.shape[1])
    if k < 2:
        terms = tuple(vectorizer.get_feature_names_out()[np.argsort(-x.sum(axis=0).A1)][:top_terms])
        return [Topic(" / ".join(terms), terms, tuple(keep))]
    km = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(x)
    vocab = vectorizer.get_feature_names_out()
    distances = km.transform(x)
    topics: list[Topic] = []
    for c in range(k):
        rows = np.flatnonzero(km.labels_ == c)
        if rows.size == 0:
            continue
        terms = tuple(str(vocab[j]) for j in np.argsort(-km.cluster_centers_[c])[:top_terms])
        order = rows[np.argsort(distances[rows, c])]
        topics.append(Topic(" / ".join(terms), terms, tuple(keep[i] for i in order)))
    topics.sort(key=lambda t: (-t.size, t.label))
    return topics
