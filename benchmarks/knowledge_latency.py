"""Query latency, build time and memory of the knowledge index at 10,000 and 100,000 questions.

Run: .venv/bin/python benchmarks/knowledge_latency.py [--sizes 10000 100000]
Pinned to one CPU core. The FAQ questions are synthetic but bank-shaped (object × action ×
phrasing, e.g. "请问大额存单在外地能不能提前支取"); queries mix rephrasings of indexed questions
with unrelated customer questions. Reported for each size: bulk build time, resident memory
added by the index, p50/p99 of ``KnowledgeIndex.search`` (segmentation + BM25 + matcher and
character n-gram re-ranking of the candidates, as shipped) and the time for one publish (upsert) to become searchable.
The baseline in the same run is bm25s alone on the same tokens (no matcher), which is the floor
any re-ranking adds to, and the index with dense retrieval off (as before dense retrieval).

Dense retrieval: the FAQ side's vectors are synthetic (random unit vectors, one per question —
encoding 100,000 questions with the shipped encoder takes hours on this machine, and the
search costs the same whatever the vectors hold); every query is encoded for real by the
shipped encoder, with no query cache, so the figures include the full per-query encoding cost.
Also printed: that encoding alone, and the exact dense search alone in float32 and int8.
"""

from __future__ import annotations

import argparse
import os
import random
import time

import numpy as np

from kefu.knowledge.dense import DIM, DenseIndex, encoder_embedder
from kefu.knowledge.index import IndexedEntry, KnowledgeIndex, bm25_tokens
from kefu.knowledge.matcher import prepare
from kefu.knowledge.rerank import reranker_from_env

OBJECTS = """信用卡 借记卡 储蓄卡 社保卡 存折 房贷 车贷 消费贷 经营贷 公积金贷款 助学贷款 定期存款 活期存款
大额存单 通知存款 零存整取 手机银行 网上银行 微信银行 U盾 动态密码器 理财产品 基金定投 储蓄国债 积存金 外币现钞
购汇额度 结汇 跨行转账 境外汇款 预约转账 快捷支付 扫码支付 信用卡积分 信用卡年费 信用卡账单 账单分期 现金分期
临时额度 固定额度 交易密码 登录密码 短信验证码 预留手机号 二类账户 三类账户 电子回单 存款证明 银行流水 征信报告
ATM取款 柜台取款 自动还款 最低还款 附属卡 外地网点 智能柜员机 上门服务 账户冻结 非柜面交易""".split()  # noqa: SIM905 - reads as a word list
ACTIONS = """怎么办理 怎么注销 如何查询 收费吗 有什么条件 需要带什么材料 多久能到账 能不能提前支取 限额是多少
利率是多少 在哪里办理 怎么修改 忘记了怎么办 被冻结了怎么办 可以代办吗 怎么开通 怎么关闭 有效期多久 怎么激活
怎么挂失 怎么解绑 手续费怎么算 可以在手机上办吗 需要本人去吗 办理要多久 失败了怎么办 为什么用不了 怎么提高
怎么申请 会影响征信吗 到期了怎么办 扣款失败怎么办 能退吗 怎么取消 安全吗 怎么预约""".split()  # noqa: SIM905 - reads as a word list
CONTEXTS = ["", "请问", "我想问一下", "你好", "在外地", "给老人", "周末", "在境外", "用手机", "帮家人",
            "刚开的", "没带身份证", "着急", "第一次", "公司的"]  # fmt: skip
TAILS = ["", "呢", "啊", "？", "，急"]
UNRELATED = ["今天天气怎么样", "附近有什么好吃的", "你们招聘吗", "我想投诉快递", "火车票怎么退",
             "手机充电很慢", "怎么学英语", "股票明天会涨吗"]  # fmt: skip


def synthetic_questions(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        q = rng.choice(CONTEXTS) + rng.choice(OBJECTS) + rng.choice(ACTIONS) + rng.choice(TAILS)
        if q not in seen:
            seen.add(q)
            out.append(q)
    return out


def queries(questions: list[str], n: int, seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        if i % 4 == 3:
            out.append(rng.choice(UNRELATED))
        else:  # a rephrasing: other context and tail, same object and action
            q = rng.choice(questions)
            for prefix in sorted(CONTEXTS, key=len, reverse=True):
                if prefix and q.startswith(prefix):
                    q = q[len(prefix) :]
                    break
            out.append(rng.choice(CONTEXTS) + q.rstrip("呢啊？，急") + rng.choice(TAILS))
    return out


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def percentiles(samples: list[float]) -> str:
    ms = np.array(samples) * 1000
    return f"p50={np.percentile(ms, 50):.2f} ms p99={np.percentile(ms, 99):.2f} ms"


class SyntheticDocsEmbedder:
    """FAQ vectors at random (cheap), queries through the real encoder every time."""

    def __init__(self, real) -> None:  # type: ignore[no-untyped-def]
        self.real, self.encoder = real, real.encoder
        self._rng = np.random.default_rng(3)

    def embed(self, texts):  # type: ignore[no-untyped-def]
        v = self._rng.standard_normal((len(texts), DIM)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    def embed_query(self, text: str) -> np.ndarray:
        return self.real._encode([text])[0]


def dense_only(size: int, queries_v: np.ndarray) -> None:
    rng = np.random.default_rng(5)
    vectors = rng.standard_normal((size, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    for int8 in (False, True):
        index = DenseIndex(int8=int8)
        index.build(list(range(size)), vectors)
        times = []
        for q in queries_v:
            t0 = time.perf_counter()
            index.search(q, 60)
            times.append(time.perf_counter() - t0)
        name = "int8" if int8 else "float32"
        print(
            f"{'':>7}   dense search alone ({name}, {index.nbytes / 2**20:.0f} MB): {percentiles(times)}"
        )


def run_hybrid(size: int, entries: list[IndexedEntry], asked: list[str]) -> None:
    real = encoder_embedder()
    if real is None:
        print("  encoder unavailable: no dense figures")
        return
    reranker, weight = reranker_from_env()
    before = rss_mb()
    start = time.perf_counter()
    index = KnowledgeIndex(reranker=reranker, rerank_weight=weight,
                           embedder=SyntheticDocsEmbedder(real))  # type: ignore[arg-type]  # fmt: skip
    index.build(entries)
    build = time.perf_counter() - start
    memory = rss_mb() - before
    encode, times, vectors = [], [], []
    for q in asked:
        t0 = time.perf_counter()
        vectors.append(real._encode([prepare(q).text])[0])
        encode.append(time.perf_counter() - t0)
    for q in asked:
        t0 = time.perf_counter()
        index.search(q, k=5)
        times.append(time.perf_counter() - t0)
    print(f"{'':>7}   HYBRID as shipped (bm25s + dense RRF + dense matcher + re-ranker): build "
          f"{build:.1f} s, memory ≈{memory:.0f} MB, {len(asked)} queries: {percentiles(times)}")  # fmt: skip
    print(f"{'':>7}   of which encoding the query alone: {percentiles(encode)}")
    dense_only(size, np.array(vectors))
    t0 = time.perf_counter()
    index.upsert(IndexedEntry(entry_id=size + 1, version=1, kind="faq",
                              question="数字人民币钱包怎么开通", paraphrases=(), answers={"sms": "答"}))  # fmt: skip
    print(f"{'':>7}   hybrid: one publish searchable after {(time.perf_counter() - t0) * 1000:.0f} ms "
          f"(synthetic vector; encoding a new question costs one query encoding more)")  # fmt: skip


def run(size: int, n_queries: int, n_dense: int) -> None:
    questions = synthetic_questions(size)
    entries = [IndexedEntry(entry_id=i, version=1, kind="faq", question=q, paraphrases=(),
                            answers={"sms": "答"}) for i, q in enumerate(questions)]  # fmt: skip
    asked = queries(questions, n_queries)
    reranker, weight = reranker_from_env()  # as the product runs it
    if reranker is not None:
        reranker.similarities("预热", ["预热"])  # its imports are not the index's memory
    before = rss_mb()
    start = time.perf_counter()
    index = KnowledgeIndex(reranker=reranker, rerank_weight=weight, dense=False)
    index.build(entries)
    build = time.perf_counter() - start
    memory = rss_mb() - before
    for q in asked[:20]:  # warm caches (jieba's, numpy's) before timing
        index.search(q)
    times = []
    for q in asked:
        t0 = time.perf_counter()
        index.search(q, k=5)
        times.append(time.perf_counter() - t0)
    # Baseline: bm25s alone on the same tokens, query segmentation included.
    main = index._main
    base = []
    for q in asked:
        t0 = time.perf_counter()
        main.candidates(bm25_tokens(prepare(q)), 5)
        base.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    index.upsert(IndexedEntry(entry_id=size + 1, version=1, kind="faq",
                              question="数字人民币钱包怎么开通", paraphrases=(), answers={"sms": "答"}))  # fmt: skip
    found = index.search("数字人民币钱包怎么开通")[0].entry.entry_id == size + 1
    publish = time.perf_counter() - t0
    print(f"{size:>7} questions, dense OFF: build {build:.1f} s, index memory ≈{memory:.0f} MB, "
          f"{n_queries} queries: {percentiles(times)}")  # fmt: skip
    print(f"{'':>7}   baseline bm25s alone: {percentiles(base)}")
    print(f"{'':>7}   one publish searchable after {publish * 1000:.0f} ms (found={found}), "
          f"no full rebuild")  # fmt: skip
    del index
    run_hybrid(size, entries, asked[:n_dense])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--dense-queries", type=int, default=300, help="queries for the hybrid")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as in the target
    prepare("预热分词词典")  # load jieba and the matcher outside the timings
    from kefu.knowledge.matcher import shipped_matcher

    shipped_matcher()
    if encoder_embedder() is not None:
        from kefu.knowledge.matcher import shipped_dense_matcher

        shipped_dense_matcher()
    for size in args.sizes:
        run(size, args.queries, args.dense_queries)


if __name__ == "__main__":
    main()
