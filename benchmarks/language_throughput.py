"""Throughput of ``kefu.language.analyze`` on one core, start-up time, peak memory, model sizes.

Run: .venv/bin/python benchmarks/language_throughput.py
Baselines in the same run: a bare interpreter start-up, and a trivial per-message pass
(normalise only), so the figures can be read on any machine. Weibo-length posts are timed with
the deep sentiment model (the default for texts that long) against the fast model alone.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from datetime import date

STARTUP = "from kefu.language.analyze import load_models, analyze; load_models(); analyze('查余额')"
STARTUP_FAST = STARTUP.replace("load_models()", "load_models(deep=False)")
POSTS = [
    "今天去银行办业务，排了两个小时的队，柜台只开了一个窗口，工作人员态度还很冷淡，真的无语",
    "新出的信用卡积分活动挺划算的，周末用积分换了一个保温杯，客服小姐姐也很耐心，点个赞",
    "手机银行又闪退了，转账转到一半页面卡住，钱到底转出去没有也查不到，急死人了",
    "第一次用手机银行办了定期存款，流程比想象的简单，利率也还可以，推荐给家里人了",
    "春节回家路上看到老家也开了网点，以后爸妈取养老金再也不用跑到县城了，开心",
    "信用卡莫名其妙被扣了年费，打客服电话等了半小时没人接，明天就去网点销卡",
]
MESSAGES = [
    "我要查3月的账单",
    "卡里还剩多少钱",
    "尾号6789的卡丢了快帮我挂失",
    "TD",
    "上个月信用卡最低还款额是多少",
    "北京朝阳支行现在排队人多吗",
    "垃圾银行乱扣我年费，我要投诉",
    "积分能换什么礼品",
    "转人工",
    "你好，请问怎么开通账单提醒",
    "我要转一万二给我妈",
    "谢谢你们客服很耐心",
]


def _median_startup(code: str, runs: int = 5) -> tuple[float, float]:
    """Median wall time and median CPU time (user + sys) of a fresh interpreter running code.

    CPU time is reported beside wall time because the development machine is shared: other
    jobs stretch wall time, not the CPU work the start-up itself needs.
    """
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        walls.append(time.perf_counter() - t)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return sorted(walls)[runs // 2], sorted(cpus)[runs // 2]


def _rate(fn, items) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Items per wall second and per CPU second."""
    wall, cpu = time.perf_counter(), time.process_time()
    for item in items:
        fn(item)
    return len(items) / (time.perf_counter() - wall), len(items) / (time.process_time() - cpu)


def main() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    bare, bare_cpu = _median_startup("pass")
    full, full_cpu = _median_startup(STARTUP)
    fast, fast_cpu = _median_startup(STARTUP_FAST)
    print(
        f"start-up, all models loaded (median of 5): {full:.3f} s wall, {full_cpu:.3f} s CPU"
        f"; without the deep sentiment model {fast:.3f} s wall, {fast_cpu:.3f} s CPU"
        f"  (bare interpreter {bare:.3f} s wall, {bare_cpu:.3f} s CPU)"
    )

    from kefu.language.analyze import analyze, load_models
    from kefu.language.normalize import normalize
    from kefu.language.resources import MODELS_DIR

    load_models()
    today = date(2026, 11, 29)
    n = 20000
    batch = (MESSAGES * (n // len(MESSAGES) + 1))[:n]
    # Distinct strings so no caching anywhere can flatter the figure.
    batch = [f"{m}{i % 97 if i % 3 else ''}" for i, m in enumerate(batch)]
    for m in batch[:200]:
        analyze(m, today=today)
    rate, rate_cpu = _rate(lambda m: analyze(m, today=today), batch)
    trivial, trivial_cpu = _rate(normalize, batch)
    avg_len = sum(map(len, batch)) / n
    print(
        f"analyze throughput, one core: {rate:,.0f} msgs/s wall, {rate_cpu:,.0f} msgs per CPU-s"
        f" (avg {avg_len:.1f} chars)"
    )
    print(
        f"trivial baseline (normalize only): {trivial:,.0f} msgs/s wall, {trivial_cpu:,.0f} per"
        f" CPU-s; analyze costs {trivial_cpu / rate_cpu:.1f}x"
    )
    posts = [f"{p}{i}" for i in range(25) for p in POSTS]
    deep_rate, deep_cpu = _rate(lambda m: analyze(m, today=today), posts)
    _, fast_post_cpu = _rate(lambda m: analyze(m, today=today, deep=False), posts)
    print(
        f"Weibo-length posts (avg {sum(map(len, posts)) / len(posts):.0f} chars), one core:"
        f" {deep_rate:,.0f} posts/s wall, {deep_cpu:,.0f} per CPU-s with the deep model;"
        f" fast model alone {fast_post_cpu:,.0f} per CPU-s ({fast_post_cpu / deep_cpu:.0f}x)"
    )
    long_post = "信用卡被盗刷了，客服电话一直打不通，" * 560
    t = time.perf_counter()
    analyze(long_post, today=today)
    print(f"one {len(long_post):,}-char post: {1000 * (time.perf_counter() - t):.1f} ms")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (max RSS) of this process: {peak:.0f} MiB")
    for path in sorted([*MODELS_DIR.glob("*.joblib"), *MODELS_DIR.glob("*.npz")]):
        print(f"model file {path.name}: {path.stat().st_size / 1024:.0f} KiB")
    for name in ("jieba_core.txt", "radicals.txt"):
        table = MODELS_DIR.parent / "data" / name
        print(f"dictionary {table.name}: {table.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
