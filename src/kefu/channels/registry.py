"""The channels this kefu has: one line each. Adding a channel is its folder plus one line here
(the app, settings, models, templates, navigation and CLI read the manifests)."""

from __future__ import annotations

import importlib
from functools import cache

from kefu.channels.manifest import ChannelManifest

CHANNELS = (
    "kefu.channels.sms.manifest",
    "kefu.channels.wechat.manifest",
    "kefu.channels.webchat.manifest",
    "kefu.channels.social.manifest",
    "kefu.channels.weibo.manifest",
)


@cache
def manifests() -> tuple[ChannelManifest, ...]:
    """Every channel's manifest, in registry order (the order they start in)."""
    return tuple(importlib.import_module(path).MANIFEST for path in CHANNELS)


def manifest(name: str) -> ChannelManifest:
    for m in manifests():
        if m.name == name:
            return m
    raise KeyError(f"no channel {name!r} in kefu.channels.registry")
