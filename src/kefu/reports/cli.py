"""``kefu reports …``: the KPI rollup by hand (or from cron instead of the server's task),
due schedules, and the month's agent KPI sheet (绩效) to a file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import typer
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.cli_support import DATABASE_URL_OPTION, fail, run_in_session, settings_for
from kefu.reports import exports, schedules, service
from kefu.reports.models import KpiHourly, RollupState
from kefu.reports.rollup import rollup as do_rollup

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Service-centre reports: KPI rollup, schedules, agent KPI sheets.")  # fmt: skip


@app.command("rollup")
def rollup_command(
    rebuild: bool = typer.Option(False, help="Forget the rollup and roll every hour up again."),
    database_url: str | None = DATABASE_URL_OPTION,
) -> None:
    """Roll up the hours changed since the last run (idempotent; safe beside the server)."""

    async def work(db: AsyncSession) -> str:
        if rebuild:
            await db.execute(delete(KpiHourly))
            await db.execute(delete(RollupState))
        result = await do_rollup(db, now=datetime.now(UTC))
        return f"{result.hours} hours rolled up, {result.rows} KPI rows, {result.sampled} agents sampled"

    typer.echo(run_in_session(settings_for(database_url), work))


@app.command("run-schedules")
def run_schedules(database_url: str | None = DATABASE_URL_OPTION) -> None:
    """Run the schedules that are due now (the server's task does this every round)."""
    settings = settings_for(database_url)
    zone = ZoneInfo(settings.timezone)

    async def work(db: AsyncSession) -> list[str]:
        runs = await schedules.run_due(
            db, settings=settings.reports, zone=zone, now=datetime.now(UTC)
        )
        return [f"{run.filename}: {run.rows} rows, {run.delivery}" for run in runs]

    for line in run_in_session(settings, work) or ["no schedule is due"]:
        typer.echo(line)


@app.command("agent-sheet")
def agent_sheet(
    month: str = typer.Argument(..., help="YYYY-MM"),
    out: Path = typer.Option(..., help="File to write: .xlsx or .csv"),
    database_url: str | None = DATABASE_URL_OPTION,
) -> None:
    """Write the month's agent KPI sheet (绩效)."""
    try:
        datetime.strptime(month, "%Y-%m")
    except ValueError:
        raise fail(f"month: {month!r} is not YYYY-MM") from None
    if out.suffix not in (".xlsx", ".csv"):
        raise fail("out: the file must end in .xlsx or .csv")
    settings = settings_for(database_url)
    zone = ZoneInfo(settings.timezone)

    async def work(db: AsyncSession) -> tuple[list[str], list[list[object]]]:
        return await service.agent_sheet(
            db, month, settings=settings.reports, zone=zone, translate=str
        )

    header, rows = run_in_session(settings, work)
    if out.suffix == ".csv":
        out.write_text("".join(exports.csv_lines(header, rows)), encoding="utf-8")
    else:
        out.write_bytes(exports.xlsx_bytes(f"agents {month}", header, rows))
    typer.echo(f"{out}: {len(rows)} agents")
