"""Starting web chat in the web process (its API and SSE streams need the channel there); its
relay (agents' replies, the sweep) runs where the process's role says
(``kefu.channels.manifest.Relay``)."""

from __future__ import annotations

from kefu.channels.manifest import ChannelContext, Relay, Started, start_relay
from kefu.channels.webchat.service import WebchatChannel


async def start(ctx: ChannelContext) -> Started | None:
    from kefu.channels.webchat.manifest import MANIFEST  # the manifest imports this module

    sites = ctx.settings.webchat_sites
    if not sites:
        return Started(stop=_nothing, state={"webchat": None})
    channel = WebchatChannel(sites=sites, sessionmaker=ctx.sessionmaker, pipeline=ctx.pipeline,
                             policy=MANIFEST.policy,
                             offers=ctx.services.get("webchat_offers"))  # fmt: skip
    await channel.start()
    offered = await start_relay(ctx, "webchat", Relay(channel.start_relay, channel.stop_relay))
    return Started(stop=channel.stop, state={"webchat": channel}, services=offered)


async def _nothing() -> None:
    return None
