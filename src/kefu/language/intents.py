"""Intent recognition: high-precision rules fused with a trained linear classifier.

Rules cover what must never be wrong (short codes printed in the help reply, carrier
unsubscribe words, 挂失); the classifier covers free text. Below the model's threshold the answer is
``other`` so that the assistant can ask back or hand over instead of guessing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from kefu.language.features import FEATURE_SETS
from kefu.language.linear import LinearTextModel
from kefu.language.normalize import normalize
from kefu.language.resources import MODELS_DIR, load_once, model_path

INTENTS: tuple[str, ...] = (
    "bill.query",
    "balance.query",
    "transactions.query",
    "repayment.query",
    "card.report_loss",
    "points.query",
    "credit_limit.query",
    "branch.queue",
    "agent.transfer",
    "unsubscribe",
    "subscribe",
    "bind",
    "help",
    "greeting",
    "complaint",
    "other",
)
MODEL_PATH = MODELS_DIR / "intent.joblib"
# Below this fused probability the caller gets ``other``. The shipped model carries its own
# threshold, chosen on cross-validated training predictions (training.choose_threshold), never
# on the test split; this default serves models without one.
DEFAULT_THRESHOLD = 0.40

# Short codes as printed in the help reply, matched on the whole (normalised) message.
SHORT_CODES: dict[str, str] = {
    "zd": "bill.query",
    "ye": "balance.query",
    "mx": "transactions.query",
    "hk": "repayment.query",
    "gs": "card.report_loss",
    "jf": "points.query",
    "ed": "credit_limit.query",
    "pd": "branch.queue",
    "rg": "agent.transfer",
    "dy": "subscribe",
    "bd": "bind",
    "ts": "complaint",
    "h": "help",
    "?": "help",
    "帮助": "help",
    # What Chinese carriers and customers use to opt out; any case or width after normalise().
    "td": "unsubscribe",
    "t": "unsubscribe",
    "r": "unsubscribe",
    "退订": "unsubscribe",
    "取消": "unsubscribe",
    "拒收": "unsubscribe",
}
# A two-letter code followed by an argument: "ZD 3月", "zd202603", "YE6789".
_CODE_WITH_ARG = re.compile(r"^(zd|ye|mx|hk|gs|jf|ed|pd|rg|dy|bd|ts)(?=[\s\d\u4e00-\u9fff])")
_NOT_CODE_CHARS = re.compile(r"[^\w?]")
_HAS_CONTENT = re.compile(r"[\w\u4e00-\u9fff]")

# Phrases precise enough to steer the classifier; each adds evidence, it does not overrule.
RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"挂失|(卡|钱包).{0,6}(丢|被偷|被盗|不见|找不[到着]|遗失)|(丢|掉)了?.{0,3}卡"), "card.report_loss"),
    (re.compile(r"转人工|人工客服|人工服务|真人客服|转接人工|人工坐席"), "agent.transfer"),
    (re.compile(r"投诉|举报|垃圾银行|骗子|气死|差评|太坑|乱扣|乱收费"), "complaint"),
    (re.compile(r"退订|不要再?(给我)?发|别再?发|拒收"), "unsubscribe"),
    (re.compile(r"积分"), "points.query"),
    (re.compile(r"排队|取号|叫号"), "branch.queue"),
)  # fmt: skip
RULE_WEIGHT = 1.0
CODE_CONFIDENCE = 0.99


@dataclass(frozen=True)
class IntentResult:
    intent: str
    confidence: float
    source: str  # "code", "rule+model", "model" or "empty": why this answer was given


@load_once
def intent_model() -> LinearTextModel:
    return LinearTextModel.load(model_path(MODEL_PATH.name))


def match_code(text: str) -> str | None:
    """The intent of a short code message, or None. ``text`` must be normalised."""
    key = _NOT_CODE_CHARS.sub("", text)
    if key in SHORT_CODES:
        return SHORT_CODES[key]
    if m := _CODE_WITH_ARG.match(text):
        return SHORT_CODES[m.group(1)]
    return None


def classify(
    text: str,
    words: list[str] | None = None,
    model: LinearTextModel | None = None,
    threshold: float | None = None,
) -> IntentResult:
    """Intent of normalised, markup-free ``text`` (``words``: its segmentation, if known)."""
    if (code := match_code(text)) is not None:
        return IntentResult(code, CODE_CONFIDENCE, "code")
    if not _HAS_CONTENT.search(text):
        return IntentResult("other", 1.0, "empty")
    model = model or intent_model()
    if threshold is None:
        threshold = float(model.meta.get("threshold", DEFAULT_THRESHOLD))
    probs = model.proba(FEATURE_SETS[model.feature_set](text, words))
    source = "model"
    hits = {intent for pattern, intent in RULES if pattern.search(text)}
    if hits:
        boost = np.array([RULE_WEIGHT if c in hits else 0.0 for c in model.classes])
        probs = (probs + boost) / (1.0 + boost.sum())
        source = "rule+model"
    best = int(np.argmax(probs))
    confidence = float(probs[best])
    intent = model.classes[best]
    if confidence < threshold:
        # Report how sure we are that it is none of the catalogue's intents.
        return IntentResult("other", round(1.0 - confidence, 4), source)
    return IntentResult(intent, round(confidence, 4), source)


# --- question form ------------------------------------------------------------------------
# The classifier says what a message is about ("额度"), not whether the customer asks for
# their own data ("我的额度是多少") or how something works ("信用卡怎么提额"); the assistant
# needs both to choose between a self-service answer and the knowledge base
# (kefu.assistant.arbitration). These markers are that second axis.

# Asking how, why, whether or what it means: the answer is the same for every customer.
_HOW_TO = re.compile(
    r"怎么|怎样|如何|咋|流程|步骤|手续|需要(什么|哪些|带|多久)|要(带|什么|多久)|多久|"
    r"什么意思|是什么|什么区别|有什么用|区别|为什么|"
    r"能不能|可不可以|会不会|要不要|是否|吗[?？]?$"
)
# Asking for their own data or an action on their account: the answer is about this customer.
_REQUEST = re.compile(
    r"^查|查一?下|帮我|给我|替我|我要|我想查|告诉我|我的|我[卡账]|我(现在|还|一共|总共)?有多少|"
    r"还有多少|还剩|剩多少|剩下|(要|应)还多少|几笔|最近.{0,4}(交易|明细|流水|记录)"
)
# Telling of a lost or stolen card (the intent rule's words): the loss report is the answer
# to "卡丢了怎么办" too, and every minute before it is money at risk.
_CARD_LOST = re.compile(r"(卡|钱包).{0,6}(丢|被偷|被盗|不见|找不[到着]|遗失)|(丢|掉)了?.{0,3}卡")


@dataclass(frozen=True)
class QuestionForm:
    code: bool  # a short code ("ZD", "YE 6789"): always a command
    how_to: bool  # 怎么 / 如何 / 流程 / 需要什么 / 可以…吗 …
    request: bool  # 查 / 我的 / 帮我 / 还剩多少 …, or a month or card tail was given
    card_lost: bool  # tells of a lost or stolen card

    @property
    def kind(self) -> str:
        """``code``, ``request``, ``how_to``, ``mixed`` (both markers) or ``plain`` (none)."""
        if self.code:
            return "code"
        if self.how_to and self.request:
            return "mixed"
        if self.request:
            return "request"
        return "how_to" if self.how_to else "plain"


def question_form(text: str, slots: dict[str, object] | None = None) -> QuestionForm:
    """The form of a customer's message; ``slots`` (from kefu.language.slots) add evidence of
    a request: a month or a card tail names the customer's own bill or card."""
    plain = normalize(text)
    slots = slots or {}
    return QuestionForm(
        code=match_code(plain) is not None,
        how_to=bool(_HOW_TO.search(plain)),
        request=bool(_REQUEST.search(plain)) or bool(slots.get("month") or slots.get("card_tail")),
        card_lost=bool(_CARD_LOST.search(plain)),
    )
