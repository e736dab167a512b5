"""Crisis detection on a replayed Weibo stream: kefu's Kleinberg detector against a z-score baseline.

Run: .venv/bin/python benchmarks/social_bursts.py   (about five minutes: three seeds)

Per seed, eight hours of stream time:
- background: ``kefu.channels.weibo.simulator.traffic.generate`` (people @-ing the bank,
  commenting, talking about it: complaints, questions, praise, news, spam), 20 posts a minute,
  plus 4 a minute of real weibo2018 posts (general Weibo, not about the bank) when
  ``../shared/data/weibo2018/train.txt`` is there (read at run time, never shipped);
- 24 planted crises: twelve kinds × 2 (card fraud — the simulator's own rumour —, app outage,
  data leak, a wealth product that cannot pay out, ATM swallowing cards, hidden fees, a clerk
  abusing a customer, impostors of the bank's staff, a bank-run rumour, frozen accounts, a
  mortgage rate rise, lost transfers), negative, each with a known start, a ramp to its peak
  (6–20 posts a minute) over ~10 minutes, 20–35 minutes long, with reposts and big-V posts;
- 24 surges that are not crises: twelve kinds × 2 of positive campaign buzz (the simulator's
  anniversary draw, coupons, double points, a new card, a wealth festival, cash-back) and of
  neutral news (an LPR cut, a branch opening, a new app version, the annual report, digital
  yuan pilots, holiday hours), shaped the same way.
Events start at random times between minute 30 and the last half hour, so two or three
overlap at a time. Every post is analysed by ``kefu.social.analysis.analyse_post`` (fast
models, ``deep=False``: a replay; ``--deep`` runs the encoder) and fed to both detectors as
``StreamPost(at, keywords + topic, sentiment_label == "negative", reach_of(followers,
reposts))``, in time order, with ``advance`` each minute; and once more with reach = the
post's influence score (0–100, what the crisis desk's worker feeds).

Scoring: an alert is a true positive when its term is one of the terms that name a planted
crisis (listed per kind below: its own words and the topic label analysis gives it) and it is
raised within that crisis' window (start to end); every other alert is a false positive, and
the table lists their terms. Recall = crises with a true alert / crises; precision = true
alerts / alerts; delay = first true alert − crisis start, in stream minutes (median, p90).
The detectors' parameters were chosen on seed 100; the figures are seeds 1–3 and their median.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from kefu.channels.weibo.simulator.traffic import SimPost, crisis_rate, generate
from kefu.channels.weibo.simulator.traffic import crisis as simulated_crisis
from kefu.language.resources import shared_data_dir
from kefu.social.analysis import Author, PostInput, analyse_post
from kefu.social.detector import BurstAlert, BurstDetector, StreamPost, ZScoreDetector, reach_of
from kefu.social.influence import influence_score

BANK = "某某银行"
START = datetime(2026, 11, 2, 8, 0)
FILL = {
    "amount": ("300", "680", "1200", "2999", "5000", "8600", "2万"),
    "n": ("2", "3", "5", "两", "好几"),
    "city": ("北京", "上海", "广州", "深圳", "杭州", "成都", "武汉", "南京"),
    "angry": ("太坑了", "气死我了", "请给个说法", "再也不敢用了", "简直离谱", "必须投诉"),
    "emo_neg": ("[怒]", "[抓狂]", "[衰]", ""),
    "happy": ("太香了", "点赞", "良心了", "冲冲冲", "推荐"),
    "emo_pos": ("[赞]", "[哈哈]", "[good]", ""),
}


@dataclass(frozen=True)
class Kind:
    name: str
    crisis: bool  # a crisis (negative) or a surge that is not one
    terms: frozenset[str]  # terms an alert may name to count for this crisis
    texts: tuple[str, ...]
    reposts: tuple[str, ...]


def _kind(name: str, crisis: bool, terms: str, texts: tuple[str, ...], reposts: str) -> Kind:
    return Kind(name, crisis, frozenset(terms.split()), texts, tuple(reposts.split()))


# "card_fraud" and "campaign_buzz" come from the simulator itself (its crisis()).
KINDS = (
    _kind("card_fraud", True, "盗刷 信用卡盗刷 被盗刷 信用卡 维权 集体维权", (), ""),
    _kind("app_outage", True, "崩了 崩溃 app App故障 手机银行 登录 系统 转账 繁忙 登不上", (
        "{bank}App又崩了，转账转不出去，{angry}{emo_neg}",
        "#{bank}App崩了# 从早上到现在都登不上，工资都取不出来",
        "@{bank} 手机银行是不是崩了？一直显示系统繁忙{emo_neg}",
        "{bank}系统崩溃{n}个小时了，还款日就在今天，逾期算谁的？{angry}",
        "{bank}手机银行崩了，客服电话也打不通，{angry}",
    ), "崩了+1 同崩 一样登不上"),
    _kind("data_leak", True, "泄露 信息泄露 个人信息 骚扰电话 骚扰 信息", (
        "刚在{bank}办完卡就天天接到贷款骚扰电话，个人信息肯定被泄露了{emo_neg}",
        "{bank}泄露客户信息，骗子连我的身份证号都知道，{angry}",
        "#{bank}信息泄露# 有没有人和我一样，骚扰电话一天{n}个",
        "@{bank} 我的个人信息是怎么泄露出去的？请给个说法",
    ), "同样被骚扰 泄露太可怕 转发微博"),
    _kind("wealth_default", True, "暴雷 爆雷 兑付 理财产品 理财 逾期 本金 血本无归", (
        "{bank}代销的理财产品暴雷了，到期不能兑付，{amount}本金血本无归{emo_neg}",
        "#{bank}理财暴雷# 经理说保本的产品现在兑付不了，{angry}",
        "@{bank} 理财产品逾期兑付到底什么时候还钱？{angry}",
        "听说{bank}的理财暴雷了，{city}好几个投资者去网点讨说法",
    ), "暴雷了 同买了 血本无归"),
    _kind("atm_swallow", True, "ATM atm 吞卡 假币 取款机 取款", (
        "{bank}的ATM吞卡还吐出假币，{angry}{emo_neg}",
        "{city}{bank}取款机连续吞卡，排了{n}个人都被吞了，{angry}",
        "@{bank} ATM取款取出来一张假币，你们怎么解释？",
        "#{bank}ATM吐假币# 大家取款的时候注意检查",
    ), "吓人 检查一下 转发微博"),
    _kind("hidden_fee", True, "管理费 扣费 扣费年费 乱收费 收费 小额账户 偷偷", (
        "{bank}偷偷扣小额账户管理费，一年扣了我{amount}，{angry}",
        "@{bank} 凭什么乱收费？没有任何通知就扣管理费{emo_neg}",
        "#{bank}乱收费# 大家查查自己的卡，是不是也被偷偷扣费了",
        "{bank}的管理费说扣就扣，这是抢钱吧{emo_neg}",
    ), "我也被扣了 查了一下真扣了 乱收费"),
    _kind("clerk_abuse", True, "柜员 辱骂 老人 视频 态度 网点排队 网点", (
        "{city}{bank}柜员辱骂老人的视频传开了，这服务态度{angry}",
        "#{bank}柜员辱骂老人# 视频看得我太生气了{emo_neg}",
        "@{bank} 你们柜员骂哭一个老人家，给个说法",
        "看了{bank}柜员辱骂老人的视频，以后不去这家网点了",
    ), "太过分了 心疼老人 必须道歉"),
    _kind("impostor", True, "冒充 诈骗 骗走 骗子 被骗 客服 电话", (
        "有人冒充{bank}客服打电话，骗走了我妈{amount}元{emo_neg}",
        "#{bank}客服诈骗# 骗子连我的卡号余额都知道，{angry}",
        "@{bank} 冒充你们客服的骗子为什么知道我的信息？被骗了{amount}",
        "{city}多人被冒充{bank}客服的电话诈骗，大家小心",
    ), "小心骗子 已提醒家人 被骗了"),
    _kind("bank_run", True, "倒闭 取钱 挤兑 存款 跑路 排长队", (
        "听说{bank}要倒闭了，{city}网点门口排长队取钱{emo_neg}",
        "#{bank}挤兑# 存款还能取出来吗？{angry}",
        "@{bank} 网传你们要倒闭，我的存款怎么办？",
        "{bank}是不是要跑路了，取个钱都限额{emo_neg}",
    ), "赶紧取钱 真的假的 吓死了"),
    _kind("account_freeze", True, "冻结 账户冻结 工资卡 解冻 无缘无故", (
        "{bank}无缘无故冻结我的工资卡，房租都交不了，{angry}",
        "@{bank} 账户被冻结{n}天了，打客服只让等，{angry}",
        "#{bank}乱冻结# 一大批人的卡被冻结了，解冻要跑网点{emo_neg}",
        "{bank}冻结账户连个理由都没有{emo_neg}",
    ), "我也被冻结了 同冻结 解冻太难了"),
    _kind("mortgage_hike", True, "上调 房贷 利率 贷款房贷 月供 涨了", (
        "{bank}房贷利率突然上调，月供涨了{amount}，没有任何通知{emo_neg}",
        "@{bank} 凭什么单方面上调利率？{angry}",
        "#{bank}房贷利率上调# 别的银行都在降，就它在涨，{angry}",
        "{city}的{bank}房贷客户月供全涨了，准备集体投诉",
    ), "月供涨了 同涨 不合理"),
    _kind("lost_transfer", True, "转账 到账 没收到 丢失 不见 钱去哪", (
        "{bank}转账显示成功，对方{n}天了都没收到，钱去哪了？{angry}",
        "@{bank} 转账{amount}元不见了，客服说在核查，{angry}",
        "#{bank}转账丢失# 不止我一个，好多人转账没到账{emo_neg}",
        "{bank}转账出问题了，钱扣了对方没到账{emo_neg}",
    ), "我也没到账 同问 钱去哪了"),
    _kind("campaign_buzz", False, "", (), ""),
    _kind("coupon", False, "", (
        "刚在{bank}App抢到{amount}元立减券，{happy}{emo_pos}",
        "#{bank}立减券# 每天十点开抢，{happy}",
        "@{bank} 立减券什么时候再发？{emo_pos}",
    ), "冲 抢到了 谢谢分享"),
    _kind("double_points", False, "", (
        "{bank}信用卡本月积分翻倍，{happy}{emo_pos}",
        "@{bank} 积分翻倍活动怎么报名？",
        "#{bank}积分翻倍# 积分可以换好多东西，{happy}",
    ), "冲 积分党狂喜 转发"),
    _kind("new_card", False, "", (
        "{bank}新出的联名卡颜值太高了{emo_pos}",
        "#{bank}新卡首发# 卡面设计好看，已申请{emo_pos}",
        "@{bank} 新联名卡怎么申请？想要",
    ), "好看 想要 已申请"),
    _kind("wealth_festival", False, "", (
        "{bank}理财节的新客专享产品收益挺稳的，{happy}",
        "#{bank}理财节# 新人专享收益不错{emo_pos}",
        "@{bank} 理财节专享产品还有额度吗？",
    ), "不错 已买 转发"),
    _kind("cash_back", False, "", (
        "用{bank}信用卡境外消费返现{amount}，{happy}{emo_pos}",
        "#{bank}返现# 出国刷卡返现真的给力",
        "@{bank} 境外返现活动到什么时候？",
    ), "给力 收藏了 转发"),
    _kind("lpr_cut", False, "", (
        "【{bank}下调LPR加点】{city}消息，{bank}宣布新发放房贷执行新的LPR定价",
        "{bank}跟进LPR下调，存量房贷下月起调整",
        "#LPR下调# {bank}等多家银行公布了新的房贷定价",
    ), "转发微博 关注 收藏"),
    _kind("branch_opening", False, "", (
        "【{bank}{city}分行新网点开业】地址和营业时间见官方公告",
        "{bank}在{city}新开了一家网点，今天开业",
        "#{bank}新网点开业# {city}市民可以就近办理业务",
    ), "转发微博 离我家近 收藏"),
    _kind("app_release", False, "", (
        "【{bank}发布手机银行新版本】新增账单分析和大字版",
        "{bank}手机银行新版本上线，增加了大字版模式",
        "#{bank}App新版# 今天起可以在应用商店更新",
    ), "转发微博 更新了 收藏"),
    _kind("annual_report", False, "", (
        "【{bank}发布年度报告】营业收入与净利润同比增长",
        "{bank}年报出炉：零售客户数突破新高",
        "#{bank}年报# 年度分红方案同时公布",
    ), "转发微博 关注 收藏"),
    _kind("digital_yuan", False, "", (
        "【{bank}开展数字人民币试点】{city}部分商户可用数字人民币支付",
        "{bank}数字人民币钱包今天在{city}开通",
        "#数字人民币试点# {bank}参与{city}试点",
    ), "转发微博 关注 试试"),
    _kind("holiday_hours", False, "", (
        "【{bank}春节期间营业时间调整】部分网点正常营业",
        "{bank}公布春节营业安排，{city}部分网点照常营业",
        "#{bank}春节营业# 营业网点名单见官方公告",
    ), "转发微博 收藏 知道了"),
)  # fmt: skip


@dataclass(frozen=True)
class Event:
    kind: Kind
    start: datetime
    minutes: float
    peak: float

    @property
    def end(self) -> datetime:
        return self.start + timedelta(minutes=self.minutes)


def schedule(seed: int, minutes: int) -> list[Event]:
    """Two events of every kind at random times between minute 30 and the last 40 minutes,
    the two of a kind at least two hours apart (so the second is a new event, not the first
    one going on)."""
    rng = random.Random(f"schedule:{seed}")
    events = []
    for kind in KINDS:
        first = rng.uniform(30, minutes - 40 - 150)
        second = rng.uniform(first + 150, minutes - 40)
        for at in (first, second):
            events.append(
                Event(kind, START + timedelta(minutes=at), rng.uniform(20, 35), rng.uniform(6, 20))
            )
    return sorted(events, key=lambda e: e.start)


def _fill(rng: random.Random, template: str) -> str:
    out = template.replace("{bank}", BANK)
    for slot, words in FILL.items():
        out = out.replace("{" + slot + "}", rng.choice(words))
    return out


def surge_posts(event: Event, seed: int) -> Iterator[SimPost]:
    """An event's posts: the simulator's own for its two kinds, ours for the others (the same
    shape: a ramp by crisis_rate, 40 % reposts, two big-V posts in the first minutes)."""
    if event.kind.name in ("card_fraud", "campaign_buzz"):
        name = "card_fraud_rumour" if event.kind.name == "card_fraud" else "campaign_buzz"
        yield from simulated_crisis(
            name, event.start, seed, bank=BANK, peak_per_minute=event.peak, minutes=event.minutes
        )
        return
    rng = random.Random(f"{event.kind.name}:{seed}:{event.start.isoformat()}")
    t, n, originals = 0.0, 0, []
    bigs = sorted(rng.uniform(2, 7) for _ in range(2))
    while True:
        t += rng.expovariate(event.peak)
        if t >= event.minutes:
            return
        if rng.random() > crisis_rate(t, event.peak, event.minutes) / event.peak:
            continue
        n += 1
        big = bool(bigs) and bigs[0] <= t
        if big:
            bigs.pop(0)
        followers = int(rng.uniform(3e5, 5e6)) if big else int(rng.lognormvariate(5.0, 1.6))
        reposts = rng.randint(200, 3000) if big else int(rng.paretovariate(2.5)) - 1
        if originals and not big and rng.random() < 0.4:
            said = _fill(rng, rng.choice(event.kind.reposts))
            text = f"{said} //@{rng.choice(originals)}"[:280]
        else:
            text = _fill(rng, rng.choice(event.kind.texts))
            originals.append(text)
        yield SimPost(
            event.start + timedelta(minutes=t),
            {
                "key": f"{event.kind.name}-{seed}-{n}",
                "text": text,
                "author": {"followers_count": followers},
                "reposts_count": reposts,
            },
        )


def weibo2018(seed: int, minutes: int, per_minute: float) -> tuple[list[SimPost], str]:
    path = shared_data_dir() / "weibo2018" / "train.txt"
    if not path.exists():
        return [], f"weibo2018 background skipped: {path} not found"
    texts = [
        line.split(",", 2)[2].strip()
        for line in path.open(encoding="utf-8")
        if line.count(",") >= 2
    ]
    rng = random.Random(f"weibo2018:{seed}")
    out, t = [], 0.0
    while True:
        t += rng.expovariate(per_minute)
        if t >= minutes:
            break
        out.append(SimPost(START + timedelta(minutes=t), {
            "key": f"w{len(out)}", "text": rng.choice(texts)[:280],
            "author": {"followers_count": int(rng.lognormvariate(5.0, 1.6))},
            "reposts_count": 0}))  # fmt: skip
    return out, f"weibo2018 background: {per_minute:g}/min from {path} ({len(texts)} posts)"


def analysed_stream(
    seed: int, minutes: int, per_minute: float, *, deep: bool, extra: list[SimPost]
) -> tuple[list[Event], list[StreamPost], list[int | None], list[SimPost]]:
    """The whole stream, analysed once (cached by text), in time order, with the event each
    post belongs to (an index into the events, or None for background)."""
    events = schedule(seed, minutes)
    posts: list[tuple[SimPost, int | None]] = [
        (p, None) for p in generate(seed, START, minutes, per_minute, bank=BANK)
    ]
    posts += [(p, None) for p in extra]
    for i, event in enumerate(events):
        posts.extend((p, i) for p in surge_posts(event, seed))
    posts.sort(key=lambda p: p[0].at)
    cache: dict[str, tuple[tuple[str, ...], bool]] = {}
    stream = []
    for sim, _ in posts:
        text = sim.post["text"]
        if text not in cache:
            a = analyse_post(PostInput(text, Author("u")), deep=deep)
            cache[text] = (
                tuple(dict.fromkeys((*a.keywords, a.topic))),
                a.sentiment_label == "negative",
            )
        terms, negative = cache[text]
        reach = reach_of(sim.post["author"]["followers_count"], sim.post.get("reposts_count", 0))
        stream.append(StreamPost(sim.at, terms, negative, reach))
    return events, stream, [source for _, source in posts], [sim for sim, _ in posts]


def by_influence(stream: list[StreamPost], sims: list[SimPost]) -> list[StreamPost]:
    """The same stream with reach = the post's influence (0–100, at least 1), as the crisis
    desk feeds it (kefu.social.influence: followers, verified type, engagement)."""
    out = []
    for post, sim in zip(stream, sims, strict=True):
        author = sim.post["author"]
        score = influence_score(
            followers=author["followers_count"],
            verified_type=author.get("verified_type", -1),
            reposts=sim.post.get("reposts_count", 0),
            comments=sim.post.get("comments_count", 0),
            likes=sim.post.get("attitudes_count", 0),
        )
        out.append(StreamPost(post.at, post.terms, post.negative, max(1.0, score)))
    return out


def naming_terms(
    events: list[Event], stream: list[StreamPost], sources: list[int | None]
) -> list[frozenset[str]]:
    """The terms that name each event: its kind's listed words, and any term carried by at
    least 10 % of its posts and by at most 1 % of background posts (so 广州 or 银行, which
    fill its templates but also every other post, name nothing)."""
    background = Counter(
        t for p, src in zip(stream, sources, strict=True) if src is None for t in p.terms
    )
    n_background = max(1, sources.count(None))
    out = []
    for i, event in enumerate(events):
        mine = [p for p, src in zip(stream, sources, strict=True) if src == i]
        counts = Counter(t for p in mine for t in p.terms)
        found = {
            t
            for t, n in counts.items()
            if n >= 0.1 * len(mine) and background[t] <= 0.01 * n_background
        }
        out.append(event.kind.terms | found)
    return out


def replay(detector, stream: list[StreamPost]) -> list[BurstAlert]:  # noqa: ANN001
    alerts: list[BurstAlert] = []
    minute = stream[0].at
    for post in stream:
        while post.at - minute >= timedelta(minutes=1):
            minute += timedelta(minutes=1)
            alerts += detector.advance(minute)
        alerts += detector.feed(post)
    return alerts


def score(
    alerts: list[BurstAlert], events: list[Event], names: list[frozenset[str]]
) -> dict[str, object]:
    crises = [i for i, e in enumerate(events) if e.kind.crisis]
    first: dict[int, datetime] = {}
    false: Counter[str] = Counter()
    true = 0
    for alert in alerts:
        hits = [i for i in crises
                if alert.term in names[i] and events[i].start <= alert.raised_at <= events[i].end]  # fmt: skip
        if hits:
            true += 1
            for i in hits:
                first.setdefault(i, alert.raised_at)
            continue
        during = [
            events[i]
            for i in range(len(events))
            if events[i].start <= alert.raised_at <= events[i].end
        ]
        where = (
            "in a crisis"
            if any(e.kind.crisis for e in during)
            else "in a surge"
            if during
            else "in background"
        )
        false[f"{alert.term} ({where})"] += 1
    delays = sorted((first[i] - events[i].start).total_seconds() / 60 for i in first)
    return {
        "alerts": len(alerts),
        "recall": len(first) / len(crises),
        "precision": true / len(alerts) if alerts else 0.0,
        "median": statistics.median(delays) if delays else float("nan"),
        "p90": delays[min(len(delays) - 1, int(0.9 * len(delays)))] if delays else float("nan"),
        "false": false,
        "missed": [events[i].kind.name for i in crises if i not in first],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--minutes", type=int, default=480, help="stream length (default 8 h)")
    parser.add_argument("--per-minute", type=float, default=20.0, help="simulated background")
    parser.add_argument(
        "--weibo2018", type=float, default=4.0, help="weibo2018 posts a minute (0: none)"
    )
    parser.add_argument("--deep", action="store_true", help="analyse with the encoder (slow)")
    args = parser.parse_args()

    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"terms: kefu.social.analysis.analyse_post(deep={args.deep}).keywords + .topic; "
          f"negative: its sentiment_label; reach: reach_of(followers, reposts)")  # fmt: skip
    rows: dict[str, list[dict[str, object]]] = {}
    for seed in args.seeds:
        began = time.perf_counter()
        extra, note = weibo2018(seed, args.minutes, args.weibo2018) if args.weibo2018 else ([], "")
        events, stream, sources, sims = analysed_stream(
            seed, args.minutes, args.per_minute, deep=args.deep, extra=extra
        )
        names = naming_terms(events, stream, sources)
        analysed = time.perf_counter() - began
        if note:
            print(note)
        crises = sum(e.kind.crisis for e in events)
        print(f"seed {seed}: {len(stream)} posts over {args.minutes} min, {crises} crises, "
              f"{len(events) - crises} other surges; analysis {analysed:.0f} s")  # fmt: skip
        influenced = by_influence(stream, sims)
        for name, detector, posts in (
            ("kefu Kleinberg", BurstDetector(), stream),
            ("z-score baseline", ZScoreDetector(), stream),
            ("Kleinberg, influence", BurstDetector(), influenced),
            ("z-score, influence", ZScoreDetector(), influenced),
        ):
            began = time.perf_counter()
            alerts = replay(detector, posts)
            result = score(alerts, events, names) | {
                "seconds": time.perf_counter() - began,
                "seed": seed,
            }
            rows.setdefault(name, []).append(result)
            print(f"  {name:20} alerts {result['alerts']:3}  recall {result['recall']:.2f}  "
                  f"precision {result['precision']:.2f}  delay median {result['median']:.1f} "
                  f"p90 {result['p90']:.1f} min  ({result['seconds']:.1f} s; "
                  f"{len(stream) / result['seconds']:,.0f} posts/s)")  # fmt: skip
            if result["false"]:
                print(f"    false alerts: {', '.join(sorted(result['false']))}")
            if result["missed"]:
                print(f"    missed: {', '.join(result['missed'])}")
    print()
    print(f"median of {len(args.seeds)} seeds   recall  precision  delay median  delay p90")
    for name, results in rows.items():
        med = {
            k: statistics.median(float(r[k]) for r in results)
            for k in ("recall", "precision", "median", "p90")
        }
        print(f"{name:20} {med['recall']:6.2f}  {med['precision']:9.2f}  {med['median']:8.1f} min  "
              f"{med['p90']:5.1f} min")  # fmt: skip
    print("target                 0.90       0.80       5.0 min")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
