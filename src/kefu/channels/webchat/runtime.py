"""Starting web chat in the web process (its API and SSE streams need the channel there)."""

from __future__ import annotations

from kefu.channels.manifest import ChannelContext, Started
from kefu.channels.webchat.service import WebchatChannel


async def start(ctx: ChannelContext) -> Started | None:
    from kefu.channels.webchat.manifest import MANIFEST  # the manifest imports this module

    sites = ctx.settings.webchat_sites
    if not sites:
        return Started(stop=_nothing, state={"webchat": None})
    channel = WebchatChannel(sites=sites, sessionmaker=ctx.sessionmaker, pipeline=ctx.pipeline,
                             policy=MANIFEST.policy)  # fmt: skip
    await channel.start()
    return Started(stop=channel.stop, state={"webchat": channel})


async def _nothing() -> None:
    return None
