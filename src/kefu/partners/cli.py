"""``kefu partner``: add, list, key, disable/enable partner (CP) accounts from a terminal."""

from __future__ import annotations

import typer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.cli_support import DATABASE_URL_OPTION, fail, run_in_session, settings_for
from kefu.partners import service
from kefu.partners.models import Partner

app = typer.Typer(no_args_is_help=True, help="Partner (CP) accounts under the bank's SP code.")


@app.command("add")
def add(
    name: str,
    sub_code: str = typer.Option(..., "--sub-code", help="Digits after the service number."),
    display_name: str = typer.Option(..., "--display-name"),
    allow: list[str] = typer.Option([], "--allow", help="IP or CIDR the partner calls from."),
    daily_quota: int = typer.Option(10_000, "--daily-quota"),
    rate: float = typer.Option(10.0, "--rate", help="Messages per second."),
    burst: int = typer.Option(100, "--burst", help="Most recipients in one request."),
    database_url: str | None = DATABASE_URL_OPTION,
) -> None:
    """Add a partner; its messages leave from the service number + SUB_CODE."""
    settings = settings_for(database_url)
    terms = service.PartnerTerms(display_name, list(allow), daily_quota, rate, burst)

    async def work(db: AsyncSession) -> Partner:
        return await service.create_partner(
            db, name=name, sub_code=sub_code, terms=terms, actor="cli", links=settings.sms_links,
            reserved_sub_codes=[r.sub_code for r in settings.sms_routes],
        )  # fmt: skip

    try:
        partner = run_in_session(settings, work)
    except service.PartnerError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"partner {partner.name} added (sub-code {partner.sub_code})")


@app.command("list")
def list_partners(database_url: str | None = DATABASE_URL_OPTION) -> None:
    """Partners with their sub-code, state, quota, rate and allowed addresses."""
    settings = settings_for(database_url)

    async def work(db: AsyncSession) -> list[Partner]:
        return list((await db.scalars(select(Partner).order_by(Partner.name))).all())

    for p in run_in_session(settings, work):
        state = "enabled" if p.disabled_at is None else "disabled"
        typer.echo(f"{p.name}\t{p.sub_code}\t{state}\tquota {p.daily_quota}/day\t"
                   f"{p.rate_per_second:g}/s burst {p.burst}\t{' '.join(p.ip_allow) or '-'}")  # fmt: skip


@app.command("key")
def key(name: str, database_url: str | None = DATABASE_URL_OPTION) -> None:
    """Create an API key for partner NAME; it is printed once and only its hash is stored."""
    settings = settings_for(database_url)

    async def work(db: AsyncSession) -> str:
        partner = await service.by_name(db, name)
        return (await service.create_key(db, partner, actor="cli"))[1]

    try:
        typer.echo(run_in_session(settings, work))
    except service.PartnerError as exc:
        raise fail(str(exc)) from None


def _set_enabled(name: str, enabled: bool, database_url: str | None) -> None:
    settings = settings_for(database_url)

    async def work(db: AsyncSession) -> None:
        await service.set_enabled(db, await service.by_name(db, name), enabled=enabled,
                                  actor="cli")  # fmt: skip

    try:
        run_in_session(settings, work)
    except service.PartnerError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"partner {name} {'enabled' if enabled else 'disabled'}")


@app.command("disable")
def disable(name: str, database_url: str | None = DATABASE_URL_OPTION) -> None:
    """Refuse every request of partner NAME until it is enabled again."""
    _set_enabled(name, False, database_url)


@app.command("enable")
def enable(name: str, database_url: str | None = DATABASE_URL_OPTION) -> None:
    """Accept partner NAME's requests again."""
    _set_enabled(name, True, database_url)
