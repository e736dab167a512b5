"""``kefu social check-mapping FILE SAMPLE.json``: try a mapping file on a sample request
before a source is configured with it (mounted into ``kefu social`` by kefu/cli.py)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from kefu.channels.social.mapping import MappingError, load_mapping


def check_mapping(
    mapping: Path = typer.Argument(..., help="The mapping file (JSON)."),
    sample: Path = typer.Argument(..., help="A request body the platform sends (JSON)."),
) -> None:
    """Print the posts the mapping makes of the sample, or the error naming the field."""
    try:
        document = json.loads(sample.read_text(encoding="utf-8"))
    except OSError as exc:
        typer.echo(f"cannot read {sample}: {exc.strerror}", err=True)
        raise typer.Exit(2) from None
    except ValueError as exc:
        typer.echo(f"{sample} is not JSON: {exc}", err=True)
        raise typer.Exit(1) from None
    try:
        posts = load_mapping(str(mapping)).posts(document)
    except MappingError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    for post in posts:
        typer.echo(json.dumps(post, ensure_ascii=False, indent=2, sort_keys=True))
    typer.echo(f"ok: {len(posts)} post(s)", err=True)
