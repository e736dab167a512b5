"""Reply texts for SMS: terse, amounts as ¥1,234.56, card numbers as 尾号1234.

Every reply fits as few 70-character UCS2 segments as the content allows; the bank's
signature is added by the channel, not here.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from kefu.bank.models import (
    Account,
    Bill,
    Card,
    Movement,
    RepaymentDue,
    Statement,
    Transaction,
)
from kefu.branch.waits import BranchWait
from kefu.subscriptions.service import (
    CODES,
    DAYS_BEFORE_MAX,
    DAYS_BEFORE_MIN,
    THRESHOLD_MAX,
    THRESHOLD_MIN,
    Service,
    SubscriptionError,
    SubscriptionView,
)

HELP = (
    "回复代码办理：ZD账单 YE余额 MX明细 HK还款 GS挂失 JF积分 ED额度 PD排队 "
    "RG人工 DY订阅 TD退订 BD绑定 TS投诉 H帮助"
)
NOT_UNDERSTOOD = "抱歉，没有理解您的意思。" + HELP
GREETING = "您好！我是智能客服。" + HELP
NOT_BOUND = "您的手机号尚未绑定，暂不能查询账户信息。回复BD开始绑定（约1分钟）。"
NOT_REGISTERED = "该手机号不是本行预留手机号，无法绑定。请通过手机银行或网点更新预留手机号。"
ASK_MONTH = "请问查询哪个月的账单？如回复：3月、上个月。"
LAST4_WRONG = "后4位与登记信息不符，请重新回复“卡号或身份证后4位 验证码”。"
BIND_NEED_BOTH = "请同时回复卡号或身份证号后4位和验证码，如：1234 123456。"
LAST4_GIVE_UP = "身份核实未通过，绑定已取消。如需帮助请回复RG转人工。"
CODE_WRONG = "验证码不正确，请重新回复6位验证码。"
CODE_DEAD = "验证码已失效，请重新发起。"
RATE_LIMITED = "验证码发送过于频繁，请1小时后再试。"
BOUND = "绑定成功！现在可直接查询，如回复ZD查账单、YE查余额。"
NO_CREDIT_CARD = "您名下暂无有效信用卡。"
NO_ACCOUNT = "您名下暂无有效账户。"
TRANSFERRED = "已为您转接人工客服，请稍候，坐席将通过短信回复您。"
OPTED_IN = "订阅成功，您将收到本行优惠活动短信。回复TD YX可随时退订。"
OPTED_OUT_MARKETING = "已退订营销短信，账单等定制提醒不受影响。回复DY YX可重新订阅。"
BANK_DOWN = "系统繁忙，暂时无法查询，请稍后再试或回复RG转人工。"


def money(amount: Decimal) -> str:
    return f"¥{amount:,.2f}"


def tail(number: str) -> str:
    return f"尾号{number[-4:]}"


def month_label(period: str) -> str:
    year, month = period.split("-")
    return f"{year}年{int(month)}月"


def day_label(day: date) -> str:
    return f"{day.month}月{day.day}日"


def bill(card: Card, b: Bill, top: int = 3) -> str:
    spending = sorted((line for line in b.lines if line.amount > 0), key=lambda x: -x.amount)[:top]
    items = "、".join(f"{line.description}{money(line.amount)}" for line in spending)
    text = (
        f"{tail(card.card_no)}信用卡{month_label(b.period)}账单：应还{money(b.total)}，"
        f"最低还款{money(b.minimum_due)}，到期日{day_label(b.due_date)}"
    )
    if b.paid >= b.total:
        text += "（已还清）"
    elif b.paid > 0:
        text += f"（已还{money(b.paid)}）"
    return text + (f"。主要消费：{items}。" if items else "。")


def no_bill(card: Card, period: str) -> str:
    return f"{tail(card.card_no)}信用卡{month_label(period)}无账单（仅可查询近12个月）。"


def balances(accounts: list[Account]) -> str:
    parts = [f"{tail(a.account_no)}{'活期' if a.kind == 'savings' else '结算'}账户余额{money(a.balance)}"
             for a in accounts]  # fmt: skip
    return "；".join(parts) + "。"


def transactions(account: Account, txs: list[Transaction]) -> str:
    rows = [
        f"{t.posted_at.month}/{t.posted_at.day} {t.description}"
        f"{'+' if t.amount > 0 else '-'}{money(abs(t.amount))}"
        for t in txs
    ]
    return (
        f"{tail(account.account_no)}账户近{len(txs)}笔："
        + "；".join(rows)
        + f"。余额{money(account.balance)}。"
    )


def repayment(card: Card, due: RepaymentDue) -> str:
    if due.outstanding <= 0:
        return f"{tail(card.card_no)}信用卡{month_label(due.period)}账单已还清。"
    return (
        f"{tail(card.card_no)}信用卡本期待还{money(due.outstanding)}，最低还款"
        f"{money(max(due.minimum_due - due.paid, Decimal('0')))}，请于{day_label(due.due_date)}前还款。"
    )


def points(cards: list[Card]) -> str:
    total = sum(c.points or 0 for c in cards)
    return f"您的信用卡积分共{total:,}分。"


def credit_limits(cards: list[Card]) -> str:
    parts = [f"{tail(c.card_no)}额度{money(c.credit_limit or 0)}，可用{money(c.available_credit or 0)}"
             for c in cards]  # fmt: skip
    return "；".join(parts) + "。"


def pick_card(cards: list[Card], code: str) -> str:
    listed = "、".join(
        f"{c.card_no[-4:]}（{'信用卡' if c.kind == 'credit' else '借记卡'}）" for c in cards
    )
    example = cards[0].card_no[-4:]
    return (
        f"您名下的卡：{listed}。挂失后该卡立即停用。请回复要挂失的卡尾号和验证码确认，"
        f"如：{example} {code}（5分钟内有效）。"
    )


LOSS_TAIL_UNKNOWN = "尾号不在您的卡片列表中，请核对后回复“尾号 验证码”。"
LOSS_NEED_CODE = "请在卡尾号后加上验证码一起回复，如：1234 123456。"


def confirm_loss(card: Card, code: str) -> str:
    return f"您将挂失{tail(card.card_no)}的卡，挂失后该卡立即停用。确认请回复验证码{code}（5分钟内有效）。"


def loss_done(card: Card, reference: str) -> str:
    return f"{tail(card.card_no)}的卡已挂失，挂失编号{reference}。补卡请携身份证到网点办理。"


def bind_code(code: str) -> str:
    return (
        f"验证码{code}，5分钟内有效，勿告诉他人。请回复您任一本行卡号或身份证号后4位和验证码"
        f"完成绑定，如：1234 {code}。"
    )


def bind_code_sent() -> str:
    return "验证码已发送至您的预留手机号。请回复卡号或身份证号后4位和验证码，如：1234 123456。"


def branches(city: str, waits: list[BranchWait], service_label: str = "") -> str:
    """PD: the nearest branches, numbered for ``PD n``, with their predicted wait."""
    if not waits:
        return f"{city}暂无本行网点。"
    parts = []
    for i, w in enumerate(waits, 1):
        if w.wait_seconds is None:
            parts.append(f"{i}.{w.branch.name}暂停取号（{w.branch.opening_hours}）")
        else:
            minutes = max(1, round(w.wait_seconds / 60))
            parts.append(f"{i}.{w.branch.name}排队{w.waiting}人，约等{minutes}分钟")
    what = f"{service_label}：" if service_label else "："
    return f"{city}附近网点{what}{'；'.join(parts)}。回复PD加序号远程取号，如PD 1。"


def _minutes(seconds: float | None) -> str:
    return "" if seconds is None else f"，预计等候约{max(1, round(seconds / 60))}分钟"


def branch_ticket(branch_name: str, service_label: str, label: str, state: str, ahead: int,
                  wait_seconds: float | None, *, existing: bool) -> str:  # fmt: skip
    """PD n: the ticket taken (or the one already held), people ahead, predicted wait."""
    head = (f"您今天已有号票{label}（{branch_name}，{service_label}），请勿重复取号"
            if existing else f"已为您在{branch_name}取号{label}（{service_label}）")  # fmt: skip
    if state == "called":
        return f"{head}。已叫号，请尽快到网点办理。"
    if state == "parked":
        return f"{head}。您的号票暂缓办理中，请到原窗口办理。"
    if ahead <= 3:
        return f"{head}，前面{ahead}人{_minutes(wait_seconds)}，请尽快前往网点。"
    return f"{head}，前面{ahead}人{_minutes(wait_seconds)}。前面还剩3人时短信提醒您。"


BRANCH_PICK_NOT_NUMBER = "请回复PD加网点序号取号，如PD 1；查询网点请发PD加城市，如PD 深圳。"
BRANCH_PICK_NO_CITY = "请先发送“PD 城市”查询附近网点（如PD 深圳），再回复PD加序号取号。"
BRANCH_PICK_PHONE_ONLY = "取号请用手机短信发送PD加序号，或在网点地图远程取号。"


def branch_pick_out_of_range(n: int, count: int) -> str:
    choices = "PD 1" if count == 1 else f"PD 1到PD {count}"
    return f"没有第{n}个网点，请回复{choices}选择网点。"


def branch_ticket_refused(reason: str) -> str:
    return f"取号未成功：{reason}。可回复PD查看其他网点。"


def complaint_taken(number: int) -> str:
    return f"您的投诉已受理（编号TS{number:06d}），专人将在24小时内联系您。"


# --- subscriptions (定制) ---------------------------------------------------------------

SERVICE_NAMES = {
    Service.BILL_READY: "账单提醒",
    Service.REPAYMENT_REMINDER: "还款提醒",
    Service.BALANCE_ALERT: "动账提醒",
}
_MENU = (
    "定制服务：ZD账单提醒，HK还款提醒（到期前N天），YE动账提醒（单笔达N元），YX优惠活动。"
    "回复如DY HK 5订阅，TD HK退订。"
)


def _subscribed_label(view: SubscriptionView) -> str:
    name = SERVICE_NAMES[view.service]
    if view.days_before is not None:
        return f"{name}（前{view.days_before}天）"
    if view.threshold is not None:
        return f"{name}（{money(view.threshold)}起）"
    return name


def subscription_menu(current: list[SubscriptionView] | None) -> str:
    """The services with their codes, and what this customer has (None: not bound)."""
    if current is None:
        return _MENU + "需先绑定手机号，回复BD。"
    if not current:
        return _MENU + "您尚未订阅。"
    return _MENU + "已订：" + "、".join(_subscribed_label(v) for v in current) + "。"


UNKNOWN_SERVICE = "未识别的服务代码。" + _MENU


def subscribed(view: SubscriptionView) -> str:
    code = CODES[view.service]
    if view.service is Service.REPAYMENT_REMINDER:
        what = f"还款到期日前{view.days_before}天短信提醒您"
    elif view.service is Service.BALANCE_ALERT:
        what = f"单笔收支达{money(view.threshold or 0)}时短信通知您"
    else:
        what = "每月账单出账后短信通知您"
    return f"已订阅{SERVICE_NAMES[view.service]}：{what}。回复TD {code}退订。"


def unsubscribed(service: Service, existed: bool) -> str:
    name = SERVICE_NAMES[service]
    if not existed:
        return f"您未订阅{name}。回复DY查看可订服务。"
    return f"已退订{name}。回复DY {CODES[service]}可重新订阅。"


def subscription_refused(error: SubscriptionError) -> str:
    if error.field == "days_before":
        return f"提醒天数须为{DAYS_BEFORE_MIN}-{DAYS_BEFORE_MAX}天，如：DY HK 5。"
    return f"提醒金额须为{money(THRESHOLD_MIN)}-{money(THRESHOLD_MAX)}，如：DY YE 1000。"


def opted_out(ended: list[Service], channel: str = "sms") -> str:
    """A plain TD: exactly what stopped, and what did not, in the channel's words."""
    also = "及" + "、".join(SERVICE_NAMES[s] for s in ended) if ended else ""
    if channel != "sms":
        return (f"已为您关闭营销消息推送{also}，验证码和查询回复不受影响。"
                f"如需恢复优惠消息请发送“{RESUBSCRIBE}”。")  # fmt: skip
    return f"退订成功，已停止营销短信{also}。验证码和查询回复不受影响。回复DY可重新订阅。"


# Chat channels (WeChat, web chat) have no reply codes to teach: the words a follower sends
# to turn the bank's offers back on or off (subscriptions.parse_request reads both).
RESUBSCRIBE = "订阅优惠"
UNSUBSCRIBE = "退订优惠"


def opted_out_marketing(channel: str) -> str:
    """TD YX (the bank's offers only), in the channel's words."""
    if channel != "sms":
        return f"已为您关闭营销消息推送，账单等定制提醒不受影响。如需恢复请发送“{RESUBSCRIBE}”。"
    return OPTED_OUT_MARKETING


def opted_in(channel: str) -> str:
    """DY YX (the bank's offers back on), in the channel's words."""
    if channel != "sms":
        return f"已为您开启优惠活动消息推送。如需关闭请发送“{UNSUBSCRIBE}”。"
    return OPTED_IN


def bill_ready_notice(st: Statement) -> str:
    return (
        f"{tail(st.card_no)}信用卡{month_label(st.period)}账单已出：应还{money(st.total)}，"
        f"最低还款{money(st.minimum_due)}，到期日{day_label(st.due_date)}。回复ZD查明细，TD ZD退订。"
    )


def repayment_notice(st: Statement, days_left: int) -> str:
    when = "今天" if days_left == 0 else f"{days_left}天后（{day_label(st.due_date)}）"
    minimum = max(st.minimum_due - st.paid, Decimal("0"))
    return (
        f"{tail(st.card_no)}信用卡{month_label(st.period)}账单{when}到期，待还{money(st.outstanding)}，"
        f"最低还款{money(minimum)}。已还请忽略，TD HK退订。"
    )


def balance_notice(mv: Movement) -> str:
    moved = "收入" if mv.amount > 0 else "支出"
    at = mv.posted_at
    return (
        f"{tail(mv.account_no)}账户{at.month}月{at.day}日{at:%H:%M}{moved}{money(abs(mv.amount))}"
        f"（{mv.description}），余额{money(mv.balance_after)}。TD YE退订。"
    )
