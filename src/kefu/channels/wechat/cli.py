"""``kefu wechat``: the WeChat API simulator as a process, and sending as a follower."""

from __future__ import annotations

import asyncio
import json

import typer

from kefu.cli_support import fail, settings_for

app = typer.Typer(help="WeChat official accounts: the API simulator.", no_args_is_help=True)


@app.command("simulator")
def simulator(
    port: int = typer.Option(8100, "--port", min=0, max=65535),
    host: str = typer.Option("127.0.0.1", "--host"),
    kefu_url: str = typer.Option(
        "http://127.0.0.1:8000", "--kefu-url", help="Where kefu's callbacks are served."
    ),
    demo: bool = typer.Option(False, "--demo", help="Simulate the demo account only."),
) -> None:
    """Serve WeChat's server API (token, menus, tags, messages, media, OAuth2) for the accounts
    in KEFU_WECHAT_ACCOUNTS; followers' messages go to KEFU_URL/channels/wechat/NAME. Point
    KEFU_WECHAT_API_BASE_URL (and KEFU_WECHAT_OAUTH_BASE_URL) at it."""
    import uvicorn

    from kefu.channels.wechat.demo import DEMO_TEMPLATES, demo_account
    from kefu.channels.wechat.simulator import DEFAULT_ROUTERS, SimApp, SimulatorState, build_app

    if not kefu_url.startswith(("http://", "https://")):
        raise fail("--kefu-url: must be an http:// or https:// URL")
    accounts = [demo_account()] if demo else settings_for(None).wechat_accounts
    if not accounts:
        raise fail("KEFU_WECHAT_ACCOUNTS: no account is configured (or pass --demo)")
    state = SimulatorState()
    for a in accounts:
        templates = set(a.templates.values()) or set(DEMO_TEMPLATES.values())
        state.add_app(SimApp(a.app_id, a.app_secret, a.token, a.encoding_aes_key, a.mode,
                             callback_url=f"{kefu_url.rstrip('/')}/channels/wechat/{a.name}",
                             templates=templates))  # fmt: skip
    routers = list(DEFAULT_ROUTERS)
    try:
        from kefu.channels.wechat.simulator.oauth import router as oauth_router
    except ImportError:
        pass
    else:
        routers.append(oauth_router)
    typer.echo(f"WeChat API simulator on http://{host}:{port} for "
               + ", ".join(f"{a.name} ({a.app_id})" for a in accounts))  # fmt: skip
    uvicorn.run(build_app(state, routers), host=host, port=port, log_level="warning")


@app.command("send")
def send(
    openid: str = typer.Argument(..., help="The follower's openid."),
    text: str = typer.Argument(..., help="What the follower types."),
    appid: str = typer.Option(..., "--appid", help="The official account's AppID."),
    simulator_url: str = typer.Option("http://127.0.0.1:8100", "--simulator-url"),
) -> None:
    """Send TEXT as a follower through the simulator (signed and encrypted like WeChat) and
    print the passive reply."""
    import httpx

    async def go() -> dict:
        async with httpx.AsyncClient(timeout=20) as http:
            r = await http.post(f"{simulator_url}/_simulator/followers/send",
                                json={"appid": appid, "openid": openid, "msg_type": "text",
                                      "content": text})  # fmt: skip
            if r.status_code != 200:
                raise fail(f"--appid: the simulator refused ({r.status_code}): {r.text[:200]}")
            return r.json()

    try:
        answer = asyncio.run(go())
    except httpx.HTTPError as exc:
        raise fail(f"--simulator-url: no simulator answers at {simulator_url} ({exc})") from None
    typer.echo(json.dumps(answer, ensure_ascii=False, indent=2))
