"""Fuzz every PDU decoder with random and mutated inputs (default: 1,000,000 each).

Seeds are valid PDUs of every command with random field values; inputs are pure random
bytes, plausible headers with random bodies, and mutations of the seeds (bit flips,
truncation, length-field lies, foreign command ids, inserted/deleted runs). The contract
checked: decode or raise ProtocolError — any other exception is printed and fails the run.
As the in-run baseline, the same inputs are timed through a bare ``struct`` header parse.

    .venv/bin/python benchmarks/protocols_fuzz.py [--count 1000000] [--only smgp]
"""

from __future__ import annotations

import argparse
import random
import struct
import sys
import time

from kefu.protocols.cmpp import pdus as cmpp
from kefu.protocols.fuzz import fuzz, random_pdu
from kefu.protocols.sgip import pdus as sgip
from kefu.protocols.smgp import pdus as smgp
from kefu.protocols.smpp import pdus as smpp

DECODERS = {
    "smpp": (smpp.decode, smpp.encode, smpp.PDU_CLASSES, smpp.HEADER_SIZE),
    "cmpp2": (cmpp.CMPP2.decode, cmpp.encode, cmpp.CMPP2.classes, cmpp.HEADER_SIZE),
    "cmpp3": (cmpp.CMPP3.decode, cmpp.encode, cmpp.CMPP3.classes, cmpp.HEADER_SIZE),
    "sgip": (sgip.decode, sgip.encode, sgip.PDU_CLASSES, sgip.HEADER_SIZE),
    "smgp": (smgp.decode, smgp.encode, smgp.PDU_CLASSES, smgp.HEADER_SIZE),
}
_HEAD = struct.Struct(">II")


def header_only(data: bytes) -> None:
    """Baseline: what a decoder that only reads the header would cost."""
    if len(data) >= 8:
        _HEAD.unpack_from(data, 0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--only", choices=list(DECODERS))
    args = parser.parse_args()
    crashed = False
    for name in [args.only] if args.only else DECODERS:
        decode, encode, classes, header = DECODERS[name]
        rng = random.Random(2026)
        seeds = [encode(random_pdu(cls, rng)) for cls in classes.values() for _ in range(20)]
        started = time.perf_counter()
        result = fuzz(decode, seeds, list(classes), args.count, rng_seed=1, header_size=header)
        elapsed = time.perf_counter() - started
        base_started = time.perf_counter()
        fuzz(header_only, seeds, list(classes), min(args.count, 200_000), rng_seed=1,
             header_size=header)  # fmt: skip
        base = (time.perf_counter() - base_started) / min(args.count, 200_000)
        per = elapsed / result.inputs
        print(f"{name:6} {result.inputs:>9,} inputs  decoded {result.decoded:>8,}  "
              f"rejected (typed ProtocolError) {result.rejected:>9,}  crashes "
              f"{len(result.crashes)}  {result.inputs / elapsed:,.0f} inputs/s  "
              f"{per * 1e6:.1f} µs/input = {per / base:.1f}x a header-only parse")  # fmt: skip
        for data, error in result.crashes:
            crashed = True
            print(f"   CRASH {error}: {data.hex()}")
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
