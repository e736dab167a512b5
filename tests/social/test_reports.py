"""Social reports (issue #14 item 7): each template's figures against ones computed by hand on
a small seeded set (local days, spam left out, first agent reply and close times), the custom
report's grouping, filters and validation, saving and opening, CSV/XLSX exports with formula
cells neutralised, hostile text escaped and numbers masked, and who may read them."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.conversations.models import Conversation, Message
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.social import reports
from kefu.social.models import SocialPost
from tests.conftest import CSRF, login
from tests.social.store_support import session  # noqa: F401 - the fixture

pytestmark = pytest.mark.db

PERIOD = reports.Filters(date(2026, 11, 29), date(2026, 11, 30))
HOSTILE_NAME = "<b>王</b>13812345678"
FORMULA_TOPIC = "=1+1<i>账单</i>"
QUERY = "start=2026-11-29&end=2026-11-30"


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


async def _seed(db: AsyncSession) -> None:
    """Seven posts; the expected figures in the tests below are worked out from this list."""

    def conv(posted: datetime, reply: int | None, closed: int | None) -> Conversation:
        c = Conversation(channel="weibo", status="closed" if closed else "open",
                         closed_at=posted + timedelta(minutes=closed) if closed else None)  # fmt: skip
        msgs = [Message(channel="weibo", direction="in", sender_type="customer", body="?",
                        created_at=posted + timedelta(minutes=0.5)),
                # The bot's answer is not an agent's first response.
                Message(channel="weibo", direction="out", sender_type="bot", body="您好",
                        created_at=posted + timedelta(minutes=1))]  # fmt: skip
        if reply is not None:
            for later in (reply, reply + 7):
                msgs.append(Message(channel="weibo", direction="out", sender_type="agent",
                                    body="已处理", created_at=posted + timedelta(minutes=later)))  # fmt: skip
        c.messages = msgs
        return c

    rows = [
        # id, platform, posted, sentiment, emotion, keywords, topic, influence, author, state, conversation (reply, closed minutes)
        ("p1", "weibo", _at(29, 2), "negative", "anger", ["盗刷", "客服"], "盗刷", 70.0, "u1", "engaged", (10, 60)),
        ("p2", "weibo", _at(29, 3), "neutral", "neutral", ["账单"], FORMULA_TOPIC, 10.0, "u2", "queued", (30, None)),
        ("p3", "weibo", _at(30, 1), "negative", "anxiety", ["盗刷"], "盗刷", 50.0, "u1", "listening", None),
        ("p4", "douyin", _at(30, 2), "positive", "praise", ["服务", "客服"], "服务", 20.0, "u3", "engaged", (5, 20)),
        ("p5", "weibo", _at(30, 4), "neutral", "neutral", ["套现"], "广告", 90.0, "u9", "spam", None),
        # 16:30 UTC on the 28th is 00:30 on the 29th in Shanghai: in the period.
        ("p6", "weibo", _at(28, 16, 30), "positive", "praise", [], "13812345678", 5.0, "u4", "ignored", None),
        # 15:59 UTC on the 28th is 23:59 on the 28th in Shanghai: before the period.
        ("p7", "weibo", _at(28, 15, 59), "negative", "anger", ["盗刷"], "盗刷", 99.0, "u5", "listening", None),
    ]  # fmt: skip
    for ext, platform, posted, label, emotion, words, topic, infl, uid, state, c in rows:
        row = SocialPost(
            platform=platform, external_id=ext, kind="comment" if ext == "p6" else "mention",
            author_uid=uid, author_name=HOSTILE_NAME if uid == "u1" else uid,
            author_verified_type=0 if uid == "u4" else -1, text="…", posted_at=posted,
            sentiment_label=label, emotion=emotion, keywords=words, topic=topic,
            intent="fraud" if topic == "盗刷" else None, influence=infl, state=state,
        )  # fmt: skip
        if c is not None:
            conversation = conv(posted, *c)
            db.add(conversation)
            await db.flush()
            row.conversation_id = conversation.id
        db.add(row)
    await db.commit()


@pytest.fixture
async def facts(session: AsyncSession) -> list[reports.Fact]:  # noqa: F811
    await _seed(session)
    return await reports.load_facts(session, PERIOD)


async def test_the_period_is_local_days_and_spam_is_left_out(facts: list[reports.Fact]) -> None:
    assert sorted(f.author_uid for f in facts) == ["u1", "u1", "u2", "u3", "u4"]
    assert reports.volume(facts, PERIOD.days) == {
        "douyin": {"2026-11-29": 0, "2026-11-30": 1},
        "weibo": {"2026-11-29": 3, "2026-11-30": 1},
    }


async def test_sentiment_trend_shares_per_day(facts: list[reports.Fact]) -> None:
    assert reports.sentiment_trend(facts, PERIOD.days) == {
        "2026-11-29": {"posts": 3, "negative": 0.3333, "neutral": 0.3333, "positive": 0.3333},
        "2026-11-30": {"posts": 2, "negative": 0.5, "neutral": 0.0, "positive": 0.5},
    }


async def test_top_topics_and_keywords_with_their_negative_share(
    facts: list[reports.Fact],
) -> None:
    topics = [(r.name, r.posts, r.negative_share) for r in reports.top_topics(facts)]
    assert topics == [("盗刷", 2, 1.0), ("13812345678", 1, 0.0), (FORMULA_TOPIC, 1, 0.0),
                      ("服务", 1, 0.0)]  # fmt: skip
    words = [(r.name, r.posts, r.negative_share) for r in reports.top_keywords(facts)]
    assert words == [("客服", 2, 0.5), ("盗刷", 2, 1.0), ("服务", 1, 0.0), ("账单", 1, 0.0)]


async def test_first_response_and_resolution_per_platform(facts: list[reports.Fact]) -> None:
    timings = {t.platform: t for t in reports.response_times(facts)}
    # weibo: agent replies after 10 and 30 minutes (the bot's at 1 does not count), one close
    # after 60; median of [10, 30] is 20, p90 by nearest rank is 30.
    assert timings["weibo"] == reports.Timing("weibo", 4, 2, 20.0, 30.0, 1, 60.0, 60.0)
    assert timings["douyin"] == reports.Timing("douyin", 1, 1, 5.0, 5.0, 1, 20.0, 20.0)


async def test_influence_of_handled_and_unhandled_authors(facts: list[reports.Fact]) -> None:
    data = reports.influence_report(facts)
    assert data["buckets"] == {
        "0–20": {"handled": 1, "unhandled": 1},
        "20–40": {"handled": 1, "unhandled": 0},
        "40–60": {"handled": 0, "unhandled": 0},
        "60–80": {"handled": 1, "unhandled": 0},
        "80–100": {"handled": 0, "unhandled": 0},
    }
    top = [(a.uid, a.influence, a.posts, a.handled) for a in data["top"]]
    assert top == [("u1", 70.0, 2, True), ("u3", 20.0, 1, True), ("u2", 10.0, 1, True),
                   ("u4", 5.0, 1, False)]  # fmt: skip


async def test_emotion_mix(facts: list[reports.Fact]) -> None:
    assert list(reports.emotion_mix(facts).items()) == [
        ("praise", 2), ("anger", 1), ("anxiety", 1), ("neutral", 1),
    ]  # fmt: skip


async def test_custom_report_groups_and_measures(facts: list[reports.Fact]) -> None:
    spec = reports.Spec.parse(["platform"], list(reports.MEASURES))
    table = reports.custom_report(spec, facts)
    assert table.header == ["平台", "帖子数", "负面占比", "平均影响力", "已处理占比",
                            "首次响应中位数（分钟）"]  # fmt: skip
    assert table.rows == [["douyin", 1, 0.0, 20.0, 1.0, 5.0], ["weibo", 4, 0.5, 33.8, 0.5, 20.0]]
    two = reports.custom_report(reports.Spec.parse(["day", "sentiment_label"], ["posts"]), facts)
    assert two.rows == [["2026-11-29", "negative", 1], ["2026-11-29", "neutral", 1],
                        ["2026-11-29", "positive", 1], ["2026-11-30", "negative", 1],
                        ["2026-11-30", "positive", 1]]  # fmt: skip
    verified = reports.custom_report(reports.Spec.parse(["verified_type"], ["posts"]), facts)
    assert verified.rows == [[-1, 4], [0, 1]]


async def test_custom_report_filters(session: AsyncSession) -> None:  # noqa: F811
    await _seed(session)
    spec = reports.Spec.parse(["platform"], ["posts"])

    async def rows(**equal: str) -> list[list[object]]:
        filters = reports.Filters(PERIOD.start, PERIOD.end, **equal)
        return reports.custom_report(spec, await reports.load_facts(session, filters)).rows

    assert await rows(emotion="praise") == [["douyin", 1], ["weibo", 1]]
    assert await rows(platform="douyin") == [["douyin", 1]]
    assert await rows(state="spam") == [["weibo", 1]]  # asked for: spam is shown
    assert await rows(state="listening") == [["weibo", 1]]  # p7 is before the period


@pytest.mark.parametrize(
    ("dims", "measures", "message"),
    [
        (["platform; drop table social_posts"], ["posts"], "维度：未知的维度「platform; drop table social_posts」"),
        (["platform"], ["sum(id)"], "指标：未知的指标「sum(id)」"),
        ([], ["posts"], "维度：请至少选择一个维度"),
        (["platform"], [], "指标：请至少选择一个指标"),
        (["platform", "day", "kind", "state"], ["posts"], "维度：最多选择 3 个"),
    ],
)  # fmt: skip
def test_unknown_or_missing_fields_are_named_in_chinese(
    dims: list[str], measures: list[str], message: str
) -> None:
    with pytest.raises(reports.ReportInvalid) as caught:
        reports.Spec.parse(dims, measures)
    assert str(caught.value) == message


def test_period_validation() -> None:
    with pytest.raises(reports.ReportInvalid, match="结束日期早于开始日期"):
        reports.Filters(date(2026, 12, 2), date(2026, 12, 1)).validate()
    with pytest.raises(reports.ReportInvalid, match="最长 366 天"):
        reports.Filters(date(2025, 1, 1), date(2026, 12, 1)).validate()
    with pytest.raises(reports.ReportInvalid, match="未知的状态"):
        reports.Filters(date(2026, 12, 1), date(2026, 12, 1), state="x").validate()


def test_p90_is_the_nearest_rank() -> None:
    assert reports.p90(list(range(1, 11))) == 9
    assert reports.p90(list(range(1, 12))) == 10
    assert reports.p90([]) is None and reports.median([]) is None


# -- the pages --------------------------------------------------------------------------------
@pytest.fixture
def seeded(seeded_url: str) -> None:
    async def go() -> None:
        engine = make_engine(seeded_url)
        try:
            async with make_sessionmaker(engine)() as db:
                await _seed(db)
        finally:
            await engine.dispose()

    asyncio.run(go())


def test_template_pages_escape_and_mask(client: TestClient, seeded: None) -> None:
    login(client, "analyst")
    for template in ("volume", "sentiment", "topics", "timing", "influence", "emotion"):
        page = client.get(f"/social/reports?template={template}&{QUERY}")
        assert page.status_code == 200, template
        assert 'data-testid="report-chart"' in page.text
    topics = client.get(f"/social/reports?template=topics&{QUERY}").text
    assert "<i>账单</i>" not in topics and "&lt;i&gt;账单&lt;/i&gt;" in topics
    assert "13812345678" not in topics and "138****5678" in topics  # a topic is post text
    influence = client.get(f"/social/reports?template=influence&{QUERY}").text
    assert "13812345678" not in influence and "<b>王</b>" not in influence
    assert "138****5678" in influence
    timing = client.get(f"/social/reports?template=timing&{QUERY}&platform=douyin").text
    assert "<td>douyin</td>" in timing and "<td>weibo</td>" not in timing
    bad = client.get("/social/reports?start=2026-13-01&end=2026-12-01")
    assert bad.status_code == 422 and "开始日期：日期格式应为 YYYY-MM-DD" in bad.text


def test_custom_report_page_exports_and_errors(client: TestClient, seeded: None) -> None:
    login(client, "supervisor")
    base = f"/social/reports/custom?dimension=topic&measure=posts&measure=negative_share&{QUERY}"
    page = client.get(base)
    assert page.status_code == 200 and "&lt;i&gt;账单&lt;/i&gt;" in page.text
    bad = client.get(f"/social/reports/custom?dimension=password&{QUERY}")
    assert bad.status_code == 422 and "维度：未知的维度「password」" in bad.text
    assert client.get(f"/social/reports/custom.csv?measure=x&{QUERY}").status_code == 422

    exported = client.get(base.replace("custom?", "custom.csv?"))
    assert exported.status_code == 200
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows == [["话题", "帖子数", "负面占比"], ["138****5678", "1", "0.0"],
                    ["'" + FORMULA_TOPIC, "1", "0.0"], ["服务", "1", "0.0"],
                    ["盗刷", "2", "1.0"]]  # fmt: skip

    book = load_workbook(io.BytesIO(client.get(base.replace("custom?", "custom.xlsx?")).content))
    sheet = book.active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0] == ["话题", "帖子数", "负面占比"]
    assert values[2] == ["'" + FORMULA_TOPIC, 1, 0.0]  # text, not a formula
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)
    assert values[4] == ["盗刷", 2, 1.0]


def test_saved_reports_private_or_shared(client: TestClient, seeded: None) -> None:
    login(client, "supervisor")
    token = CSRF.search(client.get("/social/reports/custom").text).group(1)  # type: ignore[union-attr]
    form = {"csrf": token, "name": "<s>平台负面</s>", "dimension": ["platform"],
            "measure": ["posts", "negative_share"], "start": "2026-11-29", "end": "2026-11-30"}  # fmt: skip
    saved = client.post("/social/reports/custom", data=form, follow_redirects=False)
    assert saved.status_code == 303
    private_url = saved.headers["location"]
    opened = client.get(private_url)
    assert opened.status_code == 200
    assert "&lt;s&gt;平台负面&lt;/s&gt;" in opened.text and "<s>平台负面" not in opened.text
    assert "<td>weibo</td><td>4</td><td>0.5</td>" in opened.text
    assert client.get(private_url.replace("custom?", "custom.csv?")).content.decode(
        "utf-8-sig"
    ).splitlines() == ["平台,帖子数,负面占比", "douyin,1,0.0", "weibo,4,0.5"]
    shared = client.post("/social/reports/custom", data=form | {"name": "共享", "shared": "1"},
                         follow_redirects=False).headers["location"]  # fmt: skip
    refused = client.post("/social/reports/custom", data=form | {"measure": ["drop"]})
    assert refused.status_code == 422 and "报表未保存：指标：未知的指标「drop」" in refused.text
    unnamed = client.post("/social/reports/custom", data=form | {"name": " "})
    assert unnamed.status_code == 422 and "报表未保存：名称：请填写 1 到 80 个字" in unnamed.text
    # What was chosen is still there, with its table.
    assert 'value="platform" checked' in unnamed.text and 'value="2026-11-29"' in unnamed.text
    assert "<td>weibo</td><td>4</td><td>0.5</td>" in unnamed.text

    client.cookies.clear()
    login(client, "analyst")
    assert client.get(private_url).status_code == 404  # another's private report
    assert client.get(shared).status_code == 200
    token = CSRF.search(client.get(shared).text).group(1)  # type: ignore[union-attr]
    report_id = shared.rsplit("=", 1)[1]
    delete = f"/social/reports/saved/{report_id}/delete"
    assert client.post(delete, data={"csrf": token}).status_code == 403  # only the owner


def test_agents_do_not_read_reports(client: TestClient) -> None:
    login(client, "agent1")
    assert client.get("/social/reports").status_code == 403
    assert client.get("/social/reports/custom.csv").status_code == 403


def test_a_saved_relative_period_stays_relative(client: TestClient, seeded: None) -> None:
    login(client, "analyst")
    token = CSRF.search(client.get("/social/reports/custom").text).group(1)  # type: ignore[union-attr]
    form = {"csrf": token, "name": "近两天", "dimension": ["platform"], "measure": ["posts"],
            "days": "2"}  # fmt: skip
    url = client.post("/social/reports/custom", data=form, follow_redirects=False)
    opened = client.get(url.headers["location"])
    assert opened.status_code == 200 and 'name="days" min="1" max="366" value="2"' in opened.text
    # The seeded posts are from November 2026's end, long before "the last two days" of today.
    assert "该时间段内没有帖子" in opened.text or "No posts in the period" in opened.text
