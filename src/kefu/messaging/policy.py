"""The hybrid bot/human policy, one per channel (declared in the channel's manifest)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HybridPolicy:
    # While an agent owns the conversation the bot stays silent and the customer's messages
    # join the conversation (WeChat, web chat). Off: the bot keeps answering (SMS, where a
    # hand-off is a separate service number and each text is a command).
    silent_while_agent: bool = True
    # Messages not understood in a row before the customer is handed to an agent; 0: never.
    handoff_after_misreads: int = 2
    # Word a hand-off the customer asked for with the queue place; off: the assistant's own
    # reply goes out unchanged (SMS).
    announce_handoff: bool = True
    # Tell a waiting customer their place in the queue.
    tell_queue_position: bool = True
    # The words the pipeline itself says (channels may reword them).
    not_understood: str = "抱歉，我没有理解您的意思。"
    transferred: str = "已为您转接人工客服，坐席将在这里回复您。"
    handed_over_after_misreads: str = "抱歉，我没能理解您的问题，已为您转接人工客服。"
    forwarded_to_agent: str = "您的消息已转给人工客服。"
    # Said to a menu click (a tap, not a message the customer typed) while an agent holds the
    # conversation: without it a tap on a menu gets no answer at all and looks broken. The
    # click still joins the conversation, named by its label. Empty: silent (channels
    # without menus).
    menu_ack_while_agent: str = ""

    def queue_note(self, position: int | None) -> str:
        if position is None or not self.tell_queue_position:
            return ""
        if position <= 1:
            return "您是下一位，请稍候。"
        return f"您前面还有{position - 1}位客户，请稍候。"
