"""Analysis of one social post: sentiment, emotion, keywords, intent, topic, spam, influence
and the priority routing uses. Pure: no database, no network (docs/social-analysis.md).

When the encoder runs (``deep``): ``None`` (default) runs it for posts with 20+ characters of
content, as ``kefu.language.analyze`` does for sentiment — nearly every Weibo post that says
something. It runs ONCE per post: ``analyze`` encodes the post with the plain pretrained
encoder for its sentiment head and hands the pooled vector back (``Analysis.pooled``), and the
emotion head reads that same vector (both heads were trained on it, on our own data). Only a
bank serving its own sentiment adapters (kefu.language.sentiment_deep) pays a second pass.
Shorter posts ("垃圾银行", "[怒][怒]") are read by the fast models alone, which were trained
on short posts too. ``True`` always, ``False`` never (e.g. a replay of a large backlog).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import numpy as np

from kefu.language.analyze import MAX_CHARS, analyze
from kefu.language.normalize import normalize, strip_markup
from kefu.language.sentiment import wants_deep
from kefu.social.emotion import base_encoder, classify_emotion
from kefu.social.influence import influence_score
from kefu.social.spam import judge_spam

# Words that make a negative post a possible crisis for the bank (fraud, stolen money, public
# exposure, collective action). Matched on normalised (simplified) text.
CRISIS_WORDS = re.compile(
    r"盗刷|被盗|诈骗|骗子|维权|曝光|投诉|报警|立案|集体|起诉|律师|黑幕|跑路|暴雷|爆雷|挤兑|"
    r"泄露|泄漏|冒用|莫名其妙扣|被扣|无故扣|冻结|上新闻|315|银保监|金融监管"
)

# Readable topic labels: the first pattern that matches names what the post is about.
TOPICS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("信用卡盗刷", re.compile(r"盗刷|被盗|被刷|不是我(本人)?(刷|消费|操作)")),
    ("诈骗", re.compile(r"诈骗|骗子|被骗|钓鱼|冒充")),
    ("信息泄露", re.compile(r"泄露|泄漏|骚扰电话|个人信息")),
    (
        "App故障",
        re.compile(r"app|手机银行|闪退|登录不上|登不上|打不开|系统(故障|崩|升级)|崩了|转账失败"),
    ),
    ("账户冻结", re.compile(r"冻结|止付|锁卡|限额")),
    ("扣费年费", re.compile(r"年费|扣费|扣款|乱扣|手续费|乱收费|收费")),
    ("网点排队", re.compile(r"排队|网点|柜台|叫号|大堂")),
    ("理财产品", re.compile(r"理财|基金|净值|收益|亏损|保本")),
    ("贷款房贷", re.compile(r"贷款|房贷|利率|lpr|提前还款|经营贷")),
    ("信用卡账单", re.compile(r"账单|还款|分期|额度|信用卡|逾期")),
    ("客服热线", re.compile(r"客服|热线|人工|电话打不通|95\d{3}")),
    ("服务表扬", re.compile(r"感谢|谢谢|表扬|点赞|好评|耐心|专业|贴心")),
)

# How much each emotion adds to priority (anger and anxiety up; praise needs no hurry).
EMOTION_WEIGHT = {
    "anger": 2.0,
    "anxiety": 1.5,
    "disappointment": 1.0,
    "praise": 0.0,
    "neutral": 0.0,
}


@dataclass(frozen=True)
class Author:
    uid: str
    name: str = ""
    followers: int = 0
    verified_type: int = -1  # Weibo's codes: -1 none, 0 橙V, 1-7 蓝V (organisations), 200/220 达人
    posts_seen: int = 0  # earlier posts of this author the bank has
    negative_seen: int = 0  # of which negative


@dataclass(frozen=True)
class PostInput:
    text: str
    author: Author
    platform: str = "weibo"
    reposts: int = 0
    comments: int = 0
    likes: int = 0


@dataclass(frozen=True)
class PostAnalysis:
    sentiment: float  # -1 .. 1 (kefu.language's scale)
    sentiment_label: str  # "negative" / "neutral" / "positive"
    emotion: str  # "anger" | "anxiety" | "disappointment" | "praise" | "neutral"
    emotion_score: float  # the classifier's probability of that emotion
    keywords: tuple[str, ...]
    intent: str | None  # kefu.language intent (business classification), None if unknown
    topic: str  # a short readable label of what it is about ("信用卡盗刷")
    spam: bool
    spam_score: float
    influence: float  # 0 .. 100
    priority: int  # 0 .. 10, what routing boosts on
    crisis: bool = False  # crisis words in a negative post (see ``is_crisis``)

    def routing_attributes(self) -> dict[str, object]:
        """The attributes kefu.routing's workflow conditions read (``sentiment``,
        ``keywords``, ``intent``, ``crisis``) plus the social ones."""
        return {
            "sentiment": self.sentiment,
            "emotion": self.emotion,
            "keywords": list(self.keywords),
            "intent": self.intent,
            "topic": self.topic,
            "influence": self.influence,
            "social_priority": self.priority,
            "spam": self.spam,
            "crisis": self.crisis,
        }


def topic_label(text: str, keywords: list[str], intent: str | None) -> str:
    low = text.lower()
    for label, pattern in TOPICS:
        if pattern.search(low):
            return label
    if keywords:
        return "".join(keywords[:2])[:12]
    return "其他"


def is_crisis(text: str, sentiment_label: str, emotion: str) -> bool:
    """Crisis words in a post that is negative (by sentiment or emotion): "感谢及时拦截诈骗"
    names a crisis word but is no crisis."""
    negative = sentiment_label == "negative" or emotion in ("anger", "anxiety", "disappointment")
    return negative and CRISIS_WORDS.search(text) is not None


def priority_score(
    *,
    sentiment: float,
    emotion: str,
    emotion_score: float,
    influence: float,
    crisis: bool,
    spam: bool,
) -> int:
    """0..10: negativity up to 3, emotion up to 2, influence up to 3, crisis 2; spam 0.

    Negativity and influence weigh most because together they are the brand risk the issue
    names ("answered before they hurt the brand"); emotion separates the angry and anxious
    (who escalate) from the merely disappointed; crisis words add a fixed step so a fraud
    report by an unknown author still outranks an ordinary complaint by a popular one.
    """
    if spam:
        return 0
    score = (
        3.0 * max(0.0, -sentiment)
        + EMOTION_WEIGHT.get(emotion, 0.0) * emotion_score
        + 3.0 * influence / 100.0
        + (2.0 if crisis else 0.0)
    )
    return int(min(10, max(0, round(score))))


def analyse_post(
    post: PostInput, *, deep: bool | None = None, today: date | None = None
) -> PostAnalysis:
    """Everything the social desk and routing need from one post (see module doc for ``deep``)."""
    base = analyze(post.text, today=today, deep=deep)
    sentiment = base.sentiment
    markup = strip_markup(normalize(post.text[: MAX_CHARS * 2]))
    plain = markup.text[:MAX_CHARS]
    emo = [f"[{e}]" for e in markup.emoticons]
    sent_text = " ".join([plain, *emo]).strip()
    pooled: np.ndarray | None = base.pooled  # the vector analyze's sentiment head read
    if pooled is None and (deep or (deep is None and wants_deep(plain))):
        model = base_encoder()
        if model is not None:
            pooled = model.pooled([sent_text])[0]
    # words=None: the model segments sent_text itself, exactly as in training (training.prepare).
    emotion = classify_emotion(sent_text, None, pooled)
    verdict = judge_spam(post.text[: MAX_CHARS * 2], plain, urls=len(markup.urls))
    a = post.author
    influence = influence_score(
        followers=a.followers,
        verified_type=a.verified_type,
        reposts=post.reposts,
        comments=post.comments,
        likes=post.likes,
        posts_seen=a.posts_seen,
        negative_seen=a.negative_seen,
    )
    crisis = not verdict.spam and is_crisis(plain, sentiment.label, emotion.label)
    intent = None if base.intent == "other" else base.intent
    return PostAnalysis(
        sentiment=sentiment.score,
        sentiment_label=sentiment.label,
        emotion=emotion.label,
        emotion_score=emotion.score,
        keywords=tuple(base.keywords),
        intent=intent,
        topic=topic_label(plain, base.keywords, intent),
        spam=verdict.spam,
        spam_score=verdict.score,
        influence=influence,
        priority=priority_score(
            sentiment=sentiment.score,
            emotion=emotion.label,
            emotion_score=emotion.score,
            influence=influence,
            crisis=crisis,
            spam=verdict.spam,
        ),
        crisis=crisis,
    )
