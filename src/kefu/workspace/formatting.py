"""Words, not codes, on the agent desk (issue 23, finding 5): durations as 7分36秒, times in
the bank's time zone (setting ``timezone``) and relative ("3分钟前"), SLA clocks and service
messages by their labels. Installed as Jinja filters on the shared environment by
``desk_templates()``, which the workspace and routing views render with."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kefu.privacy import mask_phone
from kefu.web.i18n import N_, get_locale, gettext_
from kefu.workspace.messages import for_staff

_zone = ZoneInfo("Asia/Shanghai")


def configure(timezone: str) -> None:
    """The bank's time zone (settings.timezone); an unknown name keeps Asia/Shanghai."""
    global _zone
    try:
        _zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        _zone = ZoneInfo("Asia/Shanghai")


def zone() -> ZoneInfo:
    return _zone


def _as_datetime(value: datetime | str | None) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def duration(seconds: float | int | None) -> str:
    """456 → 7分36秒 (English: 7 min 36 s); hours above an hour, seconds dropped."""
    if seconds is None:
        return "—"
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    zh = get_locale() == "zh_CN"
    if hours:
        return f"{hours}小时{minutes}分" if zh else f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes}分{secs}秒" if zh else f"{minutes} min {secs} s"
    return f"{secs}秒" if zh else f"{secs} s"


def local_time(value: datetime | str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored UTC time in the bank's time zone, without a zone suffix."""
    moment = _as_datetime(value)
    return moment.astimezone(_zone).strftime(fmt) if moment else "—"


def ago(value: datetime | str | None, now: datetime | None = None) -> str:
    """刚刚, 3分钟前, 2小时前, 5天前 (English: just now, 3 min ago …)."""
    moment = _as_datetime(value)
    if moment is None:
        return "—"
    seconds = int(((now or datetime.now(UTC)) - moment).total_seconds())
    zh = get_locale() == "zh_CN"
    if seconds < 60:
        return "刚刚" if zh else "just now"
    for size, cn, en in ((86400, "天", "d"), (3600, "小时", "h"), (60, "分钟", "min")):
        if seconds >= size:
            n = seconds // size
            return f"{n}{cn}前" if zh else f"{n} {en} ago"
    return "—"  # pragma: no cover


def sla_clocks(value: str | None) -> str:
    """'first_response,resolution' → 首次响应、解决时限."""
    if not value:
        return "—"
    names = [gettext_(c) for c in value.split(",") if c]  # msgids in kefu.routing.labels
    return "、".join(names) if get_locale() == "zh_CN" else ", ".join(names)


_CONTACT_KINDS = {
    "wechat": N_("WeChat follower %(tail)s"),
    "webchat": N_("Web visitor %(tail)s"),
}


def contact_label(channel: str, contact: str) -> str:
    """How staff see a customer's address: a phone masked (138****8000), a WeChat openid or a
    web-chat visitor id never raw ("微信用户 …id-2"); other handles (a Weibo name) as they are."""
    if not contact:
        return "—"
    if contact.isdigit():
        return mask_phone(contact)
    template = _CONTACT_KINDS.get(channel)
    if template is not None:
        return gettext_(template) % {"tail": "…" + contact[-4:]}
    return contact


def install(env) -> None:  # type: ignore[no-untyped-def]
    env.filters.setdefault("duration", duration)
    env.filters.setdefault("local_time", local_time)
    env.filters.setdefault("ago", ago)
    env.filters.setdefault("sla_clocks", sla_clocks)
    env.filters.setdefault("staff", for_staff)


def desk_templates():  # type: ignore[no-untyped-def]
    """The shared templates with the desk's filters installed. Imported lazily, as every view
    does: importing kefu.web.templating at module import time would import the channel
    registry before the settings are built."""
    from kefu.web.templating import templates

    install(templates.env)
    return templates
