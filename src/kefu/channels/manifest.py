"""What a channel declares about itself, so that the app, the settings, the database models,
the templates, the navigation and the command line find it without naming it.

One ``manifest.py`` per channel folder holds a :class:`ChannelManifest`; ``registry.py`` lists
them. A manifest names its parts by import path (``"module:attribute"``) and imports nothing
heavy itself: the settings are read before the app is built, and a channel's routers and
workers are imported only when the app uses them.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kefu.messaging.policy import HybridPolicy

if TYPE_CHECKING:  # the settings import this module: keep it light
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from kefu.messaging.pipeline import Pipeline


def unique_names(noun: str) -> Callable[[list[Any]], list[Any]]:
    """A validator for a channel's list setting whose entries are told apart by ``name``
    (links, accounts, sites): a name used twice is refused as "<noun> names must be unique"."""

    def check(items: list[Any]) -> list[Any]:
        names = [item.name for item in items]
        if len(names) != len(set(names)):
            raise ValueError(f"{noun} names must be unique")
        return items

    return check


def msgid(text: str) -> str:
    """Marks a UI string for extraction into the gettext catalogues (scripts/update_catalogs.sh
    extracts ``msgid(...)``); it is translated where it is shown."""
    return text


@dataclass(frozen=True)
class NavLink:
    label: str  # an English msgid of the gettext catalogues (translated when shown)
    url: str
    permission: str | None = None  # kefu.auth.permissions.Permission value; None: demo links
    demo_only: bool = False  # shown only while the channel's demo runs in this process


@dataclass(frozen=True)
class Capabilities:
    """Limits a newcomer needs to know before wiring a channel (and the docs list)."""

    max_text: int  # characters one inbound message may carry
    rich_cards: bool  # renders Reply.data as cards (news, widgets); False: plain text only
    reply_window: str = ""  # the platform's timing rule, in words


@dataclass
class Started:
    """A running channel: what it offers the app (``state``: set on ``app.state`` by name,
    ``services``: offered to the channels and workers started after it) and how to stop it."""

    stop: Callable[[], Awaitable[None]]
    state: dict[str, Any] = field(default_factory=dict)
    services: dict[str, Any] = field(default_factory=dict)


@dataclass
class ChannelContext:
    """What a channel's ``start`` gets from the app."""

    settings: Any  # kefu.config.Settings (not imported: the settings import the registry)
    sessionmaker: async_sessionmaker[AsyncSession]
    pipeline: Pipeline
    # What earlier parts offer: "bank" (the bank port), "hall" (the business hall), "sms" (the
    # outbox), …
    services: dict[str, Any]
    demo: Any = None  # the channel's demo object when `kefu demo` runs it in this process

    @property
    def relays(self) -> str:
        """Where this process runs the channels' relays (``RELAYS_*``; default: here)."""
        return str(self.services.get("relays", RELAYS_HERE))


@dataclass(frozen=True)
class Relay:
    """A channel's relay: the loops that move messages between kefu and the platform without a
    request to carry them (agents' replies out, a poller in, answers left by a dead process).
    Where it runs depends on the process's role (``ChannelContext.relays``); ``start`` may be
    called again after ``stop`` (a workers copy that lost its lease and took it back)."""

    start: Callable[[], Awaitable[None]]
    stop: Callable[[], Awaitable[None]]


# Where a process runs its channels' relays (``ChannelContext.relays``): "here" at the
# channel's start (one process: ``kefu serve``, ``kefu demo``, ``kefu run <channel>``);
# "lease" under the workers' lease (``kefu run workers``: the channel offers its relay as the
# service ``relay:<channel>``); "elsewhere" not at all (``KEFU_ROLE=web``).
RELAYS_HERE, RELAYS_UNDER_LEASE, RELAYS_ELSEWHERE = "here", "lease", "elsewhere"


async def start_relay(ctx: ChannelContext, name: str, relay: Relay) -> dict[str, Any]:
    """Starts ``relay`` now when this process runs its relays itself; returns the services the
    channel offers for it (the relay, for the workers' lease to start)."""
    where = ctx.relays
    if where == RELAYS_HERE:
        await relay.start()
        return {}
    if where == RELAYS_UNDER_LEASE:
        return {f"relay:{name}": relay}
    return {}


@dataclass
class DemoSetup:
    """What `kefu demo` tells each channel's demo hook."""

    settings: Any
    host: str
    port: int  # where kefu serves
    ports: dict[str, int]  # the demo command's other port flags (carrier simulators, WeChat)
    phones: list[str]  # the demo customers' bound mobile numbers
    customers: dict[str, str] = field(default_factory=dict)  # phone → the bank's customer no


@dataclass
class DemoPrepared:
    settings: Any  # the settings the app runs with (a channel may add its demo accounts)
    demo: Any = None  # handed to the channel's start as ChannelContext.demo
    lines: list[str] = field(default_factory=list)  # printed before serving


@dataclass(frozen=True)
class ChannelManifest:
    name: str  # kefu.vocabulary.Channel value and the folder name under kefu/channels/
    title: str  # shown to staff (a msgid)
    capabilities: Capabilities
    policy: HybridPolicy  # the hybrid bot/human policy the pipeline applies to this channel
    # Settings fields: name → (type, pydantic Field), read as KEFU_<NAME> or from kefu.toml.
    settings: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)
    routers: tuple[str, ...] = ()  # "module:attribute" of FastAPI routers
    models: tuple[str, ...] = ()  # modules whose tables join Base.metadata
    navigation: tuple[NavLink, ...] = ()
    start: str | None = None  # "module:function": async (ChannelContext) -> Started | None
    # Whether `kefu run <name>` makes sense: the channel works without the web process (SMS's
    # carrier links do; WeChat's callbacks and web chat's API need the web process).
    runs_alone: bool = False
    cli: tuple[tuple[str, str, str], ...] = ()  # (group, "module:typer app", help) under kefu
    commands: tuple[tuple[str, str], ...] = ()  # (command, "module:function") under kefu
    # "module:function": async (DemoSetup) -> DemoPrepared, run by `kefu demo` before serving.
    demo: str | None = None

    @property
    def package(self) -> str:
        return f"kefu.channels.{self.name}"

    @property
    def templates(self) -> Path:
        """``<channel>/templates``; templates are named ``<channel>/<page>.html`` in it."""
        module = importlib.import_module(self.package)
        assert module.__file__ is not None
        return Path(module.__file__).parent / "templates"


def load(path: str) -> Any:
    """The object a ``"module:attribute"`` path names."""
    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)
