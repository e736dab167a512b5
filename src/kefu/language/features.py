"""Feature functions shared by training (inside scikit-learn's TfidfVectorizer) and serving
(inside :class:`kefu.language.linear.LinearTextModel`). A model file records the name of its
feature set, so a model can never be served with features it was not trained on.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from kefu.language.resources import DATA_DIR, load_once
from kefu.language.tokenize import cut, lexicon, tag_of

_DIGITS = re.compile(r"\d")
RADICALS = DATA_DIR / "radicals.txt"


@load_once
def radicals() -> dict[str, str]:
    """Kangxi radical number of each CJK character (``data/radicals.txt``, from Unicode's
    Unihan ``kRSUnicode``; rebuilt by ``kefu language train --radicals``)."""
    table: dict[str, str] = {}
    with RADICALS.open(encoding="utf-8") as fh:
        for line in fh:
            char, _, radical = line.rstrip("\n").partition("\t")
            if radical:
                table[char] = radical
    return table


def _char_ngrams(text: str, sizes: tuple[int, ...]) -> list[str]:
    # Digits collapse to 0: "3月" and "11月" should share evidence; '^'/'$' mark the ends,
    # which matters for one-word commands ("额度" alone vs "额度" inside a complaint).
    s = "^" + _DIGITS.sub("0", text) + "$"
    return [s[i : i + n] for n in sizes for i in range(len(s) - n + 1)]


def intent_features(text: str, words: list[str] | None = None) -> list[str]:
    """Char 1–3-grams, radicals, words, word rarity × length, dictionary POS, first/last
    characters.

    Rarity and POS give the linear model a little world knowledge: a rare two-character noun
    is more likely a name (a stock, a song, a disease) than a command word. So do radicals:
    a character never seen in training still tells its family (疒 illness: 疸 癜 疹; 钅 metal;
    氵 water), which is how a reader guesses an unknown disease name.
    """
    text = text[:2000]  # intents live in the first lines; bounds the cost of 10k-char posts
    feats = _char_ngrams(text, (1, 2, 3))
    rad = radicals()
    # Characters without a radical count as digits ("d") or other ("x": Latin, punctuation).
    feats += ["R:" + rad.get(ch, "d" if ch.isdigit() else "x") for ch in text]
    lex = lexicon()
    for w in words if words is not None else cut(text):
        feats.append("W:" + w)
        freq = lex.segmenter.FREQ.get(w, 0)
        feats.append(f"F:{min(int(math.log10(freq + 1)), 5)}_{min(len(w), 4)}")
        feats.append("T:" + tag_of(w, lex))
    feats += ["P:" + text[:2], "S:" + text[-2:], "P1:" + text[:1], "S1:" + text[-1:]]
    feats.append(f"L:{min(len(text) // 3, 8)}")
    return feats


def sentiment_features(text: str, words: list[str] | None = None) -> list[str]:
    """Char 1–3-grams plus words and word bigrams; emoticons arrive as ``[名字]`` tokens."""
    text = text[:3000]
    feats = _char_ngrams(text, (1, 2, 3))
    ws = words if words is not None else cut(text)
    feats += ["W:" + w for w in ws]
    feats += ["B:" + a + "_" + b for a, b in zip(ws, ws[1:], strict=False)]
    return feats


FEATURE_SETS: dict[str, Callable[..., list[str]]] = {
    "intent": intent_features,
    "sentiment": sentiment_features,
}
