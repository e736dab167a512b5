"""Starting the social webhook in the web process (the hooks are its routes)."""

from __future__ import annotations

from kefu.channels.manifest import ChannelContext, Started
from kefu.channels.social.service import SocialHooks


async def start(ctx: ChannelContext) -> Started | None:
    sources = {s.name: s for s in ctx.settings.social_sources}
    hooks = SocialHooks(sources, ctx.sessionmaker, ctx.pipeline) if sources else None
    return Started(stop=_nothing, state={"social_hooks": hooks})


async def _nothing() -> None:
    return None
