"""Web chat (在线客服): the widget a bank embeds with one script tag, over HTTP and SSE."""

from __future__ import annotations

from pydantic import Field

from kefu.channels.manifest import Capabilities, ChannelManifest
from kefu.channels.webchat import render
from kefu.channels.webchat.config import WebchatSites
from kefu.messaging.policy import HybridPolicy

MANIFEST = ChannelManifest(
    name="webchat",
    title="Web chat",
    capabilities=Capabilities(
        max_text=2000,
        rich_cards=True,
        reply_window="none: the visitor's page receives replies while the session lasts",
    ),
    # Like WeChat: silent while an agent owns the chat, the queue place told, an agent after
    # two messages in a row not understood.
    policy=HybridPolicy(
        silent_while_agent=True,
        handoff_after_misreads=2,
        not_understood=render.NOT_UNDERSTOOD,
    ),
    settings={
        "webchat_sites": (
            WebchatSites,
            Field(
                default_factory=list,
                description="Web sites and apps that embed the chat widget (JSON list in "
                "KEFU_WEBCHAT_SITES, [[webchat_sites]] in kefu.toml).",
            ),
        ),
    },
    routers=("kefu.channels.webchat.views:router", "kefu.channels.webchat.demo_page:router"),
    models=("kefu.channels.webchat.models",),
    start="kefu.channels.webchat.runtime:start",
    cli=(("webchat", "kefu.channels.webchat.cli:app", "Web chat: customer tokens for testing."),),
    demo="kefu.channels.webchat.demo:prepare",
)
