"""The generic social webhook (Douyin, Xiaohongshu, forums, app-store reviews): signed JSON
mapped to posts by a mapping file, into the same route as Weibo's posts."""

from __future__ import annotations

from pydantic import Field

from kefu.channels.manifest import Capabilities, ChannelManifest, NavLink, msgid
from kefu.channels.social.config import SocialSources
from kefu.messaging.policy import HybridPolicy

MANIFEST = ChannelManifest(
    name="social",
    title="Social platforms",
    capabilities=Capabilities(
        max_text=10_000,
        rich_cards=False,
        reply_window="none through kefu: agents answer on the platform (no reply API is driven)",
    ),
    # Every post of a source is public: the social desk's route takes it; self-service never
    # answers (the policy is the plain default, used by nothing today).
    policy=HybridPolicy(),
    settings={
        "social_sources": (
            SocialSources,
            Field(
                default_factory=list,
                description="Social webhook sources (JSON list in KEFU_SOCIAL_SOURCES, "
                "[[social_sources]] in kefu.toml): name, platform, secret, mapping file.",
            ),
        ),
    },
    routers=("kefu.channels.social.views:router", "kefu.channels.social.admin:router"),
    navigation=(NavLink(msgid("Social sources"), "/social/sources", permission="social.channels"),),
    start="kefu.channels.social.runtime:start",
)
