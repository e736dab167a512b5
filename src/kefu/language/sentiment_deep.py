"""Deep sentiment: the pretrained encoder (encoder.py) with our trained adapters and head.

It reads Weibo-length posts better than the bag-of-words model (docs/language.md has both
figures) but costs milliseconds per post instead of microseconds, so ``analyze`` uses it for
longer texts only (``sentiment.DEEP_MIN_CHARS``) and SMS commands stay on the fast model.
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

DEEP_MODEL = MODELS_DIR / "sentiment_deep.npz"
BATCH = 16
log = logging.getLogger(__name__)


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
def deep_sentiment() -> DeepSentiment | None:
    """The shipped deep model, or None where the encoder's weights are not installed (the
    fast model then answers alone; ``kefu language eval`` says which one ran)."""
    try:
        return DeepSentiment(model_path(DEEP_MODEL.name))
    except enc.EncoderUnavailable as exc:
        log.warning("deep sentiment model unavailable, the fast model answers alone: %s", exc)
        return None
