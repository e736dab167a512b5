"""A social post's analysis reaches the default workflow: its attributes are known to the
expression language and the boosts rank an angry, high-priority post first."""

from __future__ import annotations

from datetime import UTC, datetime

from kefu.conversations.models import Conversation
from kefu.routing.engine import Router
from kefu.routing.rules import compile_workflow, load_text
from kefu.routing.service import DEFAULT_WORKFLOW, conversation_attributes
from kefu.social.analysis import Author, PostInput, analyse_post


def _router() -> Router:
    return Router(compile_workflow(load_text(DEFAULT_WORKFLOW.read_text(encoding="utf-8"))))


def _attributes(text: str, **social: object) -> dict[str, object]:
    conversation = Conversation(channel="weibo", contact="u1", subject=text,
                                created_at=datetime(2026, 12, 1, 2, 0, tzinfo=UTC))  # fmt: skip
    return conversation_attributes(conversation, None, text, dict(social))


def test_a_conversation_without_a_post_has_neutral_social_attributes() -> None:
    attributes = _attributes("你好")
    assert attributes["emotion"] is None and attributes["social_priority"] == 0
    assert _router().classify(attributes).priority == 0


def test_social_priority_and_anger_raise_the_priority() -> None:
    router = _router()
    calm = router.classify(_attributes("问一下", social_priority=2, emotion="neutral"))
    angry = router.classify(_attributes("问一下", social_priority=8, emotion="anger"))
    assert (calm.rule, angry.rule) == ("default", "default")
    assert angry.priority - calm.priority == 3  # +2 for priority >= 7, +1 for anger


def test_an_analysed_fraud_post_routes_as_a_crisis_above_a_question() -> None:
    router = _router()
    ranked = []
    for text in ("@某某银行 我的信用卡被盗刷了五千块，电话打不通，太气人了！",
                 "@某某银行 请问信用卡积分怎么兑换？"):  # fmt: skip
        analysis = analyse_post(PostInput(text, Author("u1", followers=5000)), deep=False)
        ranked.append(router.classify(_attributes(text, **analysis.routing_attributes())))
    fraud, question = ranked
    assert fraud.rule == "crisis" and fraud.priority > question.priority
