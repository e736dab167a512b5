"""One customer's behaviour on the bank's web and app channels (issue #16, part 4): recent
visits, self-service tasks given up (and at which step), errors met (with browser and OS
versions) and the recorded sessions — so an agent reads "转账未完成 3 次，卡在第 3 步（短信验证码）·
Android 12" before answering, and an analyst sees the same on the customer's page.

The events know the customer only by the keyed hash of the number (kefu.analytics.enrich);
the server computes it here. Everything read is text a browser sent, so it is masked again
for personal numbers (a number typed into a URL or an error message) and cut short; the
templates escape it.

A step is the page a form's fields were on: the transfer's fields sit on three pages (the
details, the confirmation, the SMS code), so giving up on the third page is step 3 — the
same for any multi-page form, without a list of forms.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from kefu.analytics.store.base import EventStore
from kefu.privacy import mask_text

MAX_EVENTS = 5000  # a customer's events read at most (the newest)
# Words for the demo bank's and common forms and fields; others are shown by their name.
FORM_WORDS = {"transfer": "转账", "card_apply": "信用卡申请", "loan_apply": "贷款申请",
              "activate": "激活", "login": "登录"}  # fmt: skip
FIELD_WORDS = {"payee_name": "收款人", "payee_account": "收款账号", "amount": "金额",
               "remark": "附言", "sms_code": "短信验证码", "name": "姓名", "id_number": "身份证号",
               "mobile": "手机号", "income": "收入", "password": "密码"}  # fmt: skip


@dataclass
class Visit:
    site: str
    session_id: str
    started: datetime
    seconds: int
    pages: int
    landing: str
    device: str  # "Android 12 · Chrome Mobile 120"
    outcome: str  # words: 完成转账, 放弃信用卡申请, 遇到错误, 浏览
    errors: int
    replay: bool = False


@dataclass
class FailedTask:
    form: str
    words: str
    attempts: int
    step: int  # the page (1-based) of the last give-up
    steps: int  # pages the form's fields were seen on in that session
    field: str  # the field words of the last give-up
    device: str
    last: datetime
    sessions: list[str] = field(default_factory=list)

    @property
    def line(self) -> str:
        where = f"卡在第 {self.step} 步" + (f"（{self.field}）" if self.field else "")
        return f"{self.words}未完成 {self.attempts} 次，{where} · {self.device}"


@dataclass
class ErrorMet:
    text: str  # the message or the failed URL (masked, cut short)
    status: int
    page: str
    device: str
    count: int
    last: datetime


@dataclass
class Behaviour:
    days: int
    visits: list[Visit]
    failed: list[FailedTask]
    errors: list[ErrorMet]

    @property
    def summary(self) -> list[str]:
        return [t.line for t in self.failed[:3]]


def _device(browser: str, bv: str, os: str, ov: str) -> str:
    return " · ".join(p for p in (f"{os} {ov}".strip(), f"{browser} {bv}".strip()) if p) or "—"


def _clean(text: str, limit: int = 120) -> str:
    text = mask_text(str(text or ""))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _ts(value: Any) -> datetime:
    """The store's UTC time (naive in DuckDB), made aware so pages show the bank's zone."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def read(store: EventStore, sites: list[str], hashed: str, until: date, days: int) -> Behaviour:
    """The behaviour of the customer whose hash is ``hashed`` over the ``days`` days to
    ``until`` (blocking: run it in a worker thread)."""
    if not sites:
        return Behaviour(days, [], [], [])
    marks = ", ".join("?" for _ in sites)
    rows = store.query(
        f"""SELECT site, session_id, ts, type, path, target, field, status, browser,
                   browser_version, os, os_version
            FROM events WHERE site IN ({marks}) AND day BETWEEN ? AND ? AND customer_hash = ?
            ORDER BY ts DESC LIMIT {MAX_EVENTS}""",
        [*sites, until - timedelta(days=days - 1), until, hashed],
    )
    sessions: dict[tuple[str, str], list[tuple[Any, ...]]] = defaultdict(list)
    for r in reversed(rows):  # oldest first within each session
        sessions[(r[0], r[1])].append(r)
    visits: list[Visit] = []
    failed: dict[str, FailedTask] = {}
    errors: dict[tuple[str, int, str, str], ErrorMet] = {}
    for (site, sid), events in sessions.items():
        first, last = _ts(events[0][2]), _ts(events[-1][2])
        device = _device(events[0][8], events[0][9], events[0][10], events[0][11])
        views = [e for e in events if e[3] == "pageview"]
        form_pages: dict[str, list[str]] = defaultdict(list)  # form → its pages, in order
        outcome, n_errors = "浏览", 0
        for e in events:
            kind, path, target, fld = e[3], e[4], e[5], e[6]
            if kind == "form_field" and path not in form_pages[target]:
                form_pages[target].append(path)
            elif kind == "form_submit":
                outcome = f"完成{FORM_WORDS.get(target, target)}"
            elif kind == "form_abandon":
                pages = form_pages[target] or [path]
                step = pages.index(path) + 1 if path in pages else len(pages)
                words = FORM_WORDS.get(target, _clean(target, 40))
                outcome = f"放弃{words}"
                task = failed.get(target)
                if task is None:
                    task = failed[target] = FailedTask(target, words, 0, 0, 0, "", "", _ts(e[2]))
                task.attempts += 1
                task.sessions.append(sid)
                if _ts(e[2]) >= task.last or task.step == 0:
                    task.step, task.steps, task.last = step, len(pages), _ts(e[2])
                    task.field = FIELD_WORDS.get(fld, _clean(fld, 40))
                    task.device = _device(e[8], e[9], e[10], e[11])
            elif kind in ("error", "http_error"):
                n_errors += 1
                key = (_clean(target), int(e[7] or 0), _clean(path, 80), device)
                met = errors.get(key)
                if met is None:
                    errors[key] = ErrorMet(key[0], key[1], key[2], device, 1, _ts(e[2]))
                else:
                    met.count += 1
                    met.last = max(met.last, _ts(e[2]))
        if n_errors and outcome == "浏览":
            outcome = "遇到错误"
        visits.append(Visit(site, sid, first, int((last - first).total_seconds()), len(views),
                            _clean(views[0][4], 80) if views else "—", device, outcome,
                            n_errors))  # fmt: skip
    visits.sort(key=lambda v: v.started, reverse=True)
    return Behaviour(
        days,
        visits[:20],
        sorted(failed.values(), key=lambda t: (-t.attempts, -t.last.timestamp())),
        sorted(errors.values(), key=lambda m: m.last, reverse=True)[:10],
    )
