"""The Weibo channel: the official account's @mentions, comments and replies to its comments
(polled with checkpoints), its 私信 (pushed), public comment replies and 私信 replies, the
OAuth2 authorisation page, and the API simulator (``simulator/``, ``kefu weibo simulator``).
Social analysis and the social desk are ``kefu.social``'s: this is the wire only."""

from __future__ import annotations

from pydantic import Field

from kefu.channels.manifest import Capabilities, ChannelManifest, NavLink, msgid
from kefu.channels.weibo.config import WeiboAccounts
from kefu.messaging.policy import HybridPolicy

MANIFEST = ChannelManifest(
    name="weibo",
    title="Weibo",
    capabilities=Capabilities(
        max_text=2000,
        rich_cards=False,
        reply_window="public comment replies at most 140 characters; 私信 replies within 48 h "
        "of the user's last 私信",
    ),
    # 私信 are answered like a chat (the bot, then an agent); public posts never get the bot.
    policy=HybridPolicy(
        silent_while_agent=True,
        handoff_after_misreads=2,
        forwarded_to_agent="您的私信已转给人工客服。",
    ),
    settings={
        "weibo_accounts": (
            WeiboAccounts,
            Field(
                default_factory=list,
                description="Official Weibo accounts (JSON list in KEFU_WEIBO_ACCOUNTS, "
                "[[weibo_accounts]] in kefu.toml).",
            ),
        ),
        "weibo_max_body_bytes": (
            int,
            Field(
                default=65_536,
                ge=1024,
                le=1_048_576,
                description="Largest 私信 push body accepted (413 beyond).",
            ),
        ),  # fmt: skip
        "weibo_http_timeout": (
            float,
            Field(
                default=10.0,
                gt=0,
                le=120,
                description="Seconds a Weibo API call may take before it counts as timed out.",
            ),
        ),  # fmt: skip
    },
    routers=(
        "kefu.channels.weibo.push:router",
        "kefu.channels.weibo.views:router",
        "kefu.channels.weibo.demo_page:router",
    ),
    models=("kefu.channels.weibo.models",),
    navigation=(
        NavLink(msgid("Weibo accounts"), "/admin/weibo", permission="social.channels"),
        NavLink(msgid("Weibo"), "/demo/weibo", demo_only=True),
    ),
    start="kefu.channels.weibo.runtime:start",
    cli=(("weibo", "kefu.channels.weibo.cli:app", "Weibo: the API simulator, authorisation."),),
    demo="kefu.channels.weibo.demo:prepare",
)
