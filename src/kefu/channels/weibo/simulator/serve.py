"""Running the simulator on a real loopback socket: ``kefu weibo simulator`` and the tests that
need real HTTP (the 私信 push to a real callback) share ``start``."""

from __future__ import annotations

from kefu.channels.wechat.simulator.serve import Served, serve
from kefu.channels.weibo.simulator.server import build_app
from kefu.channels.weibo.simulator.state import WeiboState


async def start(state: WeiboState, *, host: str = "127.0.0.1", port: int = 0) -> Served:
    """Serves the simulator over ``state`` (port 0: a free one); background traffic and a
    planted crisis set on ``state`` start with it."""
    return await serve(build_app(state), host=host, port=port)


def banner(state: WeiboState, url: str) -> str:
    """What the CLI prints: where things are and how to drive them."""
    callback = state.callback_url or '(none yet: POST /_sim/callback with {"url": ...})'
    return "\n".join(
        [
            f"Weibo API simulator on {url} (api, m.api and c.api hosts all served here)",
            f"  official account: {state.official_name} (uid {state.official.id})",
            f"  app key: {state.app_key}   app secret: {state.app_secret}",
            f"  authorise: {url}/oauth2/authorize?client_id={state.app_key}"
            "&redirect_uri=<your callback>&response_type=code",
            f"  私信 callback: {callback}",
            f"  background traffic: {state.traffic_per_minute:g} posts/minute"
            + (
                f", a {state.crisis_kind} crisis in {state.crisis_in:g} s"
                if state.crisis_in is not None
                else ""
            ),
            f"  control API: {url}/_sim/ (users, posts, comments, dms, faults, clock, tokens/expire,"
            " sent, state, traffic, crisis, callback, limits)",
        ]
    )
