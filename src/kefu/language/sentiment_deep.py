"""Deep sentiment: a head on the pretrained encoder's plain pooled vector (encoder.py).

The shipped model (``models/sentiment_head.npz``) is logistic regression over the standardised
mean-pooled output of multilingual-e5-small **without adapters**, the very vector the social
emotion head reads (kefu.social.emotion): a social post is encoded once and both heads read it
(``Analysis.pooled``). It is trained only on our own sentences (training.py:
``data/sentiment_own.csv`` and the social emotion posts mapped to polarity), so it may be
shipped; weibo2018 (research-only) only scores it.

It reads Weibo-length posts better than the bag-of-words model (docs/models/sentiment.md) but
costs milliseconds per post, so ``analyze`` uses it for longer texts only
(``sentiment.DEEP_MIN_CHARS``) and SMS commands stay on the fast model.

``DeepSentiment`` (LoRA adapters merged into the encoder, trained with torch by
training_deep.py) is no longer shipped — the file we had was trained on weibo2018 — but a bank
may train adapters on its own data (``kefu language train --data DIR --adapters``); when its
``KEFU_MODELS_DIR`` holds ``sentiment_deep.npz`` those adapters answer instead of the head
(and cost a forward pass of their own).
"""

from __future__ import annotations

import json
import logging
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from kefu.language import encoder as enc
from kefu.language.resources import MODELS_DIR, load_once, model_path

HEAD_MODEL = MODELS_DIR / "sentiment_head.npz"
# A bank's own adapters (never shipped); see the module doc.
DEEP_MODEL = MODELS_DIR / "sentiment_deep.npz"
BATCH = 16
# The pooled vector reads the first 64 pieces of a text (with <s> and </s>): feeling is stated
# early, most posts are shorter (Weibo posts average 57 pieces) and the cost of a forward pass
# grows with length. The social emotion head reads the same vector (it shares this constant).
POOL_TOKENS = 64
# What the heads read; stored in their meta and checked at load.
FEATURES = f"multilingual-e5-small mean-pooled, no adapters, first {POOL_TOKENS} pieces"
log = logging.getLogger(__name__)


def pooled_vectors(
    texts: list[str], weights: enc.PackedWeights | None = None, batch: int = BATCH
) -> np.ndarray:
    """The plain encoder's mean-pooled vector of each text (first ``POOL_TOKENS`` pieces),
    computed by the process's one shared encoder unless ``weights`` names another (tests,
    training on a given file). Raises ``EncoderUnavailable`` without the weights."""
    if weights is None:
        encoder, tokenizer = enc.shared_base_encoder(), enc.shared_tokenizer()
    else:
        encoder, tokenizer = enc.Encoder(weights), enc.Tokenizer(weights)
    seqs = tokenizer.encode_batch(texts, POOL_TOKENS)
    out = np.zeros((len(seqs), encoder.config.hidden), dtype=np.float32)
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    for start in range(0, len(order), batch):
        chunk = order[start : start + batch]
        out[chunk] = encoder.pooled([seqs[i] for i in chunk])
    return out


def binary_positive(probs: np.ndarray, classes: tuple[str, ...]) -> np.ndarray:
    """P(positive) on the two-way scale the fusion uses: ``(1 + P(pos) − P(neg)) / 2``.

    For a two-class model that is P(positive) itself; a three-class model (ours has
    ``neutral``) puts a neutral text near 0.5, i.e. polarity near 0."""
    pos = probs[..., classes.index("positive")]
    neg = probs[..., classes.index("negative")]
    return ((1.0 + pos - neg) / 2.0).astype(np.float32)


class SentimentHead:
    """Logistic regression over the standardised plain pooled vector."""

    def __init__(self, path: Path = HEAD_MODEL, weights: enc.PackedWeights | None = None):
        if not path.is_file():
            raise enc.EncoderUnavailable(f"{path} not found (kefu language train)")
        try:
            with np.load(path) as npz:
                self.coef = npz["coef"].astype(np.float32)
                self.intercept = npz["intercept"].astype(np.float32)
                self.mean = npz["mean"].astype(np.float32)
                self.scale = npz["scale"].astype(np.float32)
                self.meta: dict[str, Any] = json.loads(npz["__meta__"].tobytes())
            self.classes = tuple(self.meta["classes"])
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            raise enc.EncoderUnavailable(f"{path} is not usable: {exc!r}") from exc
        if self.meta.get("features") != FEATURES:
            raise enc.EncoderUnavailable(
                f"{path} was trained on other features ({self.meta.get('features')}): retrain it"
            )
        if {"positive", "negative"} - set(self.classes):
            raise enc.EncoderUnavailable(f"{path} has no positive/negative classes")
        self.weights = weights

    def proba(self, pooled: np.ndarray) -> np.ndarray:
        """Class probabilities (columns: ``classes``) of pooled vectors."""
        z = ((pooled - self.mean) / self.scale) @ self.coef.T + self.intercept
        if z.shape[-1] == 1:  # scikit-learn's two-class form: one column for classes[1]
            z = np.concatenate([np.zeros_like(z), z], axis=-1)
        z -= z.max(-1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(-1, keepdims=True)

    def positive_pooled(self, pooled: np.ndarray) -> np.ndarray:
        """P(positive) (two-way scale, see ``binary_positive``) of pooled vectors."""
        return binary_positive(self.proba(pooled.reshape(-1, self.mean.shape[0])), self.classes)

    def positive(self, texts: list[str]) -> np.ndarray:
        """P(positive) of each text (texts prepared as ``training.sentiment_text``)."""
        if not texts:
            return np.zeros(0, dtype=np.float32)
        return self.positive_pooled(pooled_vectors(texts, self.weights))


class DeepSentiment:
    def __init__(self, adapters: Path = DEEP_MODEL, weights: enc.PackedWeights | None = None):
        if not adapters.is_file():
            raise enc.EncoderUnavailable(f"{adapters} not found (kefu language train)")
        weights = weights or enc.read_weights()
        try:
            with np.load(adapters) as npz:
                arrays = {k: npz[k] for k in npz.files}
            self.meta: dict[str, Any] = json.loads(arrays.pop("__meta__").tobytes())
            scale = float(self.meta["alpha"]) / int(self.meta["rank"])
            with enc.one_blas_thread():
                layers = self._merge(weights, arrays, scale)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            # A truncated or foreign file, or adapters for another encoder (shapes differ).
            raise enc.EncoderUnavailable(f"{adapters} is not usable: {exc!r}") from exc
        self.encoder = enc.Encoder(weights, layers)
        self.tokenizer = enc.Tokenizer(weights)
        self.head_w = arrays["head.w"]
        self.head_b = arrays["head.b"]

    @staticmethod
    def _merge(
        weights: enc.PackedWeights, arrays: dict[str, np.ndarray], scale: float
    ) -> list[enc.Layer]:
        """Base weights plus ``scale·B·A`` per projection; the adapters' layer norms."""
        layers = []
        for i in range(weights.config.layers):
            base = weights.layer(i)
            merged: dict[str, np.ndarray] = {}
            for name in enc.PROJECTIONS:
                a = arrays[f"l{i}.{name}.A"].astype(np.float32)
                b = arrays[f"l{i}.{name}.B"].astype(np.float32)
                merged[name] = getattr(base, name) + scale * (b @ a)
            for name in enc.LAYER_NORMS:
                merged[f"{name}_w"] = arrays[f"l{i}.{name}.w"]
                merged[f"{name}_b"] = arrays[f"l{i}.{name}.b"]
            layers.append(replace(base, **merged))
        return layers

    def positive(self, texts: list[str]) -> np.ndarray:
        """P(positive) of each text (texts prepared as ``training.sentiment_text``)."""
        if not texts:
            return np.zeros(0, dtype=np.float32)
        seqs = self.tokenizer.encode_batch(texts)
        order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
        out = np.zeros(len(seqs), dtype=np.float32)
        for start in range(0, len(order), BATCH):
            chunk = order[start : start + BATCH]
            pooled = self.encoder.pooled([seqs[i] for i in chunk])
            logits = pooled @ self.head_w.T + self.head_b
            logits -= logits.max(-1, keepdims=True)
            probs = np.exp(logits)
            out[chunk] = probs[:, 1] / probs.sum(-1)
        return out


@load_once
def deep_sentiment() -> SentimentHead | DeepSentiment | None:
    """The deep model that serves: a bank's own adapters where ``KEFU_MODELS_DIR`` holds
    them, else the head (the bank's or the shipped one); None where the encoder's weights are
    not installed (the fast model then answers alone; ``kefu language eval`` says which ran)."""
    try:
        adapters = model_path(DEEP_MODEL.name)
        if adapters.is_file():
            return DeepSentiment(adapters)
        enc.read_weights()  # the encoder must be there for the head to be of use
        return SentimentHead(model_path(HEAD_MODEL.name))
    except enc.EncoderUnavailable as exc:
        log.warning("deep sentiment model unavailable, the fast model answers alone: %s", exc)
        return None
