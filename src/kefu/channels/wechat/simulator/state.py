"""What the simulated WeChat server knows: official accounts, tokens, followers and their
service windows, menus, tags, templates, media, and every message sent (for tests and the demo).

Kept in memory: the simulator stands in for a remote system, so it has no place in kefu's
database. One asyncio process serves it, so no locks are needed.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

TOKEN_TTL = 7200
OLD_TOKEN_GRACE = 300  # WeChat keeps the previous token valid 5 minutes after a new fetch
WINDOW = 48 * 3600  # customer-service window after a follower's last interaction
MEDIA_TTL = 3 * 24 * 3600


@dataclass
class SimApp:
    """One official account as WeChat's platform sees it."""

    app_id: str
    secret: str
    token: str = ""  # the callback's server token
    encoding_aes_key: str = ""
    mode: str = "plain"  # how WeChat talks to the callback: plain, compatible, safe
    callback_url: str = ""
    templates: set[str] = field(default_factory=set)


@dataclass
class SimFollower:
    openid: str
    subscribed: bool = True
    last_interaction: float | None = None


@dataclass
class Sent:
    """One message the account sent (custom-send or template), as WeChat received it."""

    seq: int
    app_id: str
    touser: str
    kind: str  # custom, template
    msgtype: str  # text, news, image, voice, video, template
    body: dict[str, Any]
    at: float
    msgid: int

    def as_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "app_id": self.app_id, "touser": self.touser,
                "kind": self.kind, "msgtype": self.msgtype, "body": self.body, "at": self.at,
                "msgid": self.msgid}  # fmt: skip


@dataclass
class SimulatorState:
    apps: dict[str, SimApp] = field(default_factory=dict)
    clock: Callable[[], float] = time.time
    # token → (app_id, expires_at)
    tokens: dict[str, tuple[str, float]] = field(default_factory=dict)
    followers: dict[tuple[str, str], SimFollower] = field(default_factory=dict)
    menus: dict[str, dict[str, Any]] = field(default_factory=dict)
    conditional_menus: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    tags: dict[str, dict[int, str]] = field(default_factory=dict)
    user_tags: dict[tuple[str, str], set[int]] = field(default_factory=dict)
    media: dict[str, tuple[str, str, float]] = field(default_factory=dict)  # id → app, type, exp
    sent: list[Sent] = field(default_factory=list)
    token_fetches: dict[str, int] = field(default_factory=dict)
    # Faults to inject in tests: errcodes returned by the next calls to a path.
    faults: dict[str, list[int]] = field(default_factory=dict)
    _next_id: int = 100

    def add_app(self, app: SimApp) -> SimApp:
        self.apps[app.app_id] = app
        return app

    def next_id(self) -> int:
        self._next_id += 1
        return self._next_id

    # --- tokens ---------------------------------------------------------------------------
    def issue_token(self, app_id: str) -> tuple[str, int]:
        now = self.clock()
        # The previous tokens of this app expire after the grace period.
        for token, (owner, expires) in list(self.tokens.items()):
            if owner == app_id:
                self.tokens[token] = (owner, min(expires, now + OLD_TOKEN_GRACE))
        token = secrets.token_urlsafe(48)
        self.tokens[token] = (app_id, now + TOKEN_TTL)
        self.token_fetches[app_id] = self.token_fetches.get(app_id, 0) + 1
        return token, TOKEN_TTL

    def app_for_token(self, token: str | None) -> tuple[str | None, int]:
        """(app_id, 0) or (None, errcode): 41001 missing, 40001 unknown, 42001 expired."""
        if not token:
            return None, 41001
        found = self.tokens.get(token)
        if found is None:
            return None, 40001
        app_id, expires = found
        if expires <= self.clock():
            return None, 42001
        return app_id, 0

    def expire_tokens(self, app_id: str) -> None:
        """Test helper: every token of the app expires now (as after 2 hours)."""
        for token, (owner, _) in list(self.tokens.items()):
            if owner == app_id:
                self.tokens[token] = (owner, self.clock() - 1)

    # --- followers ------------------------------------------------------------------------
    def follower(self, app_id: str, openid: str) -> SimFollower:
        key = (app_id, openid)
        if key not in self.followers:
            self.followers[key] = SimFollower(openid)
        return self.followers[key]

    def interacted(self, app_id: str, openid: str, *, subscribed: bool | None = None) -> None:
        follower = self.follower(app_id, openid)
        follower.last_interaction = self.clock()
        if subscribed is not None:
            follower.subscribed = subscribed

    def in_window(self, app_id: str, openid: str) -> bool:
        follower = self.followers.get((app_id, openid))
        return bool(
            follower
            and follower.subscribed
            and follower.last_interaction is not None
            and self.clock() - follower.last_interaction < WINDOW
        )

    # --- sent messages --------------------------------------------------------------------
    def record(self, app_id: str, touser: str, kind: str, msgtype: str, body: dict) -> Sent:
        item = Sent(len(self.sent) + 1, app_id, touser, kind, msgtype, body, self.clock(),
                    self.next_id())  # fmt: skip
        self.sent.append(item)
        return item

    def messages(
        self, *, app_id: str | None = None, touser: str | None = None, after: int = 0
    ) -> list[Sent]:
        return [
            s
            for s in self.sent[after:]
            if (app_id is None or s.app_id == app_id) and (touser is None or s.touser == touser)
        ]

    def take_fault(self, path: str) -> int:
        queued = self.faults.get(path)
        return queued.pop(0) if queued else 0
