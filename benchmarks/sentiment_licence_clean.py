"""The licence-clean sentiment models against the research-trained ones they replace, and the
one-encoder-pass social analysis against the two-pass one, in one run (issues #22, #14).

Run: .venv/bin/python benchmarks/sentiment_licence_clean.py [--posts 200] [--skip-latency]
[--weibo-sample N] (needs ../shared/data/weibo2018 for the weibo figures; ~10 minutes of CPU
for the whole held-out side; ``--weibo-sample`` scores a fixed random sample of it instead)

Accuracy, on data none of the models was trained on:
- the held-out side of our weibo2018 split (1,678 posts; research use: testing only) — the
  decision is the sign of the polarity, as ``kefu language eval`` scores it;
- our own held-out sets (``language/data/sentiment_own_test.csv`` and the social emotion
  test posts mapped to polarity): ``polar`` = that sign on the rows labelled positive or
  negative, ``three_way`` = the full analyser's label (lexicon + neutral band) against
  negative / neutral / positive.
Models: the old shipped fast model and the old LoRA adapters (both trained on weibo2018,
read from git at ``OLD_COMMIT``: they are no longer in the package), the old default
(fast + adapters averaged for texts of 20+ characters), and the new fast model, the new head
and the new default — all of the new ones trained on our own data only.

Latency: ``analyse_post`` of long social posts (weibo2018 posts of 80+ characters, suffixed to
be distinct) the new way (one plain-encoder pass read by both heads) and the old way (the
adapters' forward pass for sentiment, then a plain pass for emotion), timed alternately in one
process on one core, so both see the same machine. The machine is shared by several people:
the load average is printed; trust the ratio more than the milliseconds.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from kefu.language import training
from kefu.language.analyze import analyze, load_models
from kefu.language.linear import LinearTextModel
from kefu.language.normalize import normalize, strip_markup
from kefu.language.resources import REPO_ROOT, shared_data_dir
from kefu.language.sentiment import (
    analyse_sentiment,
    fuse,
    positive_probability,
    sentiment_model,
    wants_deep,
)
from kefu.language.sentiment_deep import DeepSentiment, SentimentHead, deep_sentiment
from kefu.social.analysis import Author, PostInput, analyse_post
from kefu.social.emotion import base_encoder, classify_emotion

# The last commit that shipped the weibo2018-trained models.
OLD_COMMIT = "21ff1dd82dcbbe36035e128646bf53320eae14d6"
OLD_FILES = ("sentiment.joblib", "sentiment_deep.npz")
ACCEPTED_WEIBO = 0.876  # the research-trained fast + deep figure (docs/models/sentiment.md)


def old_models(folder: Path) -> tuple[LinearTextModel, DeepSentiment]:
    for name in OLD_FILES:
        blob = subprocess.run(
            ["git", "show", f"{OLD_COMMIT}:src/kefu/language/models/{name}"],
            cwd=REPO_ROOT, capture_output=True, check=True,
        ).stdout  # fmt: skip
        (folder / name).write_bytes(blob)
    return LinearTextModel.load(folder / OLD_FILES[0]), DeepSentiment(folder / OLD_FILES[1])


def sign(polarities: list[float]) -> list[str]:
    return ["positive" if p >= 0 else "negative" for p in polarities]


def accuracy(gold: list[str], pred: list[str]) -> float:
    return round(sum(g == p for g, p in zip(gold, pred, strict=True)) / max(len(gold), 1), 4)


def score_set(
    texts: list[str],
    gold: list[str],
    fast_models: dict[str, LinearTextModel],
    deep_models: dict[str, Any],
) -> dict[str, dict[str, float]]:
    """Every model alone and each default pair, on one set."""
    prepared = [training.sentiment_text(t) for t in texts]
    long = [wants_deep(t) for t in prepared]
    fast = {k: [positive_probability(t, model=m) for t in prepared] for k, m in fast_models.items()}
    deep = {k: [float(p) for p in m.positive(prepared)] for k, m in deep_models.items()}
    polar = [i for i, g in enumerate(gold) if g != "neutral"]
    pg = [gold[i] for i in polar]
    out: dict[str, dict[str, float]] = {}

    def add(name: str, f: list[float], d: list[float] | None) -> None:
        auto = [d[i] if (d is not None and long[i]) else None for i in range(len(prepared))]
        row = {"polar": accuracy(pg, sign([fuse(f[i], auto[i]) for i in polar]))}
        if len(polar) < len(gold):
            full = [
                analyse_sentiment(t, model=fast_models[name.split()[0]], deep_positive=a).label
                for t, a in zip(prepared, auto, strict=True)
            ]
            row["three_way"] = accuracy(gold, full)
        out[name] = row

    for era in fast_models:
        add(f"{era} fast", fast[era], None)
        if era in deep:
            add(f"{era} fast+deep (default)", fast[era], deep[era])
            out[f"{era} deep alone"] = {
                "polar": accuracy(pg, sign([2 * deep[era][i] - 1 for i in polar]))
            }
    out["n"] = {"rows": len(gold), "polar_rows": len(polar), "long_share": round(np.mean(long), 3)}
    return out


def long_posts(n: int, seed: int = 7) -> list[PostInput]:
    rng = random.Random(seed)
    weibo = shared_data_dir() / "weibo2018" / "train.txt"
    texts = [t for t in training.load_weibo2018()[0] if len(t) >= 80] if weibo.is_file() else []
    if not texts:  # without shared data: our own long sentences, doubled
        texts = [t * 3 for t in training.load_commented_csv(training.SENTIMENT_OWN)[0]]
    return [
        PostInput(f"{rng.choice(texts)} #{i}", Author(uid=f"u{i}", followers=rng.randrange(10**6)))
        for i in range(n)
    ]


def old_analyse_post(post: PostInput, adapters: DeepSentiment) -> None:
    """The pre-change path: sentiment through the adapters' own forward pass (160 pieces),
    emotion through a second, plain pass (``analyze`` here skips the head: deep=False)."""
    base = analyze(post.text, deep=False)
    markup = strip_markup(normalize(post.text[:4000]))
    sent_text = " ".join([markup.text[:2000], *(f"[{e}]" for e in markup.emoticons)]).strip()
    deep_positive = float(adapters.positive([sent_text])[0])
    analyse_sentiment(sent_text, deep_positive=deep_positive)
    encoder = base_encoder()
    pooled = encoder.pooled([sent_text])[0] if encoder is not None else None
    classify_emotion(sent_text, None, pooled)
    assert base is not None


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def latency(posts: list[PostInput], adapters: DeepSentiment) -> dict[str, dict[str, float]]:
    paths: dict[str, Callable[[PostInput], object]] = {
        "new (one pass)": lambda p: analyse_post(p),
        "old (two passes)": lambda p: old_analyse_post(p, adapters),
    }
    for p in posts[:10]:  # warm-up
        for fn in paths.values():
            fn(p)
    walls: dict[str, list[float]] = {k: [] for k in paths}
    cpus: dict[str, list[float]] = {k: [] for k in paths}
    for p in posts:
        for name, fn in paths.items():
            wall, cpu = time.perf_counter(), time.thread_time()
            fn(p)
            walls[name].append(time.perf_counter() - wall)
            cpus[name].append(time.thread_time() - cpu)
    return {
        name: {
            "p50_ms": round(1000 * percentile(walls[name], 0.5), 1),
            "p99_ms": round(1000 * percentile(walls[name], 0.99), 1),
            "p99_cpu_ms": round(1000 * percentile(cpus[name], 0.99), 1),
            "mean_cpu_ms": round(1000 * statistics.fmean(cpus[name]), 1),
        }
        for name in paths
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=200, help="long posts timed per path")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument(
        "--weibo-sample", type=int, default=0, help="score N held-out posts (seed 7), 0: all"
    )
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    load_models()
    head = deep_sentiment()
    if not isinstance(head, SentimentHead):
        raise SystemExit("the shipped sentiment head must serve (encoder installed, no bank dir)")
    with tempfile.TemporaryDirectory() as tmp:
        old_fast, old_deep = old_models(Path(tmp))
    fast_models = {"old": old_fast, "new": sentiment_model()}
    deep_models = {"old": old_deep, "new": head}
    print(f"load average before: {os.getloadavg()}")
    report: dict[str, Any] = {}
    weibo = shared_data_dir() / "weibo2018" / "train.txt"
    if weibo.is_file():
        texts, labels = training.load_weibo2018()
        _, held = training.weibo_split(texts, labels)
        if 0 < args.weibo_sample < len(held):
            held = sorted(random.Random(7).sample(held, args.weibo_sample))
        report["weibo2018 held-out"] = score_set(
            [texts[i] for i in held], [labels[i] for i in held], fast_models, deep_models
        )
    else:
        report["weibo2018 held-out"] = f"skipped: {weibo} not found"
    for name, (texts, gold) in training.own_sentiment_tests().items():
        report[name] = score_set(texts, gold, fast_models, deep_models)
    for name, table in report.items():
        print(f"\n== {name}")
        if isinstance(table, str):
            print(table)
            continue
        for model, row in table.items():
            print(f"  {model:28s} {row}")
    print(f"\naccepted figure with the research-trained models (weibo2018): {ACCEPTED_WEIBO}")
    if not args.skip_latency:
        posts = long_posts(args.posts)
        avg = statistics.fmean(len(p.text) for p in posts)
        print(f"\nsocial analyse_post of {len(posts)} long posts (avg {avg:.0f} chars), one core")
        for name, row in latency(posts, old_deep).items():
            print(f"  {name:18s} {row}")
    print(f"load average after: {os.getloadavg()} (2 cores shared with other work)")


if __name__ == "__main__":
    main()
