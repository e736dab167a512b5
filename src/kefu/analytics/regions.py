"""IPv4 address → region, offline, from the table ``scripts/build_region_db.py`` derives from
DB-IP's free "IP to City Lite" database (CC BY 4.0; attribution on the pages that show
regions and in docs/analytics.md).

The table is one sorted list of range starts and their labels (``CN/province/city`` in China,
the ISO country code elsewhere, empty where not known); a lookup is one bisect. The collector
looks the visitor's address up once per request and drops the address: only the label is
stored. No table (not built, or another path configured empty): regions stay empty.
"""

from __future__ import annotations

import gzip
from array import array
from bisect import bisect_right
from functools import lru_cache
from ipaddress import IPv4Address
from pathlib import Path

from babel import Locale

ATTRIBUTION_URL = "https://db-ip.com"
DEFAULT_FILE = "var/ip-region-ipv4.tsv.gz"

# DB-IP's English province names → Chinese (the page shows words, not romanisations)
PROVINCES = {
    "Anhui": "安徽", "Beijing": "北京", "Chongqing": "重庆", "Fujian": "福建", "Gansu": "甘肃",
    "Guangdong": "广东", "Guangxi": "广西", "Guizhou": "贵州", "Hainan": "海南", "Hebei": "河北",
    "Heilongjiang": "黑龙江", "Henan": "河南", "Hubei": "湖北", "Hunan": "湖南",
    "Inner Mongolia": "内蒙古", "Jiangsu": "江苏", "Jiangxi": "江西", "Jilin": "吉林",
    "Liaoning": "辽宁", "Ningxia": "宁夏", "Ningxia Hui Autonomous Region": "宁夏",
    "Qinghai": "青海", "Shaanxi": "陕西", "Shandong": "山东", "Shanghai": "上海",
    "Shanxi": "山西", "Sichuan": "四川", "Tianjin": "天津", "Tibet": "西藏", "Xinjiang": "新疆",
    "Yunnan": "云南", "Zhejiang": "浙江", "Guangxi Zhuang Autonomous Region": "广西",
    "Xinjiang Uyghur Autonomous Region": "新疆", "Tibet Autonomous Region": "西藏",
    "Inner Mongolia Autonomous Region": "内蒙古",
}  # fmt: skip


class RegionTable:
    """Range starts (as unsigned 32-bit integers) and the index of each range's label."""

    def __init__(self, rows: list[tuple[int, str]]) -> None:
        rows = sorted(rows)
        self.labels: list[str] = []
        index: dict[str, int] = {}
        self.starts = array("I")  # 4 bytes each: the table stays a few MB in memory
        self.which = array("I")
        for start, text in rows:
            self.starts.append(start)
            self.which.append(index.setdefault(text, len(index)))
            if len(index) > len(self.labels):
                self.labels.append(text)

    @classmethod
    def load(cls, path: str | Path) -> RegionTable:
        """Reads the derived file; a malformed line is an error, not a silent gap."""
        rows: list[tuple[int, str]] = []
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if line.startswith("#"):
                    continue
                start, sep, text = line.rstrip("\n").partition("\t")
                if not sep or not start.isdigit() or int(start) >= 2**32:
                    raise ValueError(f"{path}:{number}: not '<start>\\t<label>'")
                rows.append((int(start), text))
        return cls(rows)

    def lookup(self, ip: str) -> str:
        """The region of an IPv4 address; '' for IPv6, junk, private or unknown addresses."""
        try:  # strict: four decimal parts (inet_aton would take "1.2" and trailing junk)
            number = int(IPv4Address(ip))
        except ValueError:
            return ""
        at = bisect_right(self.starts, number) - 1
        return self.labels[self.which[at]] if at >= 0 else ""


class Regions:
    """The collector's lookup: the table, with a cache (a site's visitors come back)."""

    def __init__(self, table: RegionTable | None) -> None:
        self.table = table
        self.lookup = lru_cache(maxsize=65_536)(table.lookup) if table else _none

    @classmethod
    def open(cls, path: str) -> Regions:
        """The configured file; when it is the default and was not built, no regions."""
        file = Path(path or DEFAULT_FILE)
        if not file.exists():
            if path:
                raise FileNotFoundError(f"analytics region_file {path} does not exist")
            return cls(None)
        return cls(RegionTable.load(file))


def _none(ip: str) -> str:
    return ""


def region_name(label: str, locale: str = "zh_CN") -> str:
    """A stored label as the page shows it: 广东 · Shenzhen, 美国; '' unknown."""
    if not label:
        return ""
    country, _, rest = label.partition("/")
    if country == "CN" and rest:
        province, _, city = rest.partition("/")
        shown = PROVINCES.get(province, province) if locale.startswith("zh") else province
        return f"{shown} · {city}" if city and city != province else shown
    try:
        return _territories(locale).get(country, country)
    except ValueError:
        return country


@lru_cache(maxsize=8)
def _territories(locale: str) -> dict[str, str]:
    return dict(Locale.parse(locale).territories)
