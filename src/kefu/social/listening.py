"""Listening (舆情监测): keyword subscriptions that capture posts not addressed to the bank.

A rule matches a post when the post's platform is one of the rule's platforms (every platform
when the rule lists none), the text contains at least one include term and none of the exclude
terms. Text and terms are compared in ``kefu.language.normalize``'s canonical form (full-width
→ half-width, traditional → simplified, lower case), so 「招商銀行」 matches 招商银行 and
"CMB" matches "cmb". Chinese terms match as substrings (Chinese has no spaces to cut at); a
term that starts or ends with a Latin letter or digit must not run on into more of them there,
so "ATM" does not match "atmosphere" and "95555" does not match "3955551".

The pollers of the platforms' commercial search APIs (the Weibo channel's) ask
:func:`active_terms` what to search for and hand what they find in as InboundMessages with
``metadata["social"]["kind"] == "listening"``; ``kefu.social.route`` keeps a post only when an
active rule matches it here and counts the rest in :data:`DROPPED`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.language.normalize import normalize
from kefu.social.models import ListeningRule

MAX_TERMS = 50
MAX_TERM_LENGTH = 40
# Captured posts that matched no active rule, by platform, since the process started (the
# search API returns more than the rules want: e.g. an exclude term).
DROPPED: Counter[str] = Counter()

_LATIN = re.compile(r"[a-z0-9]")


@lru_cache(maxsize=4096)
def _pattern(term: str) -> re.Pattern[str]:
    """The normalised ``term`` as a regex, bounded on its Latin/digit ends."""
    head = r"(?<![a-z0-9])" if _LATIN.match(term[0]) else ""
    tail = r"(?![a-z0-9])" if _LATIN.match(term[-1]) else ""
    return re.compile(head + re.escape(term) + tail)


def term_in(term: str, normalized_text: str) -> bool:
    """Whether ``term`` occurs in text already passed through ``normalize``."""
    canonical = normalize(term)
    return bool(canonical) and _pattern(canonical).search(normalized_text) is not None


@dataclass(frozen=True)
class Terms:
    """A rule's terms and platforms, detached from the session (tests, caches)."""

    include: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()


def _terms(rule: ListeningRule | Terms) -> Terms:
    if isinstance(rule, Terms):
        return rule
    return Terms(tuple(rule.include_terms or ()), tuple(rule.exclude_terms or ()),
                 tuple(rule.platforms or ()))  # fmt: skip


def match(rule: ListeningRule | Terms, text: str, platform: str | None = None) -> bool:
    """Whether ``rule`` captures ``text`` (posted on ``platform``; None: any platform)."""
    terms = _terms(rule)
    if platform is not None and terms.platforms and platform not in terms.platforms:
        return False
    canonical = normalize(text)
    if not any(term_in(t, canonical) for t in terms.include):
        return False
    return not any(term_in(t, canonical) for t in terms.exclude)


async def active_rules(db: AsyncSession) -> list[ListeningRule]:
    return list(
        (
            await db.scalars(
                select(ListeningRule)
                .where(ListeningRule.active.is_(True))
                .order_by(ListeningRule.id)
            )
        ).all()
    )


async def capturing_rule(db: AsyncSession, text: str, platform: str) -> ListeningRule | None:
    """The first active rule (oldest first) that captures the post, or None."""
    for rule in await active_rules(db):
        if match(rule, text, platform):
            return rule
    return None


async def active_terms(db: AsyncSession, platform: str = "weibo") -> list[str]:
    """Every include term of the active rules that listen on ``platform``, normalised, each
    once, in a stable order: what a platform's search poller searches for. Exclude terms are
    applied when the found posts come back (``kefu.social.route``), not by the search."""
    seen: dict[str, None] = {}
    for rule in await active_rules(db):
        if rule.platforms and platform not in rule.platforms:
            continue
        for term in rule.include_terms or ():
            canonical = normalize(term)
            if canonical:
                seen.setdefault(canonical, None)
    return list(seen)


# -- validation of a rule as staff type it ------------------------------------------------------
class RuleInvalid(ValueError):
    """A rule that cannot be saved; the message is shown to the user (Chinese first)."""


def parse_terms(raw: str | Iterable[str]) -> list[str]:
    """Terms typed one per line or separated by commas (，, 、 too), trimmed, each once."""
    if isinstance(raw, str):
        raw = re.split(r"[\n,，、;；]+", raw)
    seen: dict[str, None] = {}
    for term in raw:
        term = term.strip()
        if term:
            seen.setdefault(term, None)
    return list(seen)


def validate(
    name: str, include: Sequence[str], exclude: Sequence[str], platforms: Sequence[str]
) -> None:
    if not name.strip():
        raise RuleInvalid("请填写规则名称")
    if len(name) > 64:
        raise RuleInvalid("规则名称不能超过 64 个字符")
    if not include:
        raise RuleInvalid("至少需要一个包含词")
    for label, terms in (("包含词", include), ("排除词", exclude)):
        if len(terms) > MAX_TERMS:
            raise RuleInvalid(f"{label}最多 {MAX_TERMS} 个")
        for term in terms:
            if len(term) > MAX_TERM_LENGTH:
                raise RuleInvalid(f"{label}「{term[:10]}…」超过 {MAX_TERM_LENGTH} 个字符")
    both = {normalize(t) for t in include} & {normalize(t) for t in exclude}
    if both:
        raise RuleInvalid(f"「{sorted(both)[0]}」不能同时是包含词和排除词")
    for platform in platforms:
        if not re.fullmatch(r"[a-z0-9_-]{1,32}", platform):
            raise RuleInvalid(f"平台「{platform[:32]}」只能由小写字母、数字、- 和 _ 组成")
