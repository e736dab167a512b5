"""Throughput and latency of ``kefu.social.analysis.analyse_post`` on one process, one core.

Run: .venv/bin/python benchmarks/social_analysis.py [--posts 10000] [--runs 3] [--deep auto|fast]

Posts: weibo2018 texts (read at run time from ../shared/data, never copied; bank posts of our
test set where it is absent) mixed with our held-out bank posts, each made distinct by a
suffix so no cache can flatter the figure, with random authors and counts. Baseline in the
same run: ``kefu.language.analyze`` alone on the same post, timed alternately with
``analyse_post`` so both see the same machine (it is shared: load average is printed before
and after, CPU time beside wall time). Figures: posts per hour of one process (3600 / mean
seconds per post), p50 and p99 per post; the median over ``--runs`` runs.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time

from kefu.language.analyze import analyze, load_models
from kefu.language.resources import shared_data_dir
from kefu.social.analysis import Author, PostInput, analyse_post
from kefu.social.training import EMOTION_TEST, SPAM_TEST, load_labelled

TARGET_PER_HOUR = 10_000
TARGET_P99_MS = 200


def corpus(n: int, seed: int = 7) -> list[PostInput]:
    rng = random.Random(seed)
    texts = list(load_labelled(EMOTION_TEST)[0]) + list(load_labelled(SPAM_TEST, ("spam",))[0])
    weibo = shared_data_dir() / "weibo2018" / "train.txt"
    if weibo.is_file():
        for line in weibo.read_text(encoding="utf-8").splitlines():
            parts = line.split(",", 2)
            if len(parts) == 3:
                texts.append(parts[2])
    posts = []
    for i in range(n):
        author = Author(
            uid=f"u{i}",
            followers=int(10 ** rng.uniform(0, 7)),
            verified_type=rng.choice([-1, -1, -1, 0, 3, 220]),
            posts_seen=rng.randrange(20),
            negative_seen=rng.randrange(5),
        )
        text = f"{rng.choice(texts)} #{i}"
        posts.append(
            PostInput(
                text,
                author,
                reposts=rng.randrange(500),
                comments=rng.randrange(300),
                likes=rng.randrange(2000),
            )
        )
    return posts


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def one_run(posts: list[PostInput], deep: bool | None) -> dict[str, dict[str, float]]:
    timings: dict[str, tuple[list[float], list[float]]] = {
        "analyse_post": ([], []),
        "analyze alone": ([], []),
    }
    for p in posts:
        for name, fn in (
            ("analyse_post", lambda p=p: analyse_post(p, deep=deep)),
            ("analyze alone", lambda p=p: analyze(p.text, deep=deep)),
        ):
            wall, cpu = time.perf_counter(), time.thread_time()
            fn()
            timings[name][0].append(time.perf_counter() - wall)
            timings[name][1].append(time.thread_time() - cpu)
    out = {}
    for name, (walls, cpus) in timings.items():
        out[name] = {
            "per_hour": 3600 / statistics.fmean(walls),
            "per_hour_cpu": 3600 / statistics.fmean(cpus),
            "p50_ms": 1000 * percentile(walls, 0.5),
            "p99_ms": 1000 * percentile(walls, 0.99),
            "p99_cpu_ms": 1000 * percentile(cpus, 0.99),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--deep", choices=["auto", "fast"], default="auto")
    args = parser.parse_args()
    deep = None if args.deep == "auto" else False
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    load_models(deep=deep is not False)
    posts = corpus(args.posts)
    for p in posts[:50]:  # warm-up: models loaded, caches filled
        analyse_post(p, deep=deep)
    print(f"{args.posts:,} posts per run, {args.runs} runs, encoder: {args.deep}, "
          f"avg {statistics.fmean(len(p.text) for p in posts):.0f} chars")  # fmt: skip
    print(f"load average before: {os.getloadavg()}")
    runs = []
    for r in range(args.runs):
        started = time.perf_counter()
        runs.append(one_run(posts, deep))
        print(f"run {r + 1}: {time.perf_counter() - started:.0f} s", flush=True)
    print(f"load average after: {os.getloadavg()}")
    for name in runs[0]:
        med = {k: statistics.median(run[name][k] for run in runs) for k in runs[0][name]}
        print(
            f"{name:14s} {med['per_hour']:>10,.0f} posts/hour wall ({med['per_hour_cpu']:,.0f} per CPU-hour)"
            f"  p50 {med['p50_ms']:.1f} ms  p99 {med['p99_ms']:.1f} ms (p99 CPU {med['p99_cpu_ms']:.1f} ms)"
        )
    print(
        f"target (issue #14): {TARGET_PER_HOUR:,} posts/hour, p99 analysis+routing < {TARGET_P99_MS} ms"
    )


if __name__ == "__main__":
    main()
