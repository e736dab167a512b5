"""The topic board: recent posts grouped into topics a supervisor can read at a glance.

Each analysed post already carries its keywords, so topics are found on those, the way
frequent-term-set clustering does it (Beil, Ester & Xu 2002, "Frequent term-based text
clustering"): a topic is a pair of terms many posts share, and its label is that pair
("信用卡·盗刷"). Pairs, because a single frequent word is usually a product (信用卡) that
spans unrelated complaints, while a pair names what happened to it.

1. Pairs are taken greedily, the one shared by most not-yet-grouped posts first, while it
   still has ``min_size`` of them; each takes those posts.
2. Then single terms the same way (a topic with no steady companion: "跑路").
3. A post left over joins the topic whose label shares most of its terms (rarer terms count
   more); a post sharing nothing stays off the board.

Everything is ordered by counts with ties broken by the label, never by hash or arrival
order, so the same posts give the same board and a few posts more or less leave the labels
as they were; a caller that passes the labels it showed last (``keep``) keeps them a little
longer still. Words too general to name a topic (银行, 问题: jieba's IDF below
``GENERAL_IDF``), Weibo's boilerplate (转发微博) and the caller's ``ignore`` terms (the bank's
own names) are left out, and so is a pair whose one term contains the other (a topic label
beside its own keyword: App故障·app).

kefu.language.topics clusters free text with TF-IDF and k-means; that suits a one-off look
at a pile of questions, but its clusters and labels move with k and with every new post, and
a live board refreshed every few seconds needs labels that stay put.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import combinations

from kefu.language.tokenize import lexicon

__all__ = ["BOILERPLATE", "GENERAL_IDF", "SEPARATOR", "TopicPost", "TopicSummary", "topic_board"]

SEPARATOR = "·"
# jieba's IDF of words found in most texts: 问题 4.0, 活动 4.7, 银行 4.7 (收益 5.4, 信用卡 8.3).
GENERAL_IDF = 5.0
# Weibo's own words: a repost without comment reads "转发微博".
BOILERPLATE = frozenset({"转发", "微博", "转发微博", "分享"})
# How much a label on the previous board is preferred (see topic_board's ``keep``).
STICKY = 1.25


@dataclass(frozen=True)
class TopicPost:
    """What the board reads of an analysed post."""

    id: int
    at: datetime
    terms: tuple[str, ...]  # keywords (+ topic label)
    negative: bool
    reach: float = 1.0


@dataclass(frozen=True)
class TopicSummary:
    label: str  # its terms joined by "·", the more general first: "信用卡·盗刷"
    volume: int  # posts
    negativity: float  # share of them negative
    reach: float  # their summed reach
    trend: tuple[int, ...]  # posts per bucket, oldest first, the last ending at ``now``
    post_ids: tuple[int, ...]  # newest first
    terms: tuple[str, ...] = ()  # the label's terms


def topic_board(
    posts: Sequence[TopicPost],
    *,
    now: datetime,
    buckets: int = 12,
    bucket: timedelta = timedelta(minutes=10),
    min_size: int = 3,
    limit: int = 20,
    ignore: Collection[str] = (),
    keep: Collection[str] = (),
) -> list[TopicSummary]:
    """Topics of the posts in the ``buckets × bucket`` before ``now``, biggest first.

    ``keep``: the labels of the board shown before this one. They win over a rival with up to
    a quarter more posts, so two topics of about the same size near the ``limit`` do not
    take turns on the board at every refresh."""
    if buckets < 1 or bucket <= timedelta(0) or min_size < 1 or limit < 1:
        raise ValueError("buckets, bucket, min_size and limit must be positive")
    since = now - buckets * bucket
    recent = [p for p in posts if since <= p.at <= now]
    idf = _idf()
    skip = {t.casefold() for t in (*ignore, *BOILERPLATE)}
    kept = {frozenset(label.split(SEPARATOR)) for label in keep}

    def usable(term: str) -> bool:
        return bool(term) and term.casefold() not in skip and idf(term) >= GENERAL_IDF

    words = [sorted({t for t in p.terms if usable(t)}) for p in recent]
    groups = _greedy(words, pairs=True, min_size=min_size, limit=limit, kept=kept)
    groups += _greedy(
        [[] if any(i in g for _, g in groups) else w for i, w in enumerate(words)],
        pairs=False,
        min_size=min_size,
        limit=limit - len(groups),
        kept=kept,
    )
    _attach_leftovers(words, groups, idf)

    board: list[TopicSummary] = []
    for terms, members in groups:
        chosen = [recent[i] for i in members]
        trend = [0] * buckets
        for p in chosen:
            trend[min(buckets - 1, int((p.at - since) / bucket))] += 1
        negative = sum(p.negative for p in chosen)
        label_terms = tuple(sorted(terms, key=lambda t: (idf(t), t)))
        board.append(
            TopicSummary(
                label=SEPARATOR.join(label_terms),
                volume=len(chosen),
                negativity=round(negative / len(chosen), 3),
                reach=round(sum(p.reach for p in chosen), 3),
                trend=tuple(trend),
                post_ids=tuple(
                    p.id for p in sorted(chosen, key=lambda p: (p.at, p.id), reverse=True)
                ),
                terms=label_terms,
            )
        )
    board.sort(key=lambda t: (-t.volume, t.label))
    return board


Group = tuple[tuple[str, ...], set[int]]
Idf = Callable[[str], float]


def _greedy(
    words: list[list[str]],
    *,
    pairs: bool,
    min_size: int,
    limit: int,
    kept: Collection[frozenset[str]],
) -> list[Group]:
    """Take term sets (pairs or single terms) greedily by how many ungrouped posts share
    them (a kept label's count × ``STICKY``); counts are kept up to date as posts are taken,
    so this is linear in the posts."""
    holders: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for i, w in enumerate(words):
        for key in combinations(w, 2) if pairs else ((t,) for t in w):
            if pairs and _nested(*key):
                continue
            holders[key].append(i)
    boost = {key: STICKY if frozenset(key) in kept else 1.0 for key in holders}
    counts = Counter({k: len(v) for k, v in holders.items()})
    keys_of: dict[int, list[tuple[str, ...]]] = defaultdict(list)
    for key, members in holders.items():
        for i in members:
            keys_of[i].append(key)
    taken: set[int] = set()
    groups: list[Group] = []
    while len(groups) < limit and counts:
        key, n = min(counts.items(), key=lambda kv: (-kv[1] * boost[kv[0]], kv[0]))
        if n < min_size:
            break
        members = {i for i in holders[key] if i not in taken}
        groups.append((key, members))
        for i in members:
            taken.add(i)
            for other in keys_of[i]:
                counts[other] -= 1
        del counts[key]
    return groups


def _nested(a: str, b: str) -> bool:
    """Whether one term contains the other ("App故障" and "app"): no topic of its own."""
    a, b = a.casefold(), b.casefold()
    return a in b or b in a


def _attach_leftovers(words: list[list[str]], groups: list[Group], idf: Idf) -> None:
    """Put each ungrouped post in the topic whose label shares most of its terms, weighed
    by IDF (sharing 盗刷 says more than sharing 信用卡); ties go to the bigger topic."""
    grouped = set().union(*(g for _, g in groups)) if groups else set()
    sizes = [len(g) for _, g in groups]
    for i, w in enumerate(words):
        if i in grouped or not w:
            continue
        mine = set(w)
        scores = [
            (sum(idf(t) for t in terms if t in mine), sizes[k])
            for k, (terms, _) in enumerate(groups)
        ]
        if scores and max(scores)[0] > 0:
            groups[scores.index(max(scores))][1].add(i)


def _idf() -> Idf:
    lex = lexicon()
    table, default = lex.idf, lex.median_idf
    return lambda term: table.get(term, default)
