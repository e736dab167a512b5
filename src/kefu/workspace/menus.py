"""WeChat menu taps as the agent should read them (issue 23, finding 7): 「菜单：人工客服」, the
label the follower tapped, not the CLICK key ("AGENT") or the short command the tap sends to
the assistant ("RG", "H").

The labels come from the official accounts' menus as the hall keeps them
(``kefu.hall.menu``), read-only. A command that no menu item sends stays as it is.
"""

from __future__ import annotations

import hashlib
import re

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.messaging.contract import tap_text

Labels = dict[str, str]  # a command ("RG"), or "key:" + a CLICK key, → the item's label

# The commands a tap sends are the hall's two-letter codes (and "H"); a typed "你好" that a
# greeting item would also send is the customer's own word, so only these are labelled.
_COMMAND = re.compile(r"^[A-Z]{1,2}$")


as_tap = tap_text  # the same words the pipeline stores for a tap while an agent holds the chat


async def click_labels(db: AsyncSession) -> Labels:
    """Every CLICK item of every account's menus: its command and its key → its label. The
    first menu naming an intent wins (accounts rarely label one intent differently)."""
    from kefu.channels.wechat.render import INTENT_COMMANDS
    from kefu.hall.menu import WechatMenu, iter_buttons, parse_action

    labels: Labels = {}
    for buttons in await db.scalars(select(WechatMenu.buttons).order_by(WechatMenu.id)):
        for _path, button in iter_buttons(buttons or {}):
            name = str(button.get("name") or "").strip()
            if button.get("type") != "click" or not name:
                continue
            labels.setdefault(f"key:{button.get('key', '')}", name)
            action = parse_action(button.get("action"))
            command = INTENT_COMMANDS.get(action.intent or "") if action is not None else None
            if command is not None and _COMMAND.match(command):
                labels.setdefault(command, name)
    return labels


def message_text(labels: Labels, channel: str, direction: str, body: str) -> str:
    """A WeChat customer message that is a tap's command reads as the tap; anything else
    unchanged. (A customer who types "RG" means the same as the tap: the assistant reads both
    as the same request.)"""
    if channel != "wechat" or direction != "in":
        return body
    label = labels.get(body.strip())
    return as_tap(label) if label is not None and _COMMAND.match(body.strip()) else body


def subject(labels: Labels, channel: str, text: str) -> str:
    """A conversation a tap opened has the tap's command as its subject: read it as the tap."""
    return message_text(labels, channel, "in", text)


def tapped(labels: Labels, event: str | None, dedupe_key: str, content: str) -> str | None:
    """The tap a stored WeChat CLICK event stands for. The channel keeps no key on the row,
    only in its delivery identity (``…:click:<sha1(key)[:16]>``, kefu.channels.wechat.messages
    ``WechatMessage.dedupe_key``), so the known keys are matched against it."""
    if event != "click" or content:
        return None
    digest = dedupe_key.rsplit(":", 1)[-1]
    for name, label in labels.items():
        if name.startswith("key:"):
            key = name[4:]
            if key and hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()[:16] == digest:
                return as_tap(label)
    return None
