"""IP → region: the derived table's reader (a fixture of a few ranges, not the real file), the
names the page shows, and the collector storing the region but never the address."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from kefu.analytics.analyses import Period, traffic
from kefu.analytics.collector import Collector
from kefu.analytics.regions import Regions, RegionTable, region_name
from kefu.analytics.settings import AnalyticsSettings, Site
from kefu.analytics.store import COLUMNS, DuckDBStore
from tests.analytics.conftest import CHROME, NOW, batch, event

# the shape scripts/build_region_db.py writes: range starts (integers), labels; gaps are ''
FIXTURE = """# fixture: a few ranges in the derived file's shape
0\t
16843008\tCN/Guangdong/Shenzhen
16843264\t
134744064\tUS
134744320\t
1920102912\tCN/Shandong/Jinan
1920103168\t
"""  # 1.1.1.0/24 → Shenzhen, 8.8.8.0/24 → US, 114.114.114.0/24 → Jinan


def write_fixture(path: Path) -> Path:
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write(FIXTURE)
    return path


@pytest.fixture
def table(tmp_path: Path) -> RegionTable:
    return RegionTable.load(write_fixture(tmp_path / "regions.tsv.gz"))


def test_lookup_bisects_the_ranges(table: RegionTable) -> None:
    assert table.lookup("1.1.1.0") == "CN/Guangdong/Shenzhen"
    assert table.lookup("1.1.1.255") == "CN/Guangdong/Shenzhen"
    assert table.lookup("1.1.2.0") == ""  # the next range starts: not known
    assert table.lookup("1.1.0.255") == ""
    assert table.lookup("8.8.8.8") == "US"
    assert table.lookup("114.114.114.114") == "CN/Shandong/Jinan"
    assert table.lookup("255.255.255.255") == ""


@pytest.mark.parametrize("junk", ["", "::1", "2001:db8::1", "1.1", "testclient", "1.1.1.1.1",
                                  "999.1.1.1", "1.1.1.1 "])  # fmt: skip
def test_what_is_not_an_ipv4_address_has_no_region(table: RegionTable, junk: str) -> None:
    assert table.lookup(junk) == ""


def test_a_malformed_table_is_an_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tsv.gz"
    with gzip.open(bad, "wt") as f:
        f.write("0\t\nnot-a-number\tUS\n")
    with pytest.raises(ValueError, match=":2:"):
        RegionTable.load(bad)


def test_a_configured_table_must_exist_the_default_may_be_missing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        Regions.open(str(tmp_path / "missing.tsv.gz"))
    assert Regions.open(str(write_fixture(tmp_path / "r.tsv.gz"))).lookup("8.8.8.8") == "US"


def test_labels_become_words() -> None:
    assert region_name("CN/Guangdong/Shenzhen") == "广东 · Shenzhen"
    assert region_name("CN/Guangdong") == "广东"
    assert region_name("US") == "美国"
    assert region_name("US", "en") == "United States"
    assert region_name("CN/Guangdong", "en") == "Guangdong"
    assert region_name("") == ""


def test_the_collector_stores_the_region_and_never_the_address(
    table: RegionTable, store: DuckDBStore
) -> None:
    settings = AnalyticsSettings(sites=[Site(key="demo-bank")])
    collector = Collector(store, settings, b"k", clock=lambda: NOW, regions=Regions(table))
    body = batch(event(1), event(2, type="click", target="main > a"))
    assert collector.accept("demo-bank", body, CHROME, "114.114.114.114").status == 202
    other = batch(event(3), session="session-0002", visitor="visitor-0002")
    assert collector.accept("demo-bank", other, CHROME, "10.1.2.3").status == 202
    collector.flush()
    rows = store.query("SELECT session_id, region FROM events ORDER BY event_id")
    assert rows == [("session-0001", "CN/Shandong/Jinan")] * 2 + [("session-0002", "")]
    everything = store.query(f"SELECT {', '.join(COLUMNS)} FROM events")
    text = " ".join(str(v) for row in everything for v in row)
    assert "114.114" not in text and "10.1.2.3" not in text
    day = store.query("SELECT min(day) FROM events")[0][0]
    by_region = traffic.regions(store, Period.last("demo-bank", 1, day))
    assert sorted(by_region) == [("", 1), ("CN/Shandong", 1)]
