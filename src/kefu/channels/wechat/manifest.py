"""The WeChat channel: official accounts' callbacks (the five-second rule), custom-send and
template messages, the demo's phone page and the API simulator. The business hall's H5 pages,
menus and regions are ``kefu.hall``'s (banking, not wire)."""

from __future__ import annotations

from pydantic import Field

from kefu.channels.manifest import Capabilities, ChannelManifest, NavLink, msgid
from kefu.channels.wechat import render
from kefu.channels.wechat.config import HttpBaseUrl, WechatAccounts
from kefu.messaging.policy import HybridPolicy

MANIFEST = ChannelManifest(
    name="wechat",
    title="WeChat",
    capabilities=Capabilities(
        max_text=2048,
        rich_cards=True,
        reply_window="a passive reply within 5 s, else custom-send within 48 h of the "
        "follower's last message, else a template message",
    ),
    # Hybrid answering: silent while an agent owns the conversation, the queue place told, an
    # agent after two messages in a row not understood.
    policy=HybridPolicy(
        silent_while_agent=True,
        handoff_after_misreads=2,
        not_understood=render.NOT_UNDERSTOOD,
        transferred=render.TRANSFERRED,
        handed_over_after_misreads=render.HANDED_OVER_AFTER_MISUNDERSTANDING,
        forwarded_to_agent="您的消息已转给人工客服。",
        menu_ack_while_agent=render.MENU_ACK_WHILE_AGENT,
    ),
    settings={
        "wechat_accounts": (
            WechatAccounts,
            Field(
                default_factory=list,
                description="WeChat official accounts (JSON list in KEFU_WECHAT_ACCOUNTS, "
                "[[wechat_accounts]] in kefu.toml).",
            ),
        ),
        "wechat_api_base_url": (
            HttpBaseUrl,
            Field(
                default="https://api.weixin.qq.com",
                description="WeChat's server API; the simulator's URL in tests and the demo.",
            ),
        ),
        "wechat_oauth_base_url": (
            HttpBaseUrl,
            Field(
                default="https://open.weixin.qq.com",
                description="Where H5 pages send followers for OAuth2 (snsapi_base); the "
                "simulator's URL in tests and the demo.",
            ),
        ),
        "wechat_reply_budget": (
            float,
            Field(
                default=3.5,
                gt=0,
                le=4.5,
                description="Seconds a callback waits for the answer before replying 'success' "
                "and sending it through the customer-service API (WeChat gives up at 5 s).",
            ),  # fmt: skip
        ),
        "wechat_recover_after": (
            float,
            Field(
                default=60.0,
                ge=1,
                le=3600,
                description="Seconds after which an answer nobody is delivering (its process "
                "died) is answered again by the recovery and sent through custom-send "
                "(channels/wechat/recovery.py); well past WeChat's last retry (~15 s).",
            ),  # fmt: skip
        ),
        "wechat_timestamp_window": (
            int,
            Field(default=300, ge=10, description="Seconds a callback's timestamp may be off by."),
        ),
        "wechat_max_body_bytes": (int, Field(default=65_536, ge=1024, le=1_048_576)),
    },
    routers=(
        "kefu.channels.wechat.callback:router",
        "kefu.channels.wechat.phone:router",
    ),
    models=("kefu.channels.wechat.models",),
    navigation=(NavLink(msgid("WeChat phone"), "/demo/wechat", demo_only=True),),
    start="kefu.channels.wechat.runtime:start",
    cli=(
        ("wechat", "kefu.channels.wechat.cli:app", "WeChat official accounts: the API simulator."),
    ),
    demo="kefu.channels.wechat.demo:prepare",
)
