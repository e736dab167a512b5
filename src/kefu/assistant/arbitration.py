"""Self-service command or knowledge answer: which one a customer's message gets.

The intent classifier reads what a message is about; "信用卡怎么提额" and "我的额度是多少" are
both about the credit limit, and before this module both got the customer's current limit,
although the first asks how to raise it and the FAQ "信用卡额度怎么提升" answers exactly that.
So a message whose intent is a data command (bill, balance, limit, points …, or ``help``) is
decided on three things (docs/language.md, "Commands or answers"):

1. its **form** (kefu.language.intents.question_form): a short code or a request for the
   customer's own data ("查…", "我的…", "帮我…", "还剩多少", a month or a card tail) stays a
   command; a question of how, why or whether ("怎么", "如何", "流程", "需要什么", "…吗")
   goes to the knowledge base;
2. the **knowledge base's score**: a how-to question goes there only if it finds something
   (an answer, or choices to pick from); otherwise the command's data is still the best reply;
3. the **intent's confidence**: when the form says both or neither ("我的卡丢了怎么办",
   "我上个月的账单"), and for ``help`` whatever the form, the knowledge base needs a
   confident answer scoring above the intent.

A message telling of a lost or stolen card stays the loss report whatever its form: starting
it is the answer to "卡丢了怎么办", and every minute before it is money at risk. The channel
plays no part: SMS, WeChat, web chat and Weibo all reach the assistant through the same
pipeline, so one decision here serves them all.
"""

from __future__ import annotations

from typing import Literal

from kefu.knowledge.answering import Answer, HandOver, Suggestions
from kefu.language.intents import QuestionForm

Route = Literal["intent", "knowledge"]
Found = Answer | Suggestions | HandOver | None

# Intents whose reply is the customer's own data (or the menu): the ones a how-to question
# about the same topic could be mistaken for. Other intents (bind, complaint, transfer to an
# agent, subscriptions, branches) are actions the customer asked for and keep their handler.
DATA_INTENTS = frozenset(
    {"bill.query", "balance.query", "transactions.query", "repayment.query",
     "card.report_loss", "points.query", "credit_limit.query"}
)  # fmt: skip
ARBITRATED = DATA_INTENTS | {"help"}


def consults_knowledge(form: QuestionForm, intent: str) -> bool:
    """Whether the knowledge base must be asked before deciding (saves a search when the
    form alone decides: codes, plain requests, lost cards, intents that are not data)."""
    if intent not in ARBITRATED or form.code or form.kind == "request":
        return False
    return not (intent == "card.report_loss" and form.card_lost)


def knowledge_score(found: Found) -> float | None:
    """The best score the knowledge base reported: its answer's, or its first choice's."""
    if isinstance(found, Answer):
        return found.score
    if isinstance(found, Suggestions) and found.choices:
        return found.choices[0].score
    return None


def route(form: QuestionForm, intent: str, confidence: float, found: Found) -> Route:
    """Where a message classified as ``intent`` (with ``confidence``) goes, given what the
    knowledge base ``found`` for it (None when it was not asked)."""
    if not consults_knowledge(form, intent):
        return "intent"
    if intent == "help":
        # The menu is the better reply to "怎么用", "你能做什么": an FAQ only when it answers
        # outright and the classifier was less sure of "help" ("大额转账怎么操作", 0.66).
        return "knowledge" if isinstance(found, Answer) and found.score > confidence else "intent"
    if form.kind == "how_to":
        return "knowledge" if isinstance(found, Answer | Suggestions) else "intent"
    # Mixed or plain form: only a confident answer that outscores the intent.
    if isinstance(found, Answer) and found.score > confidence:
        return "knowledge"
    return "intent"
