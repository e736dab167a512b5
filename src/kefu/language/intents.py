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
from kefu.language.resources import MODELS_DIR, load_once

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
    return LinearTextModel.load(MODEL_PATH)


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
