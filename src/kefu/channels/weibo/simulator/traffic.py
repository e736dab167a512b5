"""Believable Weibo traffic about a bank, from kefu's own templates and word lists.

``generate(seed, start, minutes, per_minute)`` is the background: people @-ing the bank,
commenting on its posts, and talking about it without @ (what listening should catch) — about
cards, bills, the app, branches, wealth products and loans; complaints, questions, praise, small
talk, some news from media accounts and ~5 % adverts/spam. ``crisis(kind, start, seed)`` is a
planted surge: ``"card_fraud_rumour"`` (a 盗刷 rumour ramping over ~10 minutes, with reposts
and a couple of big-V authors) or ``"campaign_buzz"`` (a positive 抽奖/优惠 surge, the contrast
a burst detector must not alarm on). Both are pure and deterministic for a seed, so the server's
background task and the benchmarks replay the same stream.

Each item is a ``SimPost(at, post)``; ``post`` is a dict: ``key`` (unique in its stream),
``kind`` ("mention" — @s the bank, "comment" — on one of the bank's posts, "listening" — not
addressed to it), ``text``, ``author`` (screen_name, followers_count, verified_type,
verified_reason, location, description), ``reposts_count``, ``comments_count``,
``attitudes_count``, ``repost_of`` (the key of the post it forwards, or None), ``label``
("complaint", "question", "praise", "neutral", "news", "spam", "crisis", "buzz"), ``subject``
("card", "bill", "app", "branch", "wealth", "loan" or the crisis kind) and ``crisis`` (the kind,
or None for background).
"""

from __future__ import annotations

import math
import random
import re
from collections import deque
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, NamedTuple

CRISIS_KINDS = ("card_fraud_rumour", "campaign_buzz")


class SimPost(NamedTuple):
    at: datetime
    post: dict[str, Any]


# ---------------------------------------------------------------------------- word lists
CITIES = (
    "北京",
    "上海",
    "广州",
    "深圳",
    "杭州",
    "成都",
    "武汉",
    "南京",
    "西安",
    "重庆",
    "长沙",
    "厦门",
    "苏州",
    "天津",
    "郑州",
    "青岛",
)
NAME_HEADS = (
    "小鱼",
    "阿猫",
    "大橙子",
    "木子",
    "不吃香菜的",
    "熬夜的",
    "追风的",
    "奶茶续命的",
    "柠檬",
    "打工人",
    "北漂的",
    "吃货",
    "路过的",
    "快乐的",
    "佛系",
    "努力的",
    "爱睡觉的",
    "一只",
    "咸鱼",
    "夏天的",
)
NAME_TAILS = (
    "小王",
    "同学",
    "酱",
    "阿杰",
    "喵",
    "兔子",
    "老李",
    "小张",
    "Lily",
    "Kevin",
    "猪猪",
    "日记",
    "君",
    "仔",
    "姐姐",
    "大叔",
)
DESCRIPTIONS = (
    "热爱生活",
    "努力搬砖中",
    "吃喝玩乐",
    "宝妈一枚",
    "财经爱好者",
    "",
    "",
    "随便看看",
    "认真生活",
    "数码控",
)
MEDIA = (
    ("每日财经眼", 3, "财经媒体官方微博"),
    ("南城都市快报", 3, "都市报官方微博"),
    ("钱江消费观察", 3, "消费维权栏目官方微博"),
    ("理财老司机", 0, "知名财经博主"),
    ("数码小测评", 0, "数码博主"),
    ("生活省钱攻略", 200, "生活达人"),
)

SUBJECTS: dict[str, dict[str, tuple[str, ...]]] = {
    "card": {
        "product": ("信用卡", "白金卡", "储蓄卡", "联名卡", "借记卡"),
        "problem": (
            "额度突然被降了",
            "年费莫名其妙扣了{amount}元",
            "一直激活不了",
            "申请被拒也不说原因",
            "无缘无故被冻结了",
            "挂失补卡要等{n}天",
        ),
        "question": (
            "怎么提额",
            "年费怎么免",
            "境外刷卡有没有手续费",
            "挂失一定要去网点吗",
            "积分怎么兑换",
        ),
        "praise": ("额度批得很爽快", "积分换的东西挺实用", "境外消费返现很给力", "补卡寄得很快"),
    },
    "bill": {
        "product": ("账单", "分期", "还款", "自动还款"),
        "problem": ("日期改了都没通知", "手续费比说好的高", "多收了{amount}元利息", "金额对不上"),
        "question": ("可以改日期吗", "提前还要手续费吗", "逾期一天会上征信吗", "怎么办理"),
        "praise": ("办理很方便", "手续费比别家低"),
    },
    "app": {
        "product": ("手机银行", "App", "手机银行App", "网银"),
        "problem": (
            "更新后一直闪退",
            "登录老提示验证码错误",
            "转账页面卡住不动",
            "人脸识别总失败",
            "动不动就让重新登录",
        ),
        "question": ("怎么查电子回单", "转账限额在哪里改", "怎么注销"),
        "praise": ("新版界面清爽多了", "转账秒到账", "指纹登录很方便"),
    },
    "branch": {
        "product": ("网点", "营业厅", "支行"),
        "problem": (
            "排队{n}个小时才轮到我",
            "的ATM吞卡了没人管",
            "柜员态度很差",
            "周末居然不开门",
            "叫号系统坏了",
        ),
        "question": ("周末营业吗", "能办外币兑换吗", "几点关门"),
        "praise": ("大堂经理特别耐心", "服务超好", "环境干净排队也不久"),
    },
    "wealth": {
        "product": ("理财产品", "基金", "大额存单", "定期存款", "结构性存款"),
        "problem": ("亏了{pct}%，当初经理说稳赚", "额度根本抢不到", "赎回到账太慢了", "收益又降了"),
        "question": ("现在利率多少", "风险等级是多少", "起购金额是多少", "能提前支取吗"),
        "praise": ("收益挺稳定的", "经理讲解很专业"),
    },
    "loan": {
        "product": ("房贷", "消费贷", "装修贷", "经营贷"),
        "problem": ("审批拖了{n}周还没消息", "利率比说好的高", "提前还款被收违约金"),
        "question": ("利率能降吗", "提前还款怎么申请", "LPR调整后月供会变吗"),
        "praise": ("放款速度很快", "客户经理很负责"),
    },
}
FILLERS: dict[str, tuple[str, ...]] = {
    "angry": (
        "真的服了",
        "太坑了",
        "再也不用了",
        "客服电话打了{n}次都没用",
        "请给个说法",
        "气死我了",
        "这服务还不如小银行",
    ),
    "emo_neg": ("[怒]", "[抓狂]", "[衰]", "[晕]", "[生病]", ""),
    "happy": ("点赞", "好评", "继续保持", "推荐给朋友了", "良心银行"),
    "emo_pos": ("[赞]", "[哈哈]", "[good]", "[爱你]", ""),
    "neutral": ("记录一下", "顺便领了个小礼品", "人不算多", "办得挺顺利"),
    "qtail": ("在线等，挺急的", "谢谢", "求解答", ""),
    "news": (
        "发布三季度业绩",
        "上线新版手机银行",
        "调整大额存单利率",
        "开展反诈宣传进社区",
        "推出新一期消费季活动",
    ),
    "city": CITIES,
}
TEMPLATES: dict[tuple[str, str], tuple[str, ...]] = {
    ("complaint", "mention"): (
        "@{bank} {product}{problem}，{angry}{emo_neg}",
        "@{bank} 你们的{product}{problem}，{angry}",
    ),
    ("complaint", "listening"): (
        "{bank}的{product}{problem}，{angry}{emo_neg}",
        "吐槽一下{bank}：{product}{problem}。{angry}",
    ),
    ("complaint", "comment"): (
        "{product}{problem}，小编能不能管管？",
        "与其发这些，不如先解决{product}{problem}的问题{emo_neg}",
    ),
    ("question", "mention"): (
        "@{bank} 请问{product}{question}？{qtail}",
        "@{bank} 想问下{product}{question}",
    ),
    ("question", "listening"): (
        "有人知道{bank}{product}{question}吗？{qtail}",
        "{bank}的{product}{question}？求懂的朋友说说",
    ),
    ("question", "comment"): ("请问{product}{question}？", "小编，{product}{question}？{qtail}"),
    ("praise", "mention"): ("@{bank} {product}{praise}，{happy}{emo_pos}",),
    ("praise", "listening"): (
        "不得不说{bank}的{product}{praise}{emo_pos}",
        "{bank}{product}{praise}，{happy}",
    ),
    ("praise", "comment"): ("{product}{praise}，支持！{emo_pos}", "{happy}{emo_pos}"),
    ("neutral", "mention"): ("@{bank} 今天去{city}的网点办了{product}，{neutral}",),
    ("neutral", "listening"): (
        "今天在{bank}办了{product}，{neutral}",
        "{city}下雨了，顺路去{bank}问了问{product}",
    ),
    ("neutral", "comment"): ("来了来了", "沙发", "已转发", "路过看看"),
    ("news", "listening"): ("【{bank}{news}】{city}消息，{bank}近日{news}，详情见官方公告。",),
    ("spam", "mention"): ("@{bank} {city}信用卡代还、提额、套现，低息秒到，详情私信{digits}",),
    ("spam", "listening"): (
        "【福利】{bank}新户领{amount}元红包，点击 http://t.cn/{code} 立即领取",
        "{city}{bank}各类贷款，无抵押秒批，加V{digits}",
    ),
    ("spam", "comment"): ("互粉互赞，回关必回！", "兼职刷单日结{amount}元，私信了解"),
}
LABELS = (
    ("complaint", 0.30),
    ("question", 0.28),
    ("praise", 0.17),
    ("neutral", 0.15),
    ("news", 0.05),
    ("spam", 0.05),
)
KINDS = (("mention", 0.35), ("comment", 0.25), ("listening", 0.40))
REPOST_SHARE = 0.06
NEUTRAL_SUBJECTS = ("card", "bill", "app", "wealth", "loan")

CRISES: dict[str, dict[str, tuple[str, ...]]] = {
    "card_fraud_rumour": {
        "listening": (
            "{bank}信用卡被盗刷了{amount}元！！打客服说不给退，{angry}",
            "半夜收到短信，{bank}信用卡在境外被刷走{amount}元，卡一直在我身上啊{emo_neg}",
            "听说{bank}信用卡大面积被盗刷，大家赶紧查一下账单",
            "{city}好几个朋友的{bank}卡都被盗刷了，银行一直推脱，准备集体维权",
            "#{bank}信用卡盗刷# 有同样遭遇的留言，我们一起集体维权",
            "{bank}盗刷不给退，已经投诉到金融监管局了{emo_neg}",
            "卡没离身就被盗刷{amount}，{bank}说是我自己泄露的信息，不给退？？",
        ),
        "mention": (
            "@{bank} 我的信用卡被盗刷{amount}元，你们到底管不管？",
            "@{bank} 盗刷的钱什么时候退？已经等了{n}天{emo_neg}",
        ),
        "comment": (
            "先把盗刷的事解决了再发广告吧",
            "盗刷不给退，还有脸做活动？",
            "我的卡也被盗刷了，求回复{emo_neg}",
        ),
        "big_v": (
            "【关注】多名网友反映{bank}信用卡遭盗刷、申请退款被拒，记者正在联系{bank}核实。",
            "{bank}信用卡盗刷的事越闹越大了，建议大家先开通交易提醒、关掉境外支付。",
        ),
        "repost": ("转发微博", "太可怕了，赶紧去查账单", "同遭遇，集体维权", "不给退？？"),
    },
    "campaign_buzz": {
        "listening": (
            "{bank}信用卡周年庆抽奖，转发就有机会中iPhone！#{bank}周年庆#",
            "刚在{bank}App抢到{amount}元立减券，太香了{emo_pos}",
            "给{bank}点赞，这次的优惠力度真大",
            "#{bank}周年庆# 转发抽奖，冲冲冲",
            "{bank}这次活动良心了，绑卡就送{amount}积分{emo_pos}",
        ),
        "mention": (
            "@{bank} 周年庆活动怎么参加？想要那个满减券",
            "@{bank} 抽奖什么时候开奖呀{emo_pos}",
        ),
        "comment": ("抽我抽我！", "已转发，求中奖{emo_pos}", "点赞，活动很给力"),
        "big_v": (
            "【福利】{bank}信用卡周年庆活动上线，消费满额可参与抽奖。",
            "实测{bank}这次周年庆的满减力度确实大，推荐一波{emo_pos}",
        ),
        "repost": ("转发抽奖", "冲！", "求中奖{emo_pos}"),
    },
}
CRISIS_KIND_SHARE = (("listening", 0.6), ("mention", 0.25), ("comment", 0.15))
CRISIS_REPOST_SHARE = 0.4
_SLOT = re.compile(r"\{(\w+)\}")


# ---------------------------------------------------------------------------- authors
def authors(seed: int, size: int = 400) -> list[dict[str, Any]]:
    """The author pool of a seed: followers log-normal (median ~150), a few 橙V and 达人."""
    rng = random.Random(f"authors:{seed}")
    pool, names = [], set()
    while len(pool) < size:
        name = (
            rng.choice(NAME_HEADS)
            + rng.choice(NAME_TAILS)
            + rng.choice(("", "", "_" + str(rng.randint(1980, 2010)), str(rng.randint(1, 999))))
        )
        if name in names:
            continue
        names.add(name)
        followers = int(rng.lognormvariate(5.0, 1.6))
        verified, reason = -1, ""
        roll = rng.random()
        if roll < 0.03:
            verified, reason, followers = 0, "微博认证：生活博主", followers * 50
        elif roll < 0.04:
            verified, reason, followers = rng.choice((200, 220)), "微博达人", followers * 10
        pool.append(
            _author(name, followers, verified, reason, rng.choice(CITIES), rng.choice(DESCRIPTIONS))
        )
    return pool


def media_authors(seed: int) -> list[dict[str, Any]]:
    rng = random.Random(f"media:{seed}")
    return [
        _author(name, int(rng.uniform(3e5, 8e6)), vtype, reason, rng.choice(CITIES), reason)
        for name, vtype, reason in MEDIA
    ]


def _author(
    name: str, followers: int, verified_type: int, reason: str, location: str, description: str
) -> dict[str, Any]:
    return {
        "screen_name": name,
        "followers_count": followers,
        "verified_type": verified_type,
        "verified_reason": reason,
        "location": location,
        "description": description,
    }


# ---------------------------------------------------------------------------- filling in
def _fill(rng: random.Random, template: str, bank: str, subject: str | None) -> str:
    words = SUBJECTS.get(subject or "", {})
    chosen: dict[str, str] = {"bank": bank}

    def value(match: re.Match[str]) -> str:
        slot = match.group(1)
        if slot not in chosen:
            if slot in words:
                chosen[slot] = rng.choice(words[slot])
            elif slot in FILLERS:
                chosen[slot] = rng.choice(FILLERS[slot])
            elif slot == "amount":
                chosen[slot] = str(rng.choice((50, 88, 199, 300, 680, 1200, 2999, 5000, 8600)))
            elif slot == "n":
                chosen[slot] = str(rng.randint(2, 6))
            elif slot == "pct":
                chosen[slot] = str(rng.randint(3, 20))
            elif slot == "digits":
                chosen[slot] = str(rng.randint(10**7, 10**9))
            else:  # "code": a short link's path
                chosen[slot] = "".join(rng.choices("abcdefghkmnpqrstuvwxyzABCDEFGH23456789", k=7))
        return chosen[slot]

    for _ in range(3):  # slots may bring slots ("年费扣了{amount}元")
        template = _SLOT.sub(value, template)
    return template


def _counts(rng: random.Random, followers: int) -> dict[str, int]:
    likes = int(rng.paretovariate(2.5) * math.sqrt(max(1, followers)) * 0.3)
    return {
        "reposts_count": likes // rng.randint(4, 12),
        "comments_count": likes // rng.randint(3, 8),
        "attitudes_count": likes,
    }


def _pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([k for k, _ in weighted], [w for _, w in weighted])[0]


def _post(
    key: str,
    kind: str,
    text: str,
    author: dict[str, Any],
    counts: dict[str, int],
    label: str,
    subject: str,
    *,
    repost_of: str | None = None,
    crisis: str | None = None,
) -> dict[str, Any]:
    return {
        "key": key,
        "kind": kind,
        "text": text,
        "author": author,
        **counts,
        "repost_of": repost_of,
        "label": label,
        "subject": subject,
        "crisis": crisis,
    }


def _repost_text(
    rng: random.Random, comments: tuple[str, ...], original: dict[str, Any], bank: str
) -> str:
    said = _fill(rng, rng.choice(comments), bank, None)
    return f"{said} //@{original['author']['screen_name']}:{original['text']}"[:280]


# ---------------------------------------------------------------------------- streams
def generate(
    seed: int, start: datetime, minutes: float | None, per_minute: float, *, bank: str = "某某银行"
) -> Iterator[SimPost]:
    """Background traffic from ``start``: a Poisson stream at ``per_minute`` for ``minutes``
    (None: endless)."""
    if per_minute <= 0:
        return
    rng = random.Random(f"background:{seed}")
    pool, media = authors(seed), media_authors(seed)
    recent: deque[dict[str, Any]] = deque(maxlen=50)
    end = None if minutes is None else start + timedelta(minutes=minutes)
    at, n = start, 0
    while True:
        at += timedelta(seconds=rng.expovariate(per_minute / 60))
        if end is not None and at >= end:
            return
        n += 1
        key = f"b{seed}-{n}"
        label = _pick(rng, LABELS)
        # Small talk is about business done at a branch, not about the branch itself.
        subject = rng.choice(NEUTRAL_SUBJECTS if label == "neutral" else tuple(SUBJECTS))
        if recent and label != "spam" and rng.random() < REPOST_SHARE:
            original = rng.choice(recent)
            author = rng.choice(pool)
            text = _repost_text(rng, ("转发微博", "{happy}", "同问", "+1"), original, bank)
            post = _post(
                key,
                "listening",
                text,
                author,
                _counts(rng, author["followers_count"]),
                original["label"],
                original["subject"],
                repost_of=original["key"],
            )
        else:
            author = rng.choice(media) if label == "news" else rng.choice(pool)
            kind = "listening" if label == "news" else _pick(rng, KINDS)
            text = _fill(rng, rng.choice(TEMPLATES[(label, kind)]), bank, subject)
            post = _post(
                key, kind, text, author, _counts(rng, author["followers_count"]), label, subject
            )
        if post["kind"] != "comment":  # a comment cannot be forwarded as a post
            recent.append(post)
        yield SimPost(at, post)


def crisis_rate(minute: float, peak: float, minutes: float) -> float:
    """Posts per minute ``minute`` into a surge: a ~10-minute ramp from 5 % to the peak, a
    plateau, and a 10-minute fall to 10 % at the end."""
    if minute < 10:
        return peak * (0.05 + 0.95 * minute / 10)
    if minute < minutes - 10:
        return peak
    return peak * max(0.1, (minutes - minute) / 10)


def crisis(
    kind: str,
    start: datetime,
    seed: int,
    *,
    bank: str = "某某银行",
    peak_per_minute: float = 20.0,
    minutes: float = 30.0,
) -> Iterator[SimPost]:
    """A planted surge from ``start``: ``"card_fraud_rumour"`` (negative) or
    ``"campaign_buzz"`` (positive), with reposts and two big-V posts within its first minutes.
    Finite (``minutes`` long), so it is built whole and yielded in time order."""
    if kind not in CRISES:
        raise ValueError(f"kind: one of {', '.join(CRISIS_KINDS)}, not {kind!r}")
    words = CRISES[kind]
    label = "crisis" if kind == "card_fraud_rumour" else "buzz"
    rng = random.Random(f"{kind}:{seed}")
    pool, media = authors(seed), media_authors(seed)
    # The big voices, a few minutes in: a media account and a personal 橙V.
    bigs: list[tuple[float, dict[str, Any]]] = []
    for i, (template, big) in enumerate(zip(words["big_v"], (media[0], media[3]), strict=True)):
        big_counts = {
            "reposts_count": rng.randint(200, 3000),
            "comments_count": rng.randint(100, 1500),
            "attitudes_count": rng.randint(500, 8000),
        }
        bigs.append(
            (
                rng.uniform(3, 6) + 2 * i,
                _post(
                    f"{kind}{seed}-v{i}",
                    "listening",
                    _fill(rng, template, bank, "card"),
                    big,
                    big_counts,
                    label,
                    kind,
                    crisis=kind,
                ),
            )
        )
    posts: list[SimPost] = []
    originals: list[dict[str, Any]] = []
    # Non-homogeneous Poisson by thinning: candidates at the peak rate, kept at rate(t)/peak.
    t, n = 0.0, 0
    while peak_per_minute > 0:
        t += rng.expovariate(peak_per_minute)
        if t >= minutes:
            break
        while bigs and bigs[0][0] <= t:
            big_at, big_post = bigs.pop(0)
            posts.append(SimPost(start + timedelta(minutes=big_at), big_post))
            originals.append(big_post)
        if rng.random() > crisis_rate(t, peak_per_minute, minutes) / peak_per_minute:
            continue
        n += 1
        author = rng.choice(pool)
        key = f"{kind}{seed}-{n}"
        counts = _counts(rng, author["followers_count"])
        if originals and rng.random() < CRISIS_REPOST_SHARE:
            # Big voices get forwarded more: originals weighted by their author's reach.
            weights = [math.log10(10 + o["author"]["followers_count"]) ** 3 for o in originals]
            original = rng.choices(originals, weights)[0]
            text = _repost_text(rng, words["repost"], original, bank)
            post = _post(
                key,
                "listening",
                text,
                author,
                counts,
                label,
                kind,
                repost_of=original["key"],
                crisis=kind,
            )
        else:
            where = _pick(rng, CRISIS_KIND_SHARE)
            text = _fill(rng, rng.choice(words[where]), bank, "card")
            post = _post(key, where, text, author, counts, label, kind, crisis=kind)
            originals.append(post)
        posts.append(SimPost(start + timedelta(minutes=t), post))
    posts.extend(SimPost(start + timedelta(minutes=m), p) for m, p in bigs if m < minutes)
    posts.sort(key=lambda p: p.at)
    yield from posts
