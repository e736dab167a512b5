"""Training the deep sentiment adapters (torch) on the tiny synthetic encoder, and serving
the result with numpy: the two forward passes must agree."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from kefu.language import encoder as enc
from kefu.language.sentiment_deep import DeepSentiment

from .test_sentiment_deep import tiny_model

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("torch") is None,
    reason="torch is not installed (pip install torch==2.13.0; .ci/run installs it)",
)

TEXTS = ["你好银行", "银行你好", "你好你好", "银行银行银行", "你好 银行", "银行 你好 你好"] * 4
LABELS = ["positive", "negative", "positive", "negative", "positive", "negative"] * 4


def test_numpy_serving_reproduces_the_trained_torch_model(tmp_path: Path) -> None:
    from kefu.language.training_deep import train_deep_sentiment

    weights_file = tmp_path / "tiny.bin"
    weights_file.write_bytes(tiny_model())
    out = tmp_path / "adapters.npz"
    messages: list[str] = []
    result = train_deep_sentiment(
        TEXTS, LABELS, TEXTS[:6], out=out, epochs=2, progress=messages.append,
        weights_file=weights_file,
    )  # fmt: skip
    assert out.is_file()
    assert messages and "step" in messages[-1]
    meta = result["meta"]
    assert meta["reference_texts"] == TEXTS[:6]
    # Training moved the adapters away from their start (B starts at zero).
    assert any(np.abs(a).max() > 0 for k, a in result["arrays"].items() if k.endswith(".B"))

    model = DeepSentiment(out, weights=enc.read_weights(weights_file))
    served = model.positive(meta["reference_texts"])
    assert np.abs(served - np.array(meta["reference_positive"])).max() < 1e-4


def test_training_is_repeatable(tmp_path: Path) -> None:
    from kefu.language.training_deep import train_deep_sentiment

    weights_file = tmp_path / "tiny.bin"
    weights_file.write_bytes(tiny_model())
    runs = [
        train_deep_sentiment(
            TEXTS, LABELS, TEXTS[:6], out=None, epochs=1, progress=lambda m: None,
            weights_file=weights_file,
        )["meta"]["reference_positive"]
        for _ in range(2)
    ]  # fmt: skip
    assert runs[0] == runs[1]


def test_numpy_and_torch_forward_passes_agree_with_random_adapters(tmp_path: Path) -> None:
    """Adapters, norms and head set at random (large enough to move every probability away
    from 0.5), so any difference between the two passes shows."""
    import torch

    from kefu.language.training_deep import ALPHA, RANK, _batch, build_model, export_arrays, save

    weights = enc.PackedWeights(tiny_model())
    model = build_model(weights)
    torch.manual_seed(3)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.normal_(0, 0.5)
            if name.endswith((".A", ".B")):  # stored as float16: round them here too
                p.copy_(p.half().float())
    model.eval()
    tok = enc.Tokenizer(weights)
    with torch.inference_mode():
        expected = model(*_batch(weights, tok.encode_batch(TEXTS[:6]))).softmax(-1)[:, 1].numpy()
    assert np.abs(expected - 0.5).min() > 0.01
    out = tmp_path / "adapters.npz"
    save(out, export_arrays(model), {"alpha": ALPHA, "rank": RANK})
    served = DeepSentiment(out, weights=weights).positive(TEXTS[:6])
    assert np.abs(served - expected).max() < 1e-5
