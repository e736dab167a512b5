"""Per-message keywords: TF-IDF (default) or TextRank over jieba words, with our stopwords
and a POS filter.

IDF comes from jieba's corpus-wide table (kept in the core dictionary), bank terms get a high
IDF so that 信用卡 / 挂失 / 最低还款 surface, and only content-bearing parts of speech are kept:
a keyword list of 的/了/我们 helps no agent.

TF-IDF suits SMS-length messages (two or three content words: there is no graph to rank).
TextRank (Mihalcea & Tarau 2004) ranks the words of a long post by their co-occurrence graph,
so the word the post keeps coming back to wins even when the corpus-wide IDF of a rarer word
is higher; ``method="textrank"`` selects it. It is hand-written (a few lines of PageRank over a
dict) because jieba's own TextRank needs ``jieba.posseg``, which reloads the full dictionary.
"""

from __future__ import annotations

import re
from collections import Counter

from kefu.language.tokenize import Lexicon, lexicon, tag_of

# Nouns (incl. names, places, organisations), verbal nouns, verbs, idioms, fixed phrases,
# Latin words, and words jieba's HMM discovered (``un``: usually new names or slang).
_NUMERAL = re.compile(r"[\d零〇一二两三四五六七八九十百千万亿]")
_FUNCTION_STARTS = frozenset("我你您他她它想要请帮给")
KEEP_TAGS = frozenset({"n", "nr", "nrt", "nrfg", "ns", "nt", "nz", "ng", "vn", "v", "i", "l", "eng", "un", "an"})  # fmt: skip


# TextRank: co-occurrence window (in words of the message), damping and iterations as in the
# paper and in jieba; 30 iterations converge far below the precision that ranking needs.
WINDOW = 5
DAMPING = 0.85
ITERATIONS = 30


def is_candidate(w: str, lex: Lexicon) -> bool:
    """Whether a word may be a keyword: content part of speech, not a stopword or number."""
    if len(w) < 2 or w in lex.stopwords or w.isdigit():
        return False
    tag = tag_of(w, lex)
    if tag not in KEEP_TAGS:
        return False
    if tag == "un" and (_NUMERAL.search(w) or w[0] in _FUNCTION_STARTS):
        # HMM fragments around numbers ("一万二是" → "二是") or glued to a pronoun or
        # modal ("我想查") are not words.
        return False
    return not (tag == "eng" and len(w) < 3)  # "td", "zd": commands, not topics


def textrank_scores(words: list[str], lex: Lexicon | None = None) -> dict[str, float]:
    """TextRank score of each candidate word: weighted PageRank over an undirected graph whose
    edges join candidates less than ``WINDOW`` words apart (weight = how often they do)."""
    lex = lex or lexicon()
    keep = [is_candidate(w, lex) for w in words]
    edges: dict[str, Counter[str]] = {}
    for i, w in enumerate(words):
        if not keep[i]:
            continue
        edges.setdefault(w, Counter())
        for j in range(i + 1, min(i + WINDOW, len(words))):
            v = words[j]
            if keep[j] and v != w:
                edges[w][v] += 1
                edges.setdefault(v, Counter())[w] += 1
    if not edges:
        return {}
    out_weight = {w: sum(nb.values()) for w, nb in edges.items()}
    score = dict.fromkeys(edges, 1.0)
    for _ in range(ITERATIONS):
        score = {
            w: (1 - DAMPING) + DAMPING * sum(n * score[v] / out_weight[v] for v, n in nb.items())
            for w, nb in edges.items()
        }
    return score


def keywords(
    words: list[str],
    top_k: int = 5,
    hashtags: tuple[str, ...] = (),
    lex: Lexicon | None = None,
    method: str = "tfidf",
) -> list[str]:
    """Top ``top_k`` keywords of a segmented message, hashtags first (authors chose them).

    ``method``: ``"tfidf"`` (term count × jieba's IDF) or ``"textrank"`` (see module doc).
    """
    lex = lex or lexicon()
    if method == "textrank":
        ranked = textrank_scores(words, lex)
    elif method == "tfidf":
        counts = Counter(w for w in words if is_candidate(w, lex))
        ranked = {w: n * lex.idf.get(w, lex.median_idf) for w, n in counts.items()}
    else:
        raise ValueError(f"unknown keyword method {method!r}: use 'tfidf' or 'textrank'")
    scored = sorted(ranked.items(), key=lambda kv: (-kv[1], kv[0]))
    out: list[str] = []
    for tag in hashtags:
        if tag not in out:
            out.append(tag)
    for w, _ in scored:
        if len(out) >= top_k:
            break
        if w not in out:
            out.append(w)
    return out[:top_k]
