"""Scheduled reports delivered by e-mail to a local SMTP sink (aiosmtpd), kept for download
whether or not the mail went out; periods and next runs; self-service turns counted by the
message pipeline (the containment KPI's source)."""

from __future__ import annotations

import email
import email.policy
import io
import socket
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.messaging.contract import InboundMessage, Reply, Turn
from kefu.messaging.pipeline import Pipeline
from kefu.messaging.policy import HybridPolicy
from kefu.reports import schedules
from kefu.reports.models import ReportRun, ReportSchedule, SavedReport, SelfServiceTurn
from kefu.reports.settings import ReportsSettings, SmtpSettings
from kefu.reports.turns import customer_key

pytestmark = pytest.mark.db
ZONE = ZoneInfo("Asia/Shanghai")


def _pdf_text(content: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


class Sink:
    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def] # noqa: N802
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 OK"


def test_periods_and_next_runs() -> None:
    wednesday = date(2026, 12, 2)
    assert schedules.period("daily", wednesday) == (date(2026, 12, 1), date(2026, 12, 1))
    assert schedules.period("weekly", wednesday) == (date(2026, 11, 23), date(2026, 11, 29))
    assert schedules.period("monthly", wednesday) == (date(2026, 11, 1), date(2026, 11, 30))
    after = datetime(2026, 12, 2, 0, 0, tzinfo=UTC)  # 08:00 in China: today's 07:00 has passed
    assert schedules.next_run("daily", after, ZONE) == datetime(2026, 12, 3, 7, tzinfo=ZONE)
    assert schedules.next_run("weekly", after, ZONE) == datetime(2026, 12, 7, 7, tzinfo=ZONE)
    assert schedules.next_run("monthly", after, ZONE) == datetime(2027, 1, 1, 7, tzinfo=ZONE)


async def test_due_schedule_is_mailed_and_kept_and_a_dead_server_loses_nothing(
    session: AsyncSession,
) -> None:
    sink = Sink()
    with socket.socket() as probe:  # a free port (aiosmtpd's start-up check needs a real one)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        report = SavedReport(name="日报", owner="supervisor", shared_roles=[],
                             spec={"measures": ["conversations"], "dimensions": ["channel"],
                                   "start": "2026-11-01", "end": "2026-11-01"})  # fmt: skip
        session.add(report)
        await session.flush()
        now = datetime(2026, 12, 2, 0, 0, tzinfo=UTC)
        session.add(ReportSchedule(report_id=report.id, frequency="daily", format="csv",
                                   recipients=["boss@bank.example"], created_by="supervisor",
                                   next_run_at=now))  # fmt: skip
        await session.commit()
        settings = ReportsSettings(smtp=SmtpSettings(host="127.0.0.1", port=port))
        runs = await schedules.run_due(session, settings=settings, zone=ZONE, now=now)
        await session.commit()
        assert [r.delivery for r in runs] == ["sent to 1 recipient(s)"]
        assert len(sink.messages) == 1
        mail = sink.messages[0]
        assert mail["To"] == "boss@bank.example" and mail["Subject"] == "日报 2026-12-01–2026-12-01"
        attachment = next(p for p in mail.walk() if p.get_filename())
        assert attachment.get_filename() == f"report-{report.id}-2026-12-01.csv"
        # Not due again until tomorrow's 07:00.
        assert await schedules.run_due(session, settings=settings, zone=ZONE, now=now) == []

        # A weekly schedule as PDF: the report laid out (Chinese title, the period) and
        # attached as application/pdf; the kept run holds the same file.
        monday = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)  # 08:00 Monday in China
        session.add(ReportSchedule(report_id=report.id, frequency="weekly", format="pdf",
                                   recipients=["boss@bank.example"], created_by="supervisor",
                                   next_run_at=monday))  # fmt: skip
        await session.commit()
        weekly = await schedules.run_due(session, settings=settings, zone=ZONE, now=monday)
        await session.commit()
        assert [r.delivery for r in weekly] == ["sent to 1 recipient(s)"]
        assert weekly[0].media_type == "application/pdf"
        attached = next(p for p in sink.messages[1].walk() if p.get_filename())
        assert attached.get_filename() == f"report-{report.id}-2026-11-23.pdf"
        assert attached.get_content_type() == "application/pdf"
        content = attached.get_payload(decode=True)
        assert content == weekly[0].content and content.startswith(b"%PDF")
        text = _pdf_text(content)
        assert "日报" in text and "2026-11-23 – 2026-11-29" in text

        # The SMTP server gone: the run is still kept, with why it was not sent.
        controller.stop()
        tomorrow = datetime(2026, 12, 3, 0, 0, tzinfo=UTC)
        dead = await schedules.run_due(session, settings=settings, zone=ZONE, now=tomorrow)
        await session.commit()
        assert dead[0].delivery.startswith("not sent:")
        kept = (await session.scalars(select(ReportRun).order_by(ReportRun.id))).all()
        assert len(kept) == 3 and kept[2].content.startswith(b"\xef\xbb\xbf")  # CSV with BOM
    finally:
        if controller.loop.is_running():
            controller.stop()


class Answering:
    """Self-service that answers 查账单 and hands anything else over unanswered."""

    async def handle(self, db: AsyncSession, turn: Turn) -> Reply:
        if "账单" in turn.text:
            return Reply(texts=["本期账单 1,234.00 元"], intent="bill.query")
        return Reply(texts=["没听懂"], intent="unknown", understood=False)

    async def identify(self, db, *, kind, value, customer_no):  # type: ignore[no-untyped-def]
        return False


async def test_pipeline_counts_self_service_turns(session: AsyncSession) -> None:
    pipeline = Pipeline(Answering(), routes=[], today=date.today)
    policy = HybridPolicy(handoff_after_misreads=0)
    for text in ("查账单", "查一下账单", "随便说说"):
        message = InboundMessage(channel="sms", account="95555", sender="13800000009", text=text)
        await pipeline.handle(session, message, policy)
    await session.commit()
    answered = func.sum(func.cast(SelfServiceTurn.answered, SelfServiceTurn.id.type))
    total, yes = (await session.execute(select(func.count(), answered))).one()
    assert (total, yes) == (3, 2)
    # One customer, one session (kefu.reports.turns): the three turns share its start.
    turns = (await session.scalars(select(SelfServiceTurn).order_by(SelfServiceTurn.id))).all()
    assert {t.customer for t in turns} == {customer_key("sms", "13800000009")}
    assert {t.session_at for t in turns} == {turns[0].at}
