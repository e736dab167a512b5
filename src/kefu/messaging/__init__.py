"""One message path for every channel.

A channel adapter turns its wire traffic into an :class:`~kefu.messaging.contract.InboundMessage`
and hands it to :class:`~kefu.messaging.pipeline.Pipeline`, which identifies, understands,
self-serves and hands off, under the hybrid bot/human policy the channel's manifest configures
(:class:`~kefu.messaging.policy.HybridPolicy`). The channel renders the outcome in its own
format and delivers it. Channels know this package and their protocol; they never import the
assistant, the bank or routing.
"""
