"""Staff pages speak Chinese first: the routing and workspace services raise plain English
messages (the JSON API keeps them), and the page routes pass them through ``for_staff`` to
show them in the reader's language (gettext: zh_CN by default, English on request)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import HTTPException

from kefu.web.i18n import N_, gettext_

# (pattern of the English message, message id with %(name)s placeholders from the groups)
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p), m)
    for p, m in [
        (r"conversation (?P<id>\d+) is not being routed", N_("Conversation %(id)s is not in any queue.")),
        (r"this conversation is not offered to you \(the offer may have lapsed\)",
         N_("This conversation is not offered to you (the offer may have lapsed); claim it from the queue.")),
        (r"this conversation is not offered to you", N_("This conversation is not offered to you.")),
        (r"(?:Value error, )?give exactly one of to_agent_id or to_queue", N_("Choose either an agent or a queue, not both.")),
        (r"this conversation is closed", N_("This conversation is closed.")),
        (r"already closed", N_("This conversation is closed.")),
        (r"no queue '(?P<queue>[^']*)'", N_("There is no queue “%(queue)s”.")),
        (r"no agent (?P<id>\d+)", N_("There is no agent %(id)s who takes conversations.")),
        (r"(?P<name>.+) is not online \((?P<presence>\w+)\)", N_("%(name)s is not online (%(presence)s).")),
        (r"already assigned to this agent", N_("This conversation is already with that agent.")),
        (r"(?P<name>.+) has no free capacity on (?P<channel>\w+)",
         N_("%(name)s has no free capacity on %(channel)s.")),
        (r"no conversation (?P<id>\d+)", N_("There is no conversation %(id)s.")),
        (r"this conversation is not assigned to you.*", N_("This conversation is not assigned to you: claim it or accept the offer first.")),
        (r"reason: an escalation needs a reason", N_("An escalation needs a reason.")),
        (r"select at least one conversation", N_("Select at least one conversation.")),
        (r"script: no script with shortcut '/?(?P<shortcut>[^']*)'", N_("There is no script with the shortcut /%(shortcut)s.")),
        (r"body: give a body or a script shortcut", N_("Write a reply or choose a script.")),
        (r"a reply needs 1–(?P<n>\d+) characters", N_("A reply needs 1 to %(n)s characters.")),
        (r"a note needs 1–(?P<n>\d+) characters", N_("A note needs 1 to %(n)s characters.")),
        (r"unknown variables \[(?P<names>[^\]]*)\].*",
         N_("Unknown variables %(names)s; use {name} {title} {card_tail} {agent} {channel}.")),
        (r"the text has an unbalanced brace.*", N_("The text has an unbalanced brace { or }.")),
        (r"SLA (?P<clock>\w+) breached", N_("SLA %(clock)s breached")),
        (r"choose a card: (?P<reason>.*)", N_("Choose which card the reply names: %(reason)s.")),
    ]
]  # fmt: skip
_TRANSLATED_VALUES = {"channel", "presence", "clock"}


def for_staff(message: str) -> str:
    """The message in the reader's language; unknown messages are returned unchanged."""
    for pattern, template in _PATTERNS:
        match = pattern.fullmatch(message.strip())
        if match:
            values = {
                k: gettext_(v) if k in _TRANSLATED_VALUES else v
                for k, v in match.groupdict().items()
            }
            return gettext_(template) % values if values else gettext_(template)
    return message


@contextmanager
def staff_errors() -> Iterator[None]:
    """Re-raises an HTTPException with its detail in the reader's language (page routes)."""
    try:
        yield
    except HTTPException as exc:
        if isinstance(exc.detail, str):
            raise HTTPException(
                exc.status_code, for_staff(exc.detail), headers=exc.headers
            ) from None
        raise
