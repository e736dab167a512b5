"""Dense retrieval: every FAQ question embedded by the shipped encoder, searched exactly.

Words are not enough to find a paraphrase: "信用卡怎么提额" and "信用卡额度怎么提升" share two
words, "卡丢了" and "挂失" none. The package already ships a pretrained sentence encoder
(multilingual-e5-small, MIT; ``kefu.language.encoder``), so each published question is embedded
once and a query is compared with all of them by one matrix-vector product.

Cost model (docs/knowledge.md, "Measured"): encoding is the expensive part — one BERT forward
pass, tens of milliseconds for a question on one core — so

* FAQ embeddings are cached by the hash of (model, text): in memory, in a file shipped for the
  demo base (``data/demo_embeddings.npz``) and in an append-only file on disk
  (``KEFU_KNOWLEDGE_EMBEDDING_CACHE``), so a restart or another process never re-encodes a
  question whose text did not change, and an edited question is re-encoded because its hash
  changed;
* questions are encoded in batches of similar length (padding is wasted work);
* a query is encoded once per search and recent queries are kept (customers repeat themselves).

Search is exact: 100,000 questions × 384 float32 is 154 MB and one product over it takes a few
milliseconds (an approximate index would only pay beyond that). Dense retrieval is OFF by
default (``KEFU_KNOWLEDGE_DENSE=e5`` turns it on): it ranks better with the licence-clean
matchers, but encoding each query costs hundreds of milliseconds on a loaded core
(docs/knowledge.md, "Measured").
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from kefu.language import encoder as enc
from kefu.language.resources import load_once

log = logging.getLogger(__name__)

DIM = 384
MODEL_ID = "multilingual-e5-small-q4:mean:query"  # part of every cache key
BATCH = 32
QUERY_CACHE = 4096  # recent query embeddings kept per process
DENSE_ENV = "KEFU_KNOWLEDGE_DENSE"  # "e5" or "none" (default)
CACHE_ENV = "KEFU_KNOWLEDGE_EMBEDDING_CACHE"  # a file path, or "none"
SHIPPED_CACHE = Path(__file__).resolve().parent / "data" / "demo_embeddings.npz"
_KEY = 16  # bytes of sha256 kept as the cache key
_RECORD = _KEY + DIM * 2  # key + float16 vector


def text_key(text: str) -> bytes:
    return hashlib.sha256(f"{MODEL_ID}\0{text}".encode()).digest()[:_KEY]


def _normalised(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.where(norms == 0, 1, norms)).astype(np.float32)


class EmbeddingCache:
    """Content-addressed question embeddings: a read-only shipped table plus an append-only
    file of float16 records (key, vector). Appends are single ``write`` calls on a file opened
    with O_APPEND, so processes sharing the file do not interleave records."""

    def __init__(self, path: Path | None, shipped: Path | None = SHIPPED_CACHE) -> None:
        self.path = path
        self._vectors: dict[bytes, np.ndarray] = {}
        self._lock = threading.Lock()
        if shipped is not None and shipped.is_file():
            with np.load(shipped) as npz:
                keys, vectors = npz["keys"], npz["vectors"]
            self._vectors.update(zip((bytes(k) for k in keys), vectors, strict=True))
        self._read_file()

    def _read_file(self) -> None:
        if self.path is None or not self.path.is_file():
            return
        raw = self.path.read_bytes()
        whole = len(raw) - len(raw) % _RECORD  # a torn last record (crash mid-write) is skipped
        records = np.frombuffer(raw[:whole], dtype=np.uint8).reshape(-1, _RECORD)
        for row in records:
            self._vectors[row[:_KEY].tobytes()] = row[_KEY:].view(np.float16)

    def __len__(self) -> int:
        return len(self._vectors)

    def get(self, key: bytes) -> np.ndarray | None:
        return self._vectors.get(key)

    def put_many(self, keys: Sequence[bytes], vectors: np.ndarray) -> None:
        half = vectors.astype(np.float16)
        with self._lock:
            for key, vec in zip(keys, half, strict=True):
                self._vectors[key] = vec
            if self.path is None:
                return
            blob = b"".join(k + v.tobytes() for k, v in zip(keys, half, strict=True))
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                try:
                    os.write(fd, blob)
                finally:
                    os.close(fd)
            except OSError as exc:  # a read-only disk costs re-encoding later, nothing else
                log.warning("embedding cache %s not written: %s", self.path, exc)

    def save_shipped(self, path: Path, keys: Sequence[bytes]) -> None:
        """Write the table shipped with the package (only the given keys)."""
        arr = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(-1, _KEY)
        vectors = np.stack([self._vectors[k] for k in keys]).astype(np.float16)
        np.savez_compressed(path, keys=arr, vectors=vectors)


def default_cache_path(environ: dict[str, str] | None = None) -> Path | None:
    env = os.environ if environ is None else environ
    spec = env.get(CACHE_ENV, "").strip()
    if spec == "none":
        return None
    if spec:
        return Path(spec)
    base = Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "kefu" / "knowledge-embeddings.bin"


class TextEmbedder:
    """Unit-length sentence embeddings from the pretrained encoder (no adapters: e5 was
    trained for exactly this, similar texts close in cosine)."""

    def __init__(self, cache: EmbeddingCache | None = None) -> None:
        self.tokenizer = enc.shared_tokenizer()
        self.encoder = enc.shared_base_encoder()
        self.cache = cache if cache is not None else EmbeddingCache(default_cache_path())
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._qlock = threading.Lock()
        self.encoded = 0  # texts actually run through the encoder (tests and benchmarks read it)

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        """The forward pass, in batches of similar length."""
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        if not texts:
            return out
        seqs = self.tokenizer.encode_batch(list(texts))
        order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
        for start in range(0, len(order), BATCH):
            chunk = order[start : start + BATCH]
            out[chunk] = self.encoder.pooled([seqs[i] for i in chunk])
        self.encoded += len(texts)
        return _normalised(out)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of FAQ questions, through the cache."""
        keys = [text_key(t) for t in texts]
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        missing: dict[bytes, list[int]] = {}
        for i, key in enumerate(keys):
            vec = self.cache.get(key)
            if vec is None:
                missing.setdefault(key, []).append(i)
            else:
                out[i] = vec
        if missing:
            todo = [texts[rows[0]] for rows in missing.values()]
            vectors = self._encode(todo)
            self.cache.put_many(list(missing), vectors)
            for rows, vec in zip(missing.values(), vectors, strict=True):
                out[rows] = vec.astype(np.float16)  # the precision every cached vector has
        return _normalised(out)

    def embed_query(self, text: str) -> np.ndarray:
        with self._qlock:
            hit = self._queries.get(text)
            if hit is not None:
                self._queries.move_to_end(text)
                return hit
        cached = self.cache.get(text_key(text))  # asked exactly as an FAQ question is written
        vec = cached.astype(np.float32) if cached is not None else self._encode([text])[0]
        with self._qlock:
            self._queries[text] = vec
            if len(self._queries) > QUERY_CACHE:
                self._queries.popitem(last=False)
        return vec


@load_once
def encoder_embedder() -> TextEmbedder | None:
    """The process's embedder whatever the serving switch (training and evaluation use it), or
    None where the encoder's weights are missing."""
    try:
        return TextEmbedder()
    except enc.EncoderUnavailable as exc:
        log.warning("dense retrieval unavailable, the encoder is missing: %s", exc)
        return None


def shipped_embedder() -> TextEmbedder | None:
    """The embedder the index serves with, or None when dense retrieval is off (the default:
    encoding a query costs far more than the rest of a search — docs/knowledge.md) or the
    weights are missing: BM25 and the lexical matcher then rank alone.
    ``KEFU_KNOWLEDGE_DENSE=e5`` turns it on."""
    if os.environ.get(DENSE_ENV, "none").strip() != "e5":
        return None
    return encoder_embedder()


class DenseIndex:
    """Exact inner-product search over unit vectors, one row per question.

    Rows are appended into spare capacity and retired by a mask, so publishing or retiring an
    entry costs its own questions only; when half the rows are dead the live ones are
    compacted. ``int8`` stores rows as int8 with one scale per row (a quarter of the memory;
    the product is then computed in float32 blocks)."""

    def __init__(self, *, int8: bool = False) -> None:
        self.int8 = int8
        self._dtype = np.int8 if int8 else np.float32
        self._rows = np.zeros((0, DIM), dtype=self._dtype)
        self._scale = np.zeros(0, dtype=np.float32)
        self._owner = np.zeros(0, dtype=np.int64)  # entry id per row
        self._alive = np.zeros(0, dtype=bool)
        self._n = 0
        self._by_entry: dict[int, np.ndarray] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return sum(len(r) for r in self._by_entry.values())

    @property
    def nbytes(self) -> int:
        return self._rows.nbytes + self._scale.nbytes + self._owner.nbytes + self._alive.nbytes

    def _quantised(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not self.int8:
            return vectors.astype(np.float32), np.ones(len(vectors), dtype=np.float32)
        scale = np.abs(vectors).max(axis=1) / 127.0
        scale = np.where(scale == 0, 1.0, scale).astype(np.float32)
        return np.round(vectors / scale[:, None]).astype(np.int8), scale

    def build(self, owners: Sequence[int], vectors: np.ndarray) -> None:
        rows, scale = self._quantised(vectors)
        owner = np.asarray(owners, dtype=np.int64)
        by_entry: dict[int, list[int]] = {}
        for i, e in enumerate(owner.tolist()):
            by_entry.setdefault(e, []).append(i)
        with self._lock:
            self._rows, self._scale, self._owner = rows, scale, owner
            self._alive = np.ones(len(owner), dtype=bool)
            self._n = len(owner)
            self._by_entry = {e: np.array(r, dtype=np.int64) for e, r in by_entry.items()}

    def upsert(self, entry_id: int, vectors: np.ndarray) -> None:
        rows, scale = self._quantised(vectors)
        with self._lock:
            self._retire(entry_id)
            need = self._n + len(rows)
            if need > len(self._rows):
                self._grow(max(need, 2 * len(self._rows), 64))
            start = self._n
            # Rows past the old count are invisible to searches that started before: a search
            # reads ``_n`` once. Fill them first, then publish the new count.
            self._rows[start:need] = rows
            self._scale[start:need] = scale
            self._owner[start:need] = entry_id
            self._alive[start:need] = True
            self._n = need
            self._by_entry[entry_id] = np.arange(start, need)
            if self._n > 1024 and self._alive[: self._n].sum() < self._n // 2:
                self._compact()

    def remove(self, entry_id: int) -> None:
        with self._lock:
            self._retire(entry_id)

    def _retire(self, entry_id: int) -> None:
        old = self._by_entry.pop(entry_id, None)
        if old is not None:
            self._alive[old] = False

    def _grow(self, capacity: int) -> None:
        # New arrays (copy-on-write): a search holding the old ones keeps a consistent view.
        def grown(a: np.ndarray) -> np.ndarray:
            out = np.zeros((capacity, *a.shape[1:]), dtype=a.dtype)
            out[: self._n] = a[: self._n]
            return out

        self._rows, self._scale = grown(self._rows), grown(self._scale)
        self._owner, self._alive = grown(self._owner), grown(self._alive)

    def _compact(self) -> None:
        keep = np.flatnonzero(self._alive[: self._n])
        rows, scale, owner = self._rows[keep], self._scale[keep], self._owner[keep]
        by_entry: dict[int, list[int]] = {}
        for i, e in enumerate(owner.tolist()):
            by_entry.setdefault(e, []).append(i)
        self._rows, self._scale, self._owner = rows, scale, owner
        self._alive = np.ones(len(keep), dtype=bool)
        self._n = len(keep)
        self._by_entry = {e: np.array(r, dtype=np.int64) for e, r in by_entry.items()}

    def vectors_of(self, entry_id: int) -> np.ndarray | None:
        rows = self._by_entry.get(entry_id)
        if rows is None:
            return None
        return self._rows[rows].astype(np.float32) * self._scale[rows, None]

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The ``k`` best (entry id, cosine) pairs, one per entry (its best question)."""
        n = self._n
        rows, scale, owner, alive = self._rows, self._scale, self._owner, self._alive
        if n == 0 or k <= 0:
            return []
        with enc.one_blas_thread():
            scores = _products(rows, n, query.astype(np.float32), self.int8) * scale[:n]
        scores[~alive[:n]] = -np.inf
        # Over-fetch: several questions of one entry may fill the top.
        want = min(n, 4 * k)
        top = np.argpartition(-scores, want - 1)[:want]
        best: dict[int, float] = {}
        for i in top[np.argsort(-scores[top])].tolist():
            s = float(scores[i])
            if s == -np.inf:
                break
            best.setdefault(int(owner[i]), s)
            if len(best) == k:
                break
        return list(best.items())


_BLOCK = 16384  # rows converted to float32 at a time for the int8 product


def _products(rows: np.ndarray, n: int, query: np.ndarray, int8: bool) -> np.ndarray:
    if not int8:
        return rows[:n] @ query
    out = np.empty(n, dtype=np.float32)
    for start in range(0, n, _BLOCK):
        out[start : start + _BLOCK] = (
            rows[start : min(n, start + _BLOCK)].astype(np.float32) @ query
        )
    return out
