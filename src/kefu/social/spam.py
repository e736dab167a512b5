"""Spam and adverts (加微信, 代办信用卡, 贷款秒批, 刷单 …) among posts that mention the bank.

A trained model (``data/spam.joblib``: logistic regression on character n-grams and words of
our own hand-written adverts and ordinary posts, ``kefu social train-emotion`` rebuilds it
with the emotion model) plus cheap signals that adverts cannot easily hide: contact handles
(加V, 薇信), phone numbers, links, text repeated to game search. The signals are combined as
independent evidence, ``1 − (1 − p_model)·Π(1 − w_signal)``, and a post is spam at 0.5.
Without the model file the signals alone answer.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from kefu.language.features import FEATURE_SETS
from kefu.language.linear import LinearTextModel
from kefu.language.resources import load_once

DATA_DIR = Path(__file__).parent / "data"
SPAM_MODEL = DATA_DIR / "spam.joblib"
THRESHOLD = 0.5
log = logging.getLogger(__name__)

# A contact handle is the one thing every advert must carry; a customer almost never posts it.
_CONTACT = re.compile(
    r"(加|\+|➕|联系|咨询|私|v信|找)\s*(我|本人)?\s*(微信|薇信|威信|徽信|vx|wx|v|q|qq|扣扣|企鹅|电报|tg)"
    r"|(微信|薇信|威信|vx|wx|qq|扣扣)\s*(号)?\s*[:：]?\s*[a-z0-9_-]{5,}",
    re.IGNORECASE,
)
# Mobile numbers and landlines with an area code; not any long number (order numbers, error
# codes and card tails appear in ordinary complaints).
_PHONE = re.compile(r"(?<!\d)1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}(?!\d)|(?<!\d)0\d{2,3}-\d{7,8}(?!\d)")
# The model reads no digits: adverts carry numbers, but so do complaints (a fraudster's number,
# an order number, 95588), and a model trained on our data learnt "digits → advert". Numbers
# are left to the phone signal above.
_DIGITS = re.compile(r"\d+")
_AD_WORDS = re.compile(
    r"代办|秒批|秒下|秒到|刷单|兼职|日赚|日结|日入|免费领|低息|无抵押|包过|黑户|套现|提额|"
    r"代还|垫还|返利|招代理|零门槛|点击链接|手慢无|限时|躺赚|稳赚|内部渠道|白户|征信修复|洗白"
)
_REPEAT = re.compile(r"(.{4,}?)\1{2,}", re.DOTALL)

# Weight of each signal as independent evidence of an advert (see module doc).
SIGNAL_WEIGHTS = {"contact": 0.6, "ad_words": 0.35, "phone": 0.3, "link": 0.2, "repeated": 0.5}


@dataclass(frozen=True)
class SpamVerdict:
    spam: bool
    score: float  # 0..1
    signals: tuple[str, ...]  # which cheap signals fired


@load_once
def spam_model() -> LinearTextModel | None:
    if not SPAM_MODEL.is_file():
        log.warning("%s missing: spam is judged by signals alone", SPAM_MODEL)
        return None
    return LinearTextModel.load(SPAM_MODEL)


def model_text(text: str) -> str:
    """What the spam model reads (training and serving): the plain text without digits."""
    return _DIGITS.sub(" ", text)


def signals(raw: str, urls: int = 0) -> tuple[str, ...]:
    """The cheap signals found in the raw post (``urls``: links the markup parser found)."""
    found = []
    if _CONTACT.search(raw):
        found.append("contact")
    if len(_AD_WORDS.findall(raw)) >= 1:
        found.append("ad_words")
    if _PHONE.search(raw):
        found.append("phone")
    if urls or "http" in raw.lower():
        found.append("link")
    if _REPEAT.search(raw[:2000]):
        found.append("repeated")
    return tuple(found)


def judge_spam(raw: str, text: str, *, urls: int = 0) -> SpamVerdict:
    """``raw``: the post as written (numbers, links); ``text``: normalised plain text."""
    model = spam_model()
    keep = 1.0
    if model is not None and text:
        p = model.proba(FEATURE_SETS[model.feature_set](model_text(text)))
        keep *= 1.0 - float(p[model.classes.index("spam")])
    fired = signals(raw, urls)
    for name in fired:
        keep *= 1.0 - SIGNAL_WEIGHTS[name]
    score = round(1.0 - keep, 4)
    return SpamVerdict(score >= THRESHOLD, score, fired)
