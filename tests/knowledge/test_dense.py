"""Dense retrieval: the embedding cache, the exact index, fusion with BM25, and retraining.

Most tests use a stand-in embedder (hashed character vectors) so they run in milliseconds and
assert exact behaviour; one runs the shipped encoder on a handful of sentences through
``kefu knowledge train --pairs``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from kefu.cli import app
from kefu.knowledge import dense as dense_module
from kefu.knowledge.dense import DIM, DenseIndex, EmbeddingCache, text_key
from kefu.knowledge.index import IndexedEntry, KnowledgeIndex, fuse
from kefu.knowledge.matcher import MatcherModel, shipped_matcher
from kefu.knowledge.pairs import read_pairs

FIXTURES = Path(__file__).parent / "fixtures"


def _unit(rng_seed: str) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(rng_seed.encode()).digest()[:8], "little")
    v = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    return v / np.linalg.norm(v)


class CharEmbedder:
    """Stand-in for TextEmbedder: the mean of per-character random vectors, so texts sharing
    characters are close; counts what it encodes."""

    class _Cfg:
        hidden = DIM

    class _Enc:
        config = None

    def __init__(self) -> None:
        self.encoder = self._Enc()
        self.encoder.config = self._Cfg()  # type: ignore[assignment]
        self.encoded: list[str] = []

    def _one(self, text: str) -> np.ndarray:
        v = np.sum([_unit(c) for c in text] or [_unit("")], axis=0)
        return (v / np.linalg.norm(v)).astype(np.float32)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.encoded.extend(texts)
        return np.array([self._one(t) for t in texts]).reshape(-1, DIM)

    def embed_query(self, text: str) -> np.ndarray:
        return self._one(text)


def _entry(entry_id: int, question: str, *paraphrases: str, version: int = 1) -> IndexedEntry:
    return IndexedEntry(entry_id=entry_id, version=version, kind="faq", question=question,
                        paraphrases=paraphrases, answers={"sms": question})  # fmt: skip


def test_cache_is_keyed_by_content_survives_restart_and_skips_a_torn_record(
    tmp_path: Path,
) -> None:
    path = tmp_path / "cache.bin"
    cache = EmbeddingCache(path, shipped=None)
    a, b = _unit("a"), _unit("b")
    cache.put_many([text_key("信用卡怎么提额"), text_key("卡丢了")], np.stack([a, b]))
    with path.open("ab") as fh:  # a crash in the middle of the next append
        fh.write(b"\x01" * 100)
    again = EmbeddingCache(path, shipped=None)
    assert len(again) == 2
    assert np.allclose(again.get(text_key("信用卡怎么提额")), a, atol=1e-3)  # type: ignore[arg-type]
    # An edited question has another key: it is re-encoded, never served the old vector.
    assert again.get(text_key("信用卡怎么提升额度")) is None


def test_shipped_cache_covers_the_demo_base() -> None:
    from kefu.knowledge.matcher import prepare
    from kefu.knowledge.training import DEMO_FAQ, faq_questions

    cache = EmbeddingCache(None)
    texts = {prepare(q).text for qs in faq_questions(DEMO_FAQ) for q in qs}
    assert all(cache.get(text_key(t)) is not None for t in texts)


def test_embedder_encodes_each_text_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []

    class Fake(dense_module.TextEmbedder):
        def __init__(self, cache: EmbeddingCache) -> None:  # no encoder needed
            self.cache = cache
            self._queries = dense_module.OrderedDict()
            self._qlock = dense_module.threading.Lock()
            self.encoded = 0

        def _encode(self, texts: Sequence[str]) -> np.ndarray:
            calls.append(list(texts))
            return np.stack([_unit(t) for t in texts])

    embedder = Fake(EmbeddingCache(tmp_path / "c.bin", shipped=None))
    first = embedder.embed(["甲", "乙", "甲"])
    assert calls == [["甲", "乙"]] and np.allclose(first[0], first[2])
    embedder.embed(["乙", "丙"])
    assert calls[-1] == ["丙"]
    # Another process (a new cache object on the same file) encodes nothing again.
    other = Fake(EmbeddingCache(tmp_path / "c.bin", shipped=None))
    other.embed(["甲", "乙", "丙"])
    assert len(calls) == 2
    # A query asked exactly like a cached question reads the cache.
    other.embed_query("乙")
    assert len(calls) == 2


@pytest.mark.parametrize("int8", [False, True], ids=["float32", "int8"])
def test_dense_index_updates_incrementally(int8: bool) -> None:
    index = DenseIndex(int8=int8)
    index.build([1, 1, 2], np.stack([_unit("a"), _unit("b"), _unit("c")]))
    assert index.search(_unit("c"), 1)[0][0] == 2
    index.upsert(3, np.stack([_unit("d")]))
    assert index.search(_unit("d"), 1)[0][0] == 3
    index.upsert(2, np.stack([_unit("e")]))  # a new version replaces the old rows
    assert all(not (e == 2 and s > 0.9) for e, s in index.search(_unit("c"), 3))
    assert index.search(_unit("e"), 1)[0] == (2, pytest.approx(1.0, abs=0.02))
    index.remove(1)
    assert 1 not in {e for e, _ in index.search(_unit("a"), 5)}
    assert len(index) == 2


def test_dense_index_compacts_when_half_is_retired() -> None:
    index = DenseIndex()
    for i in range(1500):
        index.upsert(i, np.stack([_unit(str(i))]))
    for i in range(1000):
        index.remove(i)
    index.upsert(5000, np.stack([_unit("x")]))
    assert index._n < 1500 and len(index) == 501  # noqa: SLF001 - the compaction itself
    assert index.search(_unit("1499"), 1)[0][0] == 1499


def test_fusion_rewards_agreement() -> None:
    assert fuse([[1, 2, 3], [3, 4]], 10)[0] == 3
    assert fuse([[1, 2], []], 1) == [1]


def test_hybrid_index_finds_by_meaning_and_follows_publish_and_retire(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kefu.knowledge import index as index_module

    # The stand-in's cosines are lower than e5's; the floor is scaled to them.
    monkeypatch.setattr(index_module, "DENSE_FLOOR", 0.5)
    embedder = CharEmbedder()
    index = KnowledgeIndex(matcher=shipped_matcher(), embedder=embedder)  # type: ignore[arg-type]
    index.build([_entry(1, "信用卡额度怎么提升"), _entry(2, "银行卡密码忘了怎么办")])
    assert len(embedder.encoded) == 2 and len(index.dense_index) == 2
    # "提额" shares no BM25 word with "额度怎么提升"; the dense side proposes it too.
    assert index.search("信用卡怎么提额")[0].entry.entry_id == 1
    assert index.search("额提")[0].entry.entry_id == 1  # no shared word at all: dense only
    index.upsert(_entry(3, "附近的网点在哪里"))
    assert index.search("附近的网点在哪里")[0].entry.entry_id == 3
    index.remove(3)
    assert all(h.entry.entry_id != 3 for h in index.search("附近的网点在哪里"))
    assert index.search("！！！") == []


def test_a_cosine_matcher_needs_an_embedder() -> None:
    dense_matcher = replace(shipped_matcher(), meta={"cosine": True})
    with pytest.raises(ValueError, match="embedder"):
        KnowledgeIndex(matcher=dense_matcher, dense=False)


def test_train_command_retrains_from_a_pairs_file(tmp_path: Path) -> None:
    """The end-to-end retraining path a bank follows, with the real encoder, on 12 pairs."""
    runner = CliRunner()
    out = runner.invoke(app, ["knowledge", "train", "--pairs", str(FIXTURES / "pairs.csv"),
                              "--no-faq", "--out-dir", str(tmp_path)])  # fmt: skip
    assert out.exit_code == 0, out.output
    lexical = MatcherModel.from_json((tmp_path / "matcher.json").read_text(encoding="utf-8"))
    assert lexical.meta["trained_on"] == "pairs.csv" and lexical.meta["pairs"] == 12
    assert lexical.suggest_threshold <= lexical.pair_threshold <= lexical.answer_threshold
    if dense_module.encoder_embedder() is not None:
        dense = MatcherModel.from_json((tmp_path / "matcher_dense.json").read_text("utf-8"))
        assert dense.uses_cosine and len(dense.dense_weights) == len(lexical.dense_weights) + 1
        out = runner.invoke(app, ["knowledge", "eval-pairs", str(FIXTURES / "pairs.csv"),
                                  "--model", str(tmp_path / "matcher_dense.json")])  # fmt: skip
        assert out.exit_code == 0 and "lexical + encoder cosine" in out.output
        # Trained on these very pairs: it must separate most of them.
        assert float(out.output.strip().splitlines()[-1].split("=")[1]) >= 0.75
    bad = tmp_path / "one_class.csv"
    bad.write_text("sentence1,sentence2,label\n" + "甲,乙,1\n" * 12, encoding="utf-8")
    out = runner.invoke(app, ["knowledge", "train", "--pairs", str(bad), "--no-faq",
                              "--out-dir", str(tmp_path / "x")])  # fmt: skip
    assert out.exit_code != 0 and "cannot train" in out.output
    assert not (tmp_path / "x").exists()
    assert len(read_pairs(FIXTURES / "pairs.csv")) == 12
