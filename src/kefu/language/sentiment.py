"""Sentiment: negative / neutral / positive with a polarity score in [-1, 1].

A linear model over character n-grams, words and emoticons (trained on our own sentences and
posts: negative / neutral / positive) gives ``P(positive) − P(negative)``; polarity is that
difference (for a two-class model a bank trained, ``2·P(positive) − 1``: the same scale).
Longer texts (``DEEP_MIN_CHARS`` and up) are also read by the deep model (sentiment_deep.py: a
head on the pretrained encoder's pooled vector) and the two are averaged; the encoder is what
lifts Weibo posts past the bag-of-words ceiling.

Messages the models are unsure about (|polarity| < ``NEUTRAL_BAND``) are neutral, as are plain
commands ("查余额"). A small lexicon of complaint and anger words makes short angry
messages ("垃圾银行", "气死") negative whatever the model says: they are exactly the messages
a bank must not miss.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kefu.language.features import FEATURE_SETS
from kefu.language.linear import LinearTextModel
from kefu.language.resources import MODELS_DIR, load_once, model_path

MODEL_PATH = MODELS_DIR / "sentiment.joblib"
NEUTRAL_BAND = 0.3
# Polarity forced by the lexicon; strong enough to rank above the neutral band.
LEXICON_POLARITY = 0.8
COMMAND_DAMPING = 0.5
# Texts this long (characters of content) are read by the deep model too. SMS commands are
# far shorter (10.8 characters on average) and keep the microsecond path; Weibo posts average
# 80 characters. The deep model costs ~50 ms for a 40-character post on one core.
DEEP_MIN_CHARS = 20

NEGATIVE_WORDS = re.compile(
    r"垃圾|气死|投诉|举报|骗子|骗钱|坑人|太坑|坑爹|差评|恶心|太差|很差|真差|什么破|破银行|"
    r"无语|失望|愤怒|生气|火大|滚|妈的|他妈|tmd|sb|乱扣|乱收费|盗刷|欺诈|曝光|维权|"
    r"烦死|烂透|忍无可忍|太过分|过分了|不满|坑|[怒]|\[抓狂\]|\[怒\]|\[怒骂\]|\[鄙视\]"
)
POSITIVE_WORDS = re.compile(r"谢谢|感谢|多谢|点赞|好评|太棒|满意(?!度)|给力|贴心|专业|耐心|赞")
NEGATED_POSITIVE = re.compile(r"(不|没|没有|一点都不|一点也不|毫不)(满意|专业|耐心|给力|贴心)")
_CONTENT = re.compile(r"[\w\u4e00-\u9fff]")


@dataclass(frozen=True)
class Sentiment:
    label: str  # "negative" | "neutral" | "positive"
    score: float  # polarity in [-1, 1]; negative below zero

    def to_dict(self) -> dict[str, object]:
        return {"label": self.label, "score": self.score}


@load_once
def sentiment_model() -> LinearTextModel:
    return LinearTextModel.load(model_path(MODEL_PATH.name))


def positive_probability(
    text: str, words: list[str] | None = None, model: LinearTextModel | None = None
) -> float:
    """The fast model's P(positive) of sentiment-prepared text (see training), on the two-way
    scale the fusion uses: ``(1 + P(positive) − P(negative)) / 2``, which is P(positive) for a
    two-class model and puts a text the three-class model calls neutral near 0.5."""
    model = model or sentiment_model()
    probs = model.proba(FEATURE_SETS[model.feature_set](text, words))
    pos = float(probs[model.classes.index("positive")])
    neg = float(probs[model.classes.index("negative")])
    return (1.0 + pos - neg) / 2.0


def wants_deep(text: str) -> bool:
    """Whether ``text`` is long enough for the deep model (see ``DEEP_MIN_CHARS``)."""
    return len(_CONTENT.findall(text)) >= DEEP_MIN_CHARS


def fuse(fast_positive: float, deep_positive: float | None) -> float:
    """Polarity from the fast model's and (when it ran) the deep model's P(positive)."""
    p = fast_positive if deep_positive is None else (fast_positive + deep_positive) / 2.0
    return 2.0 * p - 1.0


def label_for(score: float) -> str:
    if score <= -NEUTRAL_BAND:
        return "negative"
    if score >= NEUTRAL_BAND:
        return "positive"
    return "neutral"


def analyse_sentiment(
    text: str,
    words: list[str] | None = None,
    model: LinearTextModel | None = None,
    *,
    command: bool = False,
    deep_positive: float | None = None,
) -> Sentiment:
    """Sentiment of normalised text (emoticons may be present as ``[名字]``).

    ``command``: the message is a self-service request ("我要查3月的账单"): unless the lexicon
    finds feeling words its polarity is halved, which keeps plain commands neutral.

    ``deep_positive``: the deep model's P(positive) of the same text, when the caller ran it
    (``analyze`` does for long texts; batches call ``sentiment_deep`` once for many texts).
    """
    if not _CONTENT.search(text):
        return Sentiment("neutral", 0.0)
    score = fuse(positive_probability(text, words, model), deep_positive)
    if NEGATIVE_WORDS.search(text) or NEGATED_POSITIVE.search(text):
        score = min(score, -LEXICON_POLARITY)
    elif POSITIVE_WORDS.search(text):
        score = max(score, LEXICON_POLARITY)
    elif command:
        score *= COMMAND_DAMPING
    score = round(max(-1.0, min(1.0, score)), 4)
    return Sentiment(label_for(score), score)
