"""``kefu weibo``: the Weibo open API simulator as a process."""

from __future__ import annotations

import asyncio
import contextlib

import typer

from kefu.channels.weibo.authorize import authorize_command
from kefu.cli_support import fail

app = typer.Typer(help="Weibo: the open API simulator.", no_args_is_help=True)


@app.callback()
def weibo() -> None:
    """Weibo: the open API simulator."""  # a group even with one command: `kefu weibo simulator`


@app.command("simulator")
def simulator(
    port: int = typer.Option(8090, "--port", min=0, max=65535, help="0 picks a free port."),
    host: str = typer.Option("127.0.0.1", "--host"),
    official: str = typer.Option("某某银行", "--official", help="The bank's official account."),
    callback: str = typer.Option(
        "", "--callback", help="Where 私信 are pushed (kefu's Weibo callback URL)."
    ),
    app_key: str = typer.Option("3100000000", "--app-key"),
    app_secret: str = typer.Option("kefu-weibo-simulator-secret", "--app-secret"),
    traffic_per_minute: float = typer.Option(
        0.0, "--traffic-per-minute", min=0, max=6000, help="Background posts per minute."
    ),
    crisis_in: float | None = typer.Option(
        None, "--crisis-in", min=0, help="Plant a card-fraud rumour this many seconds in."
    ),
    seed: int = typer.Option(2026, "--seed", help="Of the generated traffic."),
) -> None:
    """Serve Weibo's open API (OAuth2, @mentions, comments, 私信 push and replies, search,
    hourly limits) and the /_sim control API on loopback. Point the Weibo account's api_base,
    dm_api_base and search_api_base at the printed URL."""
    from kefu.channels.weibo.simulator.serve import banner, start
    from kefu.channels.weibo.simulator.state import WeiboState

    if callback and not callback.startswith(("http://", "https://")):
        raise fail("--callback: must be an http:// or https:// URL")
    if not official.strip():
        raise fail("--official: the account needs a screen name")
    if not app_key.strip() or not app_secret.strip():
        raise fail("--app-key/--app-secret: must not be empty")
    state = WeiboState(
        official_name=official.strip(),
        app_key=app_key,
        app_secret=app_secret,
        callback_url=callback,
        traffic_per_minute=traffic_per_minute,
        crisis_in=crisis_in,
        seed=seed,
    )

    async def run() -> None:
        try:
            served = await start(state, host=host, port=port)
        except OSError as exc:
            raise fail(f"--port: cannot listen on {host}:{port} ({exc.strerror})") from None
        typer.echo(banner(state, served.url))
        await served.task

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


# The OAuth2 authorisation from a terminal (the channel's; kefu.channels.weibo.authorize).
app.command("authorize")(authorize_command)
