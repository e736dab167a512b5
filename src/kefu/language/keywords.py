"""Per-message keywords: TF-IDF over jieba words with our stopwords and a POS filter.

IDF comes from jieba's corpus-wide table (kept in the core dictionary), bank terms get a high
IDF so that 信用卡 / 挂失 / 最低还款 surface, and only content-bearing parts of speech are kept:
a keyword list of 的/了/我们 helps no agent.
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


def keywords(
    words: list[str], top_k: int = 5, hashtags: tuple[str, ...] = (), lex: Lexicon | None = None
) -> list[str]:
    """Top ``top_k`` keywords of a segmented message, hashtags first (authors chose them)."""
    lex = lex or lexicon()
    counts: Counter[str] = Counter()
    for w in words:
        if len(w) < 2 or w in lex.stopwords or w.isdigit():
            continue
        tag = tag_of(w, lex)
        if tag not in KEEP_TAGS:
            continue
        if tag == "un" and (_NUMERAL.search(w) or w[0] in _FUNCTION_STARTS):
            # HMM fragments around numbers ("一万二是" → "二是") or glued to a pronoun or
            # modal ("我想查") are not words.
            continue
        if tag == "eng" and len(w) < 3:
            continue  # "td", "zd": commands, not topics
        counts[w] += 1
    scored = sorted(
        counts.items(),
        key=lambda kv: (-(kv[1] * lex.idf.get(kv[0], lex.median_idf)), kv[0]),
    )
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
