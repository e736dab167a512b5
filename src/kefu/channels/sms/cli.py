"""The SMS channel's commands: ``kefu phone``, a terminal handset for the demo's carrier
simulator (``kefu run sms`` comes from the registry)."""

from __future__ import annotations

import time

import typer

from kefu.channels.sms.numbers import is_mobile
from kefu.cli_support import fail


def phone_command(
    number: str = typer.Argument(..., help="The handset's mobile number, e.g. 13800138000."),
    control_url: str = typer.Option(
        "http://127.0.0.1:2776", "--control-url", help="The carrier simulator's control API."
    ),
    service_number: str = typer.Option("95511", "--to", help="Number to text."),
) -> None:
    """A terminal phone: type a line to text the hall; replies are printed as they arrive."""
    import httpx

    if not is_mobile(number):
        raise fail("NUMBER: an 11-digit mainland mobile number")
    client = httpx.Client(base_url=control_url, timeout=5)
    try:
        seen = len(client.get("/mt", params={"to": number}).json())
    except httpx.HTTPError as exc:
        raise fail(
            f"--control-url: no carrier simulator answers at {control_url} ({exc})"
        ) from None
    typer.echo(f"{number} → {service_number}; type a message, empty line to quit")
    while True:
        try:
            line = input("> ").strip()
        except EOFError:
            break
        if not line:
            break
        response = client.post("/mo", json={"from": number, "to": service_number, "text": line})
        if response.status_code != 200:
            typer.echo(f"  (refused: {response.text})")
            continue
        deadline = time.time() + 10
        while time.time() < deadline:
            messages = client.get("/mt", params={"to": number}).json()
            if len(messages) > seen:
                for message in messages[seen:]:
                    typer.echo(f"< {message['text']}")
                seen = len(messages)
                break
            time.sleep(0.2)
        else:
            typer.echo("  (no reply within 10 s)")
