"""``analyze(text, today=...)``: everything the assistant and the social desk need from one
message, in one pass (normalise once, segment once, share the words between models)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np

from kefu.language.intents import classify, intent_model
from kefu.language.keywords import keywords
from kefu.language.normalize import normalize, strip_markup
from kefu.language.sentiment import Sentiment, analyse_sentiment, sentiment_model, wants_deep
from kefu.language.sentiment_deep import deep_sentiment, pooled_vectors
from kefu.language.slots import extract_slots
from kefu.language.tokenize import cut, lexicon

# Long posts are judged on their beginning: it bounds time and memory for a 10,000-character
# paste, and intent, slots and mood are stated early in real messages.
MAX_CHARS = 2000
# Intents whose messages are not plain self-service commands (see analyse_sentiment).
_NOT_COMMANDS = frozenset({"complaint", "greeting", "other"})


@dataclass(frozen=True)
class Analysis:
    text: str
    intent: str
    confidence: float
    slots: dict[str, Any]
    sentiment: Sentiment
    keywords: list[str]
    hashtags: tuple[str, ...] = field(default=())
    mentions: tuple[str, ...] = field(default=())
    emoticons: tuple[str, ...] = field(default=())
    # The plain encoder's pooled vector of the sentiment text, when the deep head read it:
    # kefu.social's emotion head reads the same vector instead of encoding the post again.
    pooled: np.ndarray | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON shape (``kefu language analyze`` prints exactly this)."""
        return {
            "text": self.text,
            "intent": self.intent,
            "confidence": self.confidence,
            "slots": dict(self.slots),
            "sentiment": self.sentiment.to_dict(),
            "keywords": list(self.keywords),
        }


def load_models(deep: bool = True) -> None:
    """Load dictionaries and models now (a server calls this at start-up; otherwise the first
    ``analyze`` call pays for it). Safe to call from several threads. ``deep=False`` leaves the
    deep sentiment model (the shared encoder: ~0.3 s, ~85 MB) to the first long text."""
    lexicon()
    intent_model()
    sentiment_model()
    if deep and deep_sentiment() is not None:
        pooled_vectors(["预热"])  # builds the process's one shared encoder now


def analyze(text: str, today: date | None = None, *, deep: bool | None = None) -> Analysis:
    """Intent, slots, sentiment and keywords of one message. ``today`` anchors relative months
    ("上个月"); it defaults to the local date.

    ``deep``: read the sentiment with the deep model too: ``None`` (default) for texts of
    ``sentiment.DEEP_MIN_CHARS`` characters and up, ``True`` always, ``False`` never. Where
    the deep model's weights are not installed, the fast model answers alone.
    """
    today = today or date.today()
    markup = strip_markup(normalize(text[: MAX_CHARS * 2]))
    plain = markup.text[:MAX_CHARS]
    words = cut(plain)
    intent = classify(plain, words)
    # Sentiment sees emoticons as [名字] tokens, exactly as in training (training.sentiment_text).
    emo = [f"[{e}]" for e in markup.emoticons]
    sent_text = " ".join([plain, *emo]).strip()
    sent_words = words + [w for e in markup.emoticons for w in cut(e)]
    deep_positive = None
    pooled = None
    if deep or (deep is None and wants_deep(plain)):
        model = deep_sentiment()
        if model is not None and hasattr(model, "positive_pooled"):
            # The head reads the plain encoder's vector: keep it for the caller (one pass).
            pooled = pooled_vectors([sent_text])[0]
            deep_positive = float(model.positive_pooled(pooled)[0])
        elif model is not None:  # a bank's adapters: their own forward pass
            deep_positive = float(model.positive([sent_text])[0])
    return Analysis(
        text=text,
        intent=intent.intent,
        confidence=intent.confidence,
        slots=extract_slots(plain, today),
        sentiment=analyse_sentiment(
            sent_text,
            sent_words,
            command=intent.intent not in _NOT_COMMANDS,
            deep_positive=deep_positive,
        ),
        keywords=keywords(words, hashtags=markup.hashtags),
        hashtags=markup.hashtags,
        mentions=markup.mentions,
        emoticons=markup.emoticons,
        pooled=pooled,
    )
