"""Does a customer's question mean the same as an FAQ question? A small trained pair model.

Pure overlap measures (Jaccard, edit ratio, BM25) top out near 0.70 accuracy on real bank
question pairs, because the words that *differ* carry the meaning: "借款" vs "还款" changes the
question, "怎么" vs "如何" does not. The model therefore adds, to a handful of overlap scores,
sparse indicators of which words and characters differ, which are shared, and which pairs of
words were swapped; a logistic regression learns their weights. Scoring one pair costs tens of
microseconds, so the index can re-rank its BM25 candidates with it on every query.

The shipped weights (``data/matcher.json``, ``data/matcher_dense.json``) come from
``python -m kefu.knowledge.training --force``, trained only on our own written pairs and the
demo FAQs (never on research-only data); they hold only feature names and weights, no
training sentences. A bank's own in ``KEFU_MODELS_DIR`` serve instead.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kefu.language.normalize import normalize
from kefu.language.resources import load_once, models_override_dir
from kefu.language.tokenize import cut, lexicon

DATA_DIR = Path(__file__).resolve().parent / "data"
MODEL_PATH = DATA_DIR / "matcher.json"  # lexical features only (where the encoder is missing)
DENSE_MODEL_PATH = DATA_DIR / "matcher_dense.json"  # plus the encoder's cosine
# e5's cosines of unrelated questions sit near 0.7 and of paraphrases near 0.9; the feature is
# spread over that range so its weight shares the other features' regularisation.
COSINE_FLOOR, COSINE_SPAN = 0.7, 0.3
# Dense features are scaled so that their weights share the sparse features' regularisation.
DENSE_SCALE = 4.0
MAX_SWAPS = 36  # word-swap features only for pairs differing in a few words (else noise)


# Question kinds: "怎么开通" and "为什么开通不了" share every content word yet ask different things.
QUESTION_WORDS = {
    "how": ("怎么", "如何", "怎样", "咋"),
    "why": ("为什么", "为何", "怎么会", "为啥"),
    "amount": ("多少", "几"),
    "where": ("哪里", "哪儿", "在哪"),
    "can": ("能不能", "可以", "能否", "是否", "能"),
    "when": ("什么时候", "多久", "几点", "何时"),
}
# Bank synonyms written for kefu: each variant stands for one concept, so "卡掉了" and "银行卡
# 丢失" overlap after mapping although they share one character. Variants are replaced longest
# first; the concept names never occur in questions, so a mapped question keeps its other
# characters. Concepts that differ between two questions are a near miss ("提额" vs "降额").
SYNONYMS: dict[str, tuple[str, ...]] = {
    "Ⓚ": ("银行卡", "借记卡", "储蓄卡", "工资卡", "卡片"),
    "Ⓛ": ("丢失", "丢了", "掉了", "不见了", "找不到", "找不着", "遗失", "弄丢", "丢", "掉"),
    "Ⓑ": ("贷款", "借款", "借钱", "借点钱", "贷"),
    "Ⓡ": ("还款", "还钱", "还贷", "还账", "还清", "还"),
    "Ⓤ": ("提额", "提高额度", "提升额度", "调高额度", "涨额度", "额度提升", "额度怎么提", "加额度"),
    "Ⓓ": ("降额", "降低额度", "额度降", "额度被降", "下调额度", "额度被砍", "额度少", "额度变少"),
    "Ⓒ": ("取现", "提现", "取现金", "预借现金"),
    "Ⓜ": ("手机银行", "手机app", "app", "APP", "客户端"),
    "Ⓦ": ("为什么", "为啥", "为何", "怎么会"),
    "Ⓗ": (
        "怎么办理",
        "如何办理",
        "怎么操作",
        "如何操作",
        "怎么办",
        "咋办",
        "咋整",
        "怎么弄",
        "怎么搞",
        "怎么处理",
        "如何处理",
    ),
    "Ⓝ": ("怎么", "如何", "怎样", "咋"),
    "Ⓣ": ("什么时候", "何时", "啥时候", "多久", "多长时间", "几天"),
    "Ⓘ": ("是什么", "是啥", "什么意思", "啥意思"),
    "Ⓞ": ("开通", "开启", "注册"),
    "Ⓧ": ("注销", "销户", "销卡", "关闭"),
    "Ⓔ": ("逾期", "晚还", "没按时还", "超期", "没还上", "还不上"),
    "Ⓕ": ("手续费", "收费", "扣费", "要钱", "收钱", "费用"),
    "Ⓐ": ("能不能", "可不可以", "能否", "可以", "能"),
    "Ⓟ": ("解除挂失", "解挂", "取消挂失", "撤销挂失"),
    "Ⓖ": ("挂失", "冻结"),
    "Ⓢ": ("转账", "转钱", "汇款", "转给"),
    "Ⓥ": ("验证码", "动态码", "短信码"),
    "Ⓩ": ("密码",),
    "Ⓨ": ("信用卡",),
}
_SYNONYM = re.compile(
    "|".join(
        re.escape(v)
        for v in sorted((v for vs in SYNONYMS.values() for v in vs), key=len, reverse=True)
    )
)
_CONCEPT = {v: c for c, vs in SYNONYMS.items() for v in vs}
_NEGATION = re.compile(r"[不没无别未]")
_NUMBER = re.compile(r"\d+")


_KINDS: dict[frozenset[str], frozenset[str]] = {}


def _question_kinds(text: str) -> frozenset[str]:
    kinds = frozenset(k for k, words in QUESTION_WORDS.items() if any(w in text for w in words))
    return _KINDS.setdefault(kinds, kinds)  # a few dozen distinct sets, shared by all questions


@dataclass(frozen=True)
class Prepared:
    """A question reduced once to what scoring needs (done at index time for FAQ questions)."""

    text: str  # normalised
    words: tuple[str, ...]  # every word, stopwords kept: "不" and "吗" change meaning
    word_set: frozenset[str]
    char_set: frozenset[str]
    bigram_set: frozenset[str]
    content_set: frozenset[str]  # words without stopwords
    kinds: frozenset[str]  # question kinds (QUESTION_WORDS)
    negated: bool
    numbers: frozenset[str]
    synonym_bigrams: frozenset[str]  # character bigrams after mapping synonyms to concepts
    concepts: frozenset[str]  # the SYNONYMS concepts the question mentions


def synonym_text(norm: str) -> str:
    return _SYNONYM.sub(lambda m: _CONCEPT[m.group(0)], norm)


def prepare(text: str) -> Prepared:
    # Interning makes the 100,000 questions of a large index share one object per distinct
    # word, character and bigram instead of holding copies (about a third of its memory).
    norm = normalize(text)
    words = tuple(sys.intern(w) for w in cut(norm))
    stop = lexicon().stopwords
    mapped = synonym_text(norm)
    bigrams = frozenset(sys.intern(norm[i : i + 2]) for i in range(len(norm) - 1))
    return Prepared(
        text=norm,
        words=words,
        word_set=frozenset(words),
        char_set=frozenset(sys.intern(c) for c in norm if not c.isspace()),
        bigram_set=bigrams,
        content_set=frozenset(w for w in words if w not in stop),
        kinds=_question_kinds(norm),
        negated=bool(_NEGATION.search(norm)),
        numbers=frozenset(_NUMBER.findall(norm)),
        synonym_bigrams=bigrams
        if mapped == norm
        else frozenset(sys.intern(mapped[i : i + 2]) for i in range(len(mapped) - 1)),
        concepts=frozenset(c for c in mapped if c in SYNONYMS),
    )


def lcs_length(a: str, b: str) -> int:
    """Longest common subsequence, bit-parallel (Hyyrö 2004): one big-int step per character
    of ``b``, some ten times faster than difflib for short questions."""
    if not a or not b:
        return 0
    masks: dict[str, int] = {}
    for i, ch in enumerate(a):
        masks[ch] = masks.get(ch, 0) | (1 << i)
    full = (1 << len(a)) - 1
    v = full
    for ch in b:
        u = v & masks.get(ch, 0)
        v = ((v + u) | (v - u)) & full
    return len(a) - v.bit_count()


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 1.0


def dense_features(a: Prepared, b: Prepared) -> list[float]:
    """Overlap scores and mismatch flags in [0, 1]; the order is part of the model file's
    contract."""
    lex = lexicon()
    shared, union = a.word_set & b.word_set, a.word_set | b.word_set
    idf = lex.idf
    med = lex.median_idf
    weighted = sum(idf.get(w, med) for w in shared) / max(1e-9, sum(idf.get(w, med) for w in union))
    la, lb = len(a.text), len(b.text)
    longest = max(la, lb, 1)
    return [
        _jaccard(a.word_set, b.word_set),
        _jaccard(a.char_set, b.char_set),
        _jaccard(a.bigram_set, b.bigram_set),
        weighted,
        2 * lcs_length(a.text, b.text) / max(1, la + lb),
        abs(la - lb) / longest,
        min(la, lb) / longest,
        _jaccard(a.content_set, b.content_set),
        float(a.negated != b.negated),
        float(a.kinds != b.kinds),
        float(a.numbers != b.numbers),
    ]


def synonym_features(a: Prepared, b: Prepared) -> list[float]:
    """Overlap after mapping bank synonyms, and whether the two ask about different concepts
    (appended to ``dense_features`` by models whose meta says ``"synonyms": true``)."""
    union = a.concepts | b.concepts
    return [
        _jaccard(a.synonym_bigrams, b.synonym_bigrams),
        len(a.concepts & b.concepts) / len(union) if union else 1.0,
        float(bool(a.concepts ^ b.concepts)),
        float(bool(a.concepts) and bool(b.concepts) and not (a.concepts & b.concepts)),
    ]


def cosine_feature(cosine: float) -> float:
    return (cosine - COSINE_FLOOR) / COSINE_SPAN


def sparse_features(a: Prepared, b: Prepared) -> dict[str, float]:
    """Indicator features named by the words and characters involved (order-independent)."""
    feats: dict[str, float] = {}
    only_a, only_b = a.word_set - b.word_set, b.word_set - a.word_set
    for w in only_a | only_b:
        feats["d:" + w] = 1.0
    for w in a.word_set & b.word_set:
        feats["s:" + w] = 1.0
    # Swapped words: a learned synonym table ("借款"↔"贷款" fine, "还款"↔"借款" not).
    if len(only_a) * len(only_b) <= MAX_SWAPS:
        for x in only_a:
            for y in only_b:
                feats["x:" + min(x, y) + "|" + max(x, y)] = 1.0
    for c in a.char_set ^ b.char_set:
        feats["c:" + c] = 1.0
    # Character bigrams catch differences that segmentation hides ("还款" inside "还款日").
    for g in a.bigram_set ^ b.bigram_set:
        feats["b:" + g] = 1.0
    return feats


@dataclass(frozen=True)
class Encoded:
    """A prepared question plus its model-specific constant sums (see ``MatcherModel.logit``)."""

    prepared: Prepared
    word_diff_base: float
    char_diff_base: float
    bigram_diff_base: float
    # Unit-length sentence embedding (kefu.knowledge.dense); None when dense retrieval is off.
    vector: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def text(self) -> str:
        return self.prepared.text


@dataclass(frozen=True)
class _Tables:
    """The sparse weights split by feature kind, for the fast scoring path."""

    diff: dict[str, float]
    shared: dict[str, float]
    chars: dict[str, float]
    bigrams: dict[str, float]
    swaps: dict[str, dict[str, float]]  # symmetric: swaps[x][y] == swaps[y][x]


def _tables(weights: dict[str, float]) -> _Tables:
    t = _Tables({}, {}, {}, {}, {})
    by_prefix = {"d": t.diff, "s": t.shared, "c": t.chars, "b": t.bigrams}
    for name, w in weights.items():
        kind, key = name[0], name[2:]
        if kind == "x":
            x, y = key.split("|", 1)
            t.swaps.setdefault(x, {})[y] = w
            t.swaps.setdefault(y, {})[x] = w
        elif kind in by_prefix:
            by_prefix[kind][key] = w
    return t


@dataclass(frozen=True)
class MatcherModel:
    dense_weights: np.ndarray
    sparse_weights: dict[str, float]
    bias: float
    pair_threshold: float  # best pair accuracy on the tuning set
    answer_threshold: float  # above: answer directly
    suggest_threshold: float  # between this and answer_threshold: offer choices
    meta: dict
    tables: _Tables = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tables", _tables(self.sparse_weights))

    @property
    def uses_cosine(self) -> bool:
        """Whether the model weighs the encoder's cosine (its last dense weight)."""
        return bool(self.meta.get("cosine", False))

    @property
    def uses_synonyms(self) -> bool:
        """Whether the model weighs the bank-synonym features (models trained since they exist)."""
        return bool(self.meta.get("synonyms", False))

    def encode(self, p: Prepared, vector: np.ndarray | None = None) -> Encoded:
        t = self.tables
        return Encoded(
            p,
            sum(t.diff.get(w, 0.0) for w in p.word_set),
            sum(t.chars.get(c, 0.0) for c in p.char_set),
            sum(t.bigrams.get(g, 0.0) for g in p.bigram_set),
            vector,
        )

    def logit(self, a: Encoded, b: Encoded) -> float:
        """Equal to ``bias + dense·w + Σ weights of sparse_features(a, b)``, computed from the
        intersections only: a sum over a symmetric difference is the two sides' constant sums
        minus twice the sum over what they share."""
        pa, pb, t = a.prepared, b.prepared, self.tables
        dense = dense_features(pa, pb)
        if self.uses_synonyms:
            dense.extend(synonym_features(pa, pb))
        if self.uses_cosine:
            if a.vector is None or b.vector is None:
                raise ValueError("this matcher needs sentence embeddings (Encoded.vector)")
            dense.append(cosine_feature(float(a.vector @ b.vector)))
        z = self.bias + DENSE_SCALE * sum(
            w * f for w, f in zip(self.dense_weights, dense, strict=True)
        )
        shared = pa.word_set & pb.word_set
        z += a.word_diff_base + b.word_diff_base
        for w in shared:
            z += t.shared.get(w, 0.0) - 2 * t.diff.get(w, 0.0)
        z += a.char_diff_base + b.char_diff_base
        z -= 2 * sum(t.chars.get(c, 0.0) for c in pa.char_set & pb.char_set)
        z += a.bigram_diff_base + b.bigram_diff_base
        z -= 2 * sum(t.bigrams.get(g, 0.0) for g in pa.bigram_set & pb.bigram_set)
        only_a, only_b = pa.word_set - shared, pb.word_set - shared
        if len(only_a) * len(only_b) <= MAX_SWAPS:
            for x in only_a:
                partners = t.swaps.get(x)
                if partners:
                    z += sum(partners.get(y, 0.0) for y in only_b)
        return z

    def probability_encoded(self, a: Encoded, b: Encoded) -> float:
        if a.text == b.text:  # the same question, whatever the model learnt of near-copies
            return 1.0
        z = self.logit(a, b)
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def probability(self, a: Prepared, b: Prepared) -> float:
        return self.probability_encoded(self.encode(a), self.encode(b))

    def score_many(self, query: Encoded, candidates: Sequence[Encoded]) -> np.ndarray:
        return np.array([self.probability_encoded(query, c) for c in candidates], dtype=np.float64)

    def same_meaning(self, a: str, b: str) -> bool:
        return self.probability(prepare(a), prepare(b)) >= self.pair_threshold

    def to_json(self) -> str:
        return json.dumps(
            {
                "dense_weights": [round(float(w), 5) for w in self.dense_weights],
                "sparse_weights": {k: round(v, 4) for k, v in sorted(self.sparse_weights.items())},
                "bias": round(self.bias, 5),
                "pair_threshold": round(self.pair_threshold, 4),
                "answer_threshold": round(self.answer_threshold, 4),
                "suggest_threshold": round(self.suggest_threshold, 4),
                "meta": self.meta,
            },
            ensure_ascii=False,
            indent=0,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> MatcherModel:
        raw = json.loads(text)
        return cls(
            dense_weights=np.asarray(raw["dense_weights"], dtype=np.float64),
            sparse_weights={str(k): float(v) for k, v in raw["sparse_weights"].items()},
            bias=float(raw["bias"]),
            pair_threshold=float(raw["pair_threshold"]),
            answer_threshold=float(raw["answer_threshold"]),
            suggest_threshold=float(raw["suggest_threshold"]),
            meta=dict(raw.get("meta", {})),
        )


def served_path(shipped: Path) -> Path:
    """A bank's own retrained matcher where ``KEFU_MODELS_DIR`` holds one of that name (as for
    the language models, docs/models.md), else the shipped file."""
    override = models_override_dir()
    if override is not None and (override / shipped.name).is_file():
        return override / shipped.name
    return shipped


@load_once
def shipped_matcher() -> MatcherModel:
    """The lexical matcher (used where the encoder is unavailable or dense retrieval is off)."""
    return MatcherModel.from_json(served_path(MODEL_PATH).read_text(encoding="utf-8"))


@load_once
def shipped_dense_matcher() -> MatcherModel:
    """The matcher that also weighs the encoder's cosine (the default with dense retrieval)."""
    return MatcherModel.from_json(served_path(DENSE_MODEL_PATH).read_text(encoding="utf-8"))
