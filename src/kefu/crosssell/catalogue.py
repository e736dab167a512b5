"""Selling terms of the bank's products: who may be offered each one, what the agent says
(话术), what must be disclosed and what a sale is worth. The products themselves (name,
category, risk level) come from the bank port's ``list_products``; these terms are the
cross-selling desk's, keyed by product code. A product without terms is never offered."""

from __future__ import annotations

from dataclasses import dataclass, field

# Categories sold under the investor-suitability rules (证券期货投资者适当性管理办法, 资管新规):
# a valid risk assessment at least as high as the product's risk level is required.
INVESTMENT = frozenset({"wealth", "fund"})


@dataclass(frozen=True)
class Terms:
    margin: float  # expected yuan the bank earns from one sale (first year)
    script: str  # 话术: what the agent says
    disclosure: str  # what must be read out or shown before the customer decides
    min_age: int = 18
    max_age: int = 100
    min_income_band: int = 1  # 1 standard … 4 private (see features.income_band)
    requires: frozenset[str] = field(default_factory=frozenset)  # product codes held first
    requires_credit_card: bool = False
    regions: frozenset[str] | None = None  # cities where it may be sold; None: everywhere


# Cities where the partner insurer is licensed to sell car insurance through the bank (the
# demo bank's partner is not in three of the synthetic bank's cities).
CAR_INSURANCE_CITIES = frozenset(
    [
        "北京",
        "上海",
        "广州",
        "深圳",
        "天津",
        "重庆",
        "成都",
        "杭州",
        "南京",
        "武汉",
        "西安",
        "苏州",
        "郑州",
        "长沙",
        "沈阳",
        "青岛",
        "宁波",
        "厦门",
        "福州",
        "济南",
        "大连",
        "哈尔滨",
        "长春",
        "昆明",
        "南宁",
        "合肥",
        "南昌",
        "石家庄",
        "太原",
        "贵阳",
        "兰州",
    ]  # noqa: SIM905
)

TERMS: dict[str, Terms] = {
    "DEP3M": Terms(40, "您活期余额较多，三个月定期利率更高，到期自动转存，随时可以再安排。",
                   "存款受《存款保险条例》保障；提前支取按活期计息。"),
    "DEP1Y": Terms(90, "一年定期利率高于活期，适合一年内不用的资金。",
                   "存款受《存款保险条例》保障；提前支取按活期计息。"),
    "CD3Y": Terms(600, "大额存单三年期利率更高，还可以转让，资金更灵活。",
                  "20万元起存；存款受《存款保险条例》保障；提前支取按活期计息。",
                  min_income_band=2),
    "WM-R2": Terms(300, "月月盈每月开放，波动较小，适合定期到期后想多一点收益的资金。",
                   "理财非存款，产品有风险，投资须谨慎。业绩比较基准不代表实际收益。风险等级 R2。"),
    "WM-R3": Terms(450, "季季红配置债券和少量权益，收益机会更多，季度可以赎回。",
                   "理财非存款，产品有风险，投资须谨慎。可能损失本金。风险等级 R3。"),
    "FUND-MMF": Terms(20, "货币基金 T+0 赎回，闲钱放进去每天都有收益。",
                      "基金有风险，投资须谨慎。货币基金不保本，过往收益不代表未来表现。"),
    "FUND-IDX": Terms(260, "沪深300指数基金适合每月定投，长期分散买入。",
                      "基金有风险，投资须谨慎。指数基金净值随市场波动，可能损失本金。风险等级 R4。"),
    "FUND-MIX": Terms(300, "平衡混合基金股债搭配，工资到账后定投，省心。",
                      "基金有风险，投资须谨慎。过往业绩不代表未来表现。风险等级 R3。"),
    "INS-CAR": Terms(500, "您有车贷，车险可以在我行线上比价投保，出险理赔快。",
                     "保险由合作保险公司承保，银行代理销售；请阅读保险条款及免责条款。",
                     regions=CAR_INSURANCE_CITIES),
    "INS-CI": Terms(800, "重疾险确诊即赔，给家庭多一份保障。",
                    "保险由合作保险公司承保；有等待期和健康告知要求；犹豫期 15 天内可全额退保。",
                    max_age=60),
    "INS-ACC": Terms(60, "综合意外险一年期，保费低，出行更安心。",
                     "保险由合作保险公司承保；请阅读保险条款及免责条款。", max_age=75),
    "INS-PEN": Terms(400, "个人养老保险可以放进个人养老金账户，享受税收递延。",
                     "保险由合作保险公司承保；领取前不可提前支取（法定情形除外）；犹豫期 15 天。",
                     max_age=59),
    "LOAN-CON": Terms(1200, "消费贷随借随还按日计息，装修、旅行都可以用。",
                      "贷款年化利率以合同为准；请量力而行，理性借贷；不得用于购房和投资。",
                      min_age=22, max_age=55, min_income_band=2),
    "LOAN-CAR": Terms(1500, "买车可以分期，新车最高贷八成，最长五年。",
                      "贷款年化利率以合同为准；车辆需办理抵押登记。", min_age=18, max_age=60),
    "CARD-INST": Terms(350, "本期账单可以分 3/6/12 期还，每期压力小一些。",
                       "分期手续费按期收取，折算年化利率以页面展示为准；提前还款不退已收手续费。",
                       requires_credit_card=True),
}  # fmt: skip
