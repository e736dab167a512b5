"""Influence of a post's author, 0..100: how far a post can carry and how much the author
matters to the bank.

Four parts, each saturating, so no single signal can dominate and every part is monotonic
(more of anything never lowers influence):

| part | max | formula | why |
|---|---|---|---|
| followers | 40 | ``40·min(1, log10(1+followers)/7)`` | reach is the main risk of a public post; log because the 1,000th follower matters more than the 1,000,000th, and 10 M followers (log10 = 7) is the top of Weibo |
| verified type | 15 | 蓝V (1–7, organisations and media) 15, 橙V (0, verified persons) 10, 达人 (200/220) 5, none 0 | media and institutions are quoted and reposted by others; a verified person is named and trusted |
| engagement of this post | 30 | ``30·min(1, log10(1 + 3·reposts + 2·comments + likes)/5)`` | a post already spreading is the one to answer first; a repost carries it to new readers (3), a comment shows discussion (2), a like only agreement (1); 100,000 weighted actions saturate |
| history with the bank | 15 | ``10·min(1, log2(1+negative_seen)/4) + 5·min(1, log2(1+posts_seen)/5)`` | an author who complained before (15 earlier negatives saturate) is likely to escalate; a regular voice (31 posts) is read by people who follow the bank |
"""

from __future__ import annotations

import math

FOLLOWERS_MAX = 40.0
VERIFIED_MAX = 15.0
ENGAGEMENT_MAX = 30.0
NEGATIVE_HISTORY_MAX = 10.0
POSTS_HISTORY_MAX = 5.0

# Weibo's verified_type codes: -1 none, 0 橙V (a verified person), 1–7 蓝V (government,
# enterprise, media, campus, website, app, organisation), 200/220 达人 (active users).
_BLUE_V = range(1, 8)
_ORANGE_V = 0
_DAREN = frozenset({200, 220})


def verified_weight(verified_type: int) -> float:
    """Points for Weibo's ``verified_type`` (蓝V > 橙V > 达人 > none)."""
    if verified_type in _BLUE_V:
        return VERIFIED_MAX
    if verified_type == _ORANGE_V:
        return 10.0
    if verified_type in _DAREN:
        return 5.0
    return 0.0


def _saturating(value: float, full: float) -> float:
    """``min(1, value/full)`` for non-negative values; negatives (bad input) count as zero."""
    return min(1.0, max(0.0, value) / full)


def influence_score(
    *,
    followers: int = 0,
    verified_type: int = -1,
    reposts: int = 0,
    comments: int = 0,
    likes: int = 0,
    posts_seen: int = 0,
    negative_seen: int = 0,
) -> float:
    """The documented formula (module docstring), rounded to 0.1, always in 0..100."""
    followers_part = FOLLOWERS_MAX * _saturating(math.log10(1 + max(0, followers)), 7.0)
    actions = 3 * max(0, reposts) + 2 * max(0, comments) + max(0, likes)
    engagement_part = ENGAGEMENT_MAX * _saturating(math.log10(1 + actions), 5.0)
    history_part = NEGATIVE_HISTORY_MAX * _saturating(
        math.log2(1 + max(0, negative_seen)), 4.0
    ) + POSTS_HISTORY_MAX * _saturating(math.log2(1 + max(0, posts_seen)), 5.0)
    total = followers_part + verified_weight(verified_type) + engagement_part + history_part
    return round(min(100.0, max(0.0, total)), 1)
