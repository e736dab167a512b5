"""Scheduled reports: daily (yesterday), weekly (last Monday–Sunday), monthly (last month),
each run kept in ``report_runs`` for download (CSV, Excel or PDF) and e-mailed to its recipients through the
configured SMTP server (docs/reports.md). A failed e-mail is recorded on the run, never lost:
the export stays downloadable and the next run still happens."""

from __future__ import annotations

import asyncio
import smtplib
from datetime import date, datetime, time, timedelta
from email.message import EmailMessage
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.logs import get_logger
from kefu.reports import exports, pdf, service
from kefu.reports.builder import ReportSpec
from kefu.reports.models import ReportRun, ReportSchedule, SavedReport
from kefu.reports.settings import ReportsSettings, SmtpSettings

log = get_logger(__name__)

FREQUENCIES = ("daily", "weekly", "monthly")
SEND_AT = time(7, 0)  # local time: before the morning meeting


def period(frequency: str, today: date) -> tuple[date, date]:
    """The finished period a run on ``today`` reports (inclusive days)."""
    if frequency == "daily":
        day = today - timedelta(days=1)
        return day, day
    if frequency == "weekly":
        monday = today - timedelta(days=today.weekday() + 7)
        return monday, monday + timedelta(days=6)
    last = today.replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last


def next_run(frequency: str, after: datetime, zone: ZoneInfo) -> datetime:
    """The next SEND_AT strictly after ``after`` that starts a new period."""
    local = after.astimezone(zone)
    day = local.date()
    while True:
        candidate = datetime.combine(day, SEND_AT, zone)
        due = {"daily": True, "weekly": day.weekday() == 0, "monthly": day.day == 1}[frequency]
        if due and candidate > local:
            return candidate
        day += timedelta(days=1)


def send_mail(smtp: SmtpSettings, recipients: list[str], subject: str, body: str,
              filename: str, content: bytes, media_type: str) -> None:  # fmt: skip
    message = EmailMessage()
    message["From"] = smtp.sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message.set_content(body)
    main, sub = media_type.split(";")[0].split("/")
    message.add_attachment(content, maintype=main, subtype=sub, filename=filename)
    with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout) as client:
        if smtp.starttls:
            client.starttls()
        if smtp.username:
            client.login(smtp.username, smtp.password)
        client.send_message(message)


async def run_schedule(
    session: AsyncSession,
    schedule: ReportSchedule,
    *,
    settings: ReportsSettings,
    zone: ZoneInfo,
    now: datetime,
) -> ReportRun:
    """Runs one schedule for its last finished period: the export kept, the e-mail sent (or
    why not recorded), the next run set."""
    report = await session.get(SavedReport, schedule.report_id)
    assert report is not None  # the schedule's row goes with its report (ON DELETE CASCADE)
    start, end = period(schedule.frequency, now.astimezone(zone).date())
    spec = ReportSpec.model_validate({**report.spec, "start": start, "end": end})
    result = await service.table(session, spec, settings=settings, zone=zone, translate=str,
                                 row_cap=settings.row_cap * 10)  # fmt: skip
    stem = f"report-{report.id}-{start.isoformat()}"
    if schedule.format == "csv":
        content = "".join(exports.csv_lines(result.header, result.rows)).encode("utf-8")
        filename, media_type = f"{stem}.csv", exports.CSV
    elif schedule.format == "pdf":
        # Laid out in a thread (seconds of CPU for thousands of rows); past pdf.ROW_LIMIT
        # rows the PDF says how many it left out (the CSV schedule carries them all).
        subtitle = f"{start.isoformat()} – {end.isoformat()}"
        content = await asyncio.to_thread(pdf.table_pdf, report.name, result.header,
                                          result.rows, subtitle=subtitle)  # fmt: skip
        filename, media_type = f"{stem}.pdf", pdf.MEDIA_TYPE
    else:
        content = exports.xlsx_bytes(report.name, result.header, result.rows)
        filename, media_type = f"{stem}.xlsx", exports.XLSX
    run = ReportRun(
        schedule_id=schedule.id, report_id=report.id, ran_at=now,
        period_start=datetime.combine(start, time(), zone),
        period_end=datetime.combine(end + timedelta(days=1), time(), zone),
        filename=filename, media_type=media_type, content=content, rows=len(result.rows),
    )  # fmt: skip
    if not settings.smtp.host:
        run.delivery = "not sent: no SMTP server configured (kept for download)"
    elif not schedule.recipients:
        run.delivery = "not sent: no recipients (kept for download)"
    else:
        subject = f"{report.name} {start.isoformat()}–{end.isoformat()}"
        body = f"{report.name}: {start.isoformat()} – {end.isoformat()}, {len(result.rows)} rows."
        try:
            await asyncio.to_thread(send_mail, settings.smtp, schedule.recipients, subject, body,
                                    filename, content, media_type)  # fmt: skip
            run.delivery = f"sent to {len(schedule.recipients)} recipient(s)"
        except (OSError, smtplib.SMTPException) as exc:
            log.warning("report_mail_failed", schedule=schedule.id, error=str(exc))
            run.delivery = f"not sent: {exc}"[:200]
    session.add(run)
    schedule.next_run_at = next_run(schedule.frequency, now, zone)
    await session.flush()
    return run


async def run_due(
    session: AsyncSession, *, settings: ReportsSettings, zone: ZoneInfo, now: datetime
) -> list[ReportRun]:
    due = (
        await session.scalars(
            select(ReportSchedule)
            .where(ReportSchedule.active.is_(True), ReportSchedule.next_run_at <= now)
            .order_by(ReportSchedule.id)
            # Two servers' rounds at once: each schedule is run by one (PostgreSQL; SQLite
            # serialises writers anyway).
            .with_for_update(skip_locked=True)
        )
    ).all()
    return [
        await run_schedule(session, schedule, settings=settings, zone=zone, now=now)
        for schedule in due
    ]
