"""Word segmentation: jieba with a trimmed core dictionary plus the bank dictionary.

jieba's full dictionary (349k words) costs about a second to load on our 2-core servers, which
alone would break the 1.5 s start-up budget. ``data/jieba_core.txt`` keeps jieba's 60k most
frequent words (with their part-of-speech tag and jieba's IDF weight as extra columns), which
segments service messages the same way in practice and loads in a fraction of the time;
``data/bank_dict.txt`` keeps bank terms (信用卡, 最低还款, 挂失 …) whole. Part-of-speech comes
from a dictionary lookup instead of ``jieba.posseg``, whose import alone re-reads the full
dictionary.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import jieba

from kefu.language.normalize import normalize, strip_markup
from kefu.language.resources import DATA_DIR, load_once, read_lines

CORE_DICT = DATA_DIR / "jieba_core.txt"
BANK_DICT = DATA_DIR / "bank_dict.txt"
STOPWORDS = DATA_DIR / "stopwords.txt"

_PUNCT_OR_SPACE = re.compile(r"^[\W_]+$")
_NUMBER = re.compile(r"^[\d.,%]+$")
_LATIN = re.compile(r"^[a-z][a-z0-9]*$")


@dataclass(frozen=True)
class Lexicon:
    """A loaded segmenter with the per-word facts keyword extraction needs."""

    segmenter: jieba.Tokenizer
    tags: dict[str, str]
    idf: dict[str, float]
    median_idf: float
    stopwords: frozenset[str]


@load_once
def lexicon() -> Lexicon:
    jieba.setLogLevel(logging.WARNING)
    seg = jieba.Tokenizer(dictionary=str(CORE_DICT))
    seg.initialize()
    tags: dict[str, str] = {}
    idf: dict[str, float] = {}
    with CORE_DICT.open(encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) >= 3:
                tags[parts[0]] = parts[2]
            if len(parts) >= 4:
                idf[parts[0]] = float(parts[3])
    for line in read_lines(BANK_DICT):
        word, freq, tag = line.split()
        seg.add_word(word, int(freq), tag)
        tags[word] = tag
    # Bank terms are exactly what keywords should surface: give them a high IDF.
    values = sorted(idf.values())
    median = values[len(values) // 2] if values else 10.0
    for line in read_lines(BANK_DICT):
        idf.setdefault(line.split()[0], values[int(len(values) * 0.9)] if values else 12.0)
    return Lexicon(seg, tags, idf, median, frozenset(read_lines(STOPWORDS)))


def tag_of(word: str, lex: Lexicon | None = None) -> str:
    """Dictionary part-of-speech (jieba's ICTCLAS-style tags); ``m`` numbers, ``eng`` Latin,
    ``x`` punctuation, ``un`` unknown (usually a new word found by jieba's HMM)."""
    lex = lex or lexicon()
    tag = lex.tags.get(word)
    if tag:
        return tag
    if _NUMBER.match(word):
        return "m"
    if _LATIN.match(word):
        return "eng"
    if _PUNCT_OR_SPACE.match(word):
        return "x"
    return "un"


def cut(text: str, *, hmm: bool = True) -> list[str]:
    """Segment already-normalised plain text into words, dropping spaces and punctuation."""
    seg = lexicon().segmenter
    return [w for w in seg.cut(text, HMM=hmm) if w.strip() and not _PUNCT_OR_SPACE.match(w)]


def tokenize(text: str, *, stopwords: bool = True) -> list[str]:
    """Words of a raw message: normalised, markup removed (emoji, [表情], @用户 are not
    words), optionally without stopwords."""
    plain = strip_markup(normalize(text)).text
    words = cut(plain)
    if stopwords:
        stop = lexicon().stopwords
        words = [w for w in words if w not in stop]
    return words
