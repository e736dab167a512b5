"""Coverage-guided fuzz targets (atheris, i.e. libFuzzer over instrumented Python) for the
carrier PDU decoders and WeChat's callback parsers (issue 21, item 4).

Each target is one parser and the only error it may raise:

* ``smpp``, ``cmpp2``, ``cmpp3``, ``sgip``, ``smgp``: the bytes of one frame go the way an
  inbound PDU goes in the client — the link's decoder, then (for a request) the link's answer
  (report parsing, UDH, text decoding) and the reassembler. Allowed: ``ProtocolError``.
* ``wechat_xml``: the callback's message parser. Allowed: ``CallbackRejected``.
* ``wechat_crypto``: the first byte picks the path — arbitrary ``Encrypt`` text; a plaintext
  that is AES-encrypted with the account's key first (so the fuzzer reaches the padding,
  length and AppID checks behind the cipher); the signature and timestamp checks; the
  envelope XML. Allowed: ``CallbackRejected``.

Anything else raised is a crash; libFuzzer also fails an input that runs longer than
``-timeout`` seconds or a process that grows past ``-rss_limit_mb`` (bounded allocation).

``pdus`` and ``wechat`` are those targets together in one process (the first byte picks one).
A target runs in its own process (libFuzzer owns the process and exits at the end):
:func:`run` starts it, seeds the corpus with valid inputs and reads libFuzzer's final
statistics. ``python -m tests.security.fuzz_targets TARGET CORPUS [libFuzzer flags]`` is that
child. ``benchmarks/fuzz_coverage.py`` runs the long version.
"""

from __future__ import annotations

import base64
import contextlib
import random
import re
import resource
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

PDU_TARGETS = ("smpp", "cmpp2", "cmpp3", "sgip", "smgp")
WECHAT_TARGETS = ("wechat_xml", "wechat_crypto")
TARGETS = (*PDU_TARGETS, *WECHAT_TARGETS)
# The same targets two to a process, the first input byte choosing one: what the test suite
# runs, as each process pays for its start-up and instrumentation once.
COMBINED = {"pdus": PDU_TARGETS, "wechat": WECHAT_TARGETS}
ROOT = Path(__file__).resolve().parents[2]

# The account the WeChat targets decrypt for (the values are only test data).
AES_KEY = base64.b64encode(bytes(range(32))).decode().rstrip("=")
APP_ID = "wx0000000000000001"
TOKEN = "kefutoken"

OneInput = Callable[[bytes], None]


def _pdu_target(name: str) -> tuple[OneInput, list[bytes]]:
    from kefu.protocols import cmpp, sgip, smgp, smpp
    from kefu.protocols.errors import ProtocolError
    from kefu.protocols.fuzz import random_pdu
    from kefu.protocols.message import Assembler

    link = {
        "smpp": lambda: smpp.SmppLink("kefu", "secret"),
        "cmpp2": lambda: cmpp.CmppLink("900001", "888888", version=2),
        "cmpp3": lambda: cmpp.CmppLink("900001", "888888", version=3),
        "sgip": lambda: sgip.SgipLink("kefusp", "secret"),
        "smgp": lambda: smgp.SmgpLink("10001", "secret"),
    }[name]()
    classes = {
        "smpp": lambda: smpp.pdus.PDU_CLASSES,
        "cmpp2": lambda: cmpp.pdus.CMPP2.classes,
        "cmpp3": lambda: cmpp.pdus.CMPP3.classes,
        "sgip": lambda: sgip.pdus.PDU_CLASSES,
        "smgp": lambda: smgp.pdus.PDU_CLASSES,
    }[name]()
    rng = random.Random(2026)
    seeds = [link.encode(random_pdu(cls, rng)) for cls in classes.values() for _ in range(3)]

    def one_input(data: bytes) -> None:
        try:
            pdu = link.decode(data)
            if link.is_response(pdu):
                return
            answer = link.answer(pdu)
            if answer.part is not None:
                Assembler().add(answer.part)
        except ProtocolError:
            pass

    return one_input, seeds


WECHAT_SEEDS = [
    "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[o1]]></FromUserName>"
    "<CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType>"
    "<Content><![CDATA[查余额]]></Content><MsgId>1234567890</MsgId></xml>",
    "<xml><ToUserName>gh_1</ToUserName><FromUserName>o1</FromUserName><CreateTime>1700000000"
    "</CreateTime><MsgType>event</MsgType><Event>CLICK</Event><EventKey>BILL</EventKey></xml>",
    "<xml><ToUserName>gh_1</ToUserName><FromUserName>o1</FromUserName><CreateTime>1700000000"
    "</CreateTime><MsgType>location</MsgType><Location_X>30.6</Location_X><Location_Y>104.1"
    "</Location_Y><Scale>15</Scale><Label>成都</Label><MsgId>9</MsgId></xml>",
    "<xml><ToUserName>gh_1</ToUserName><FromUserName>o1</FromUserName><CreateTime>1700000000"
    "</CreateTime><MsgType>event</MsgType><Event>LOCATION</Event><Latitude>30.6</Latitude>"
    "<Longitude>104.1</Longitude><Precision>65</Precision></xml>",
    "<xml><ToUserName>gh_1</ToUserName><FromUserName>o1</FromUserName><CreateTime>1700000000"
    "</CreateTime><MsgType>image</MsgType><PicUrl>http://x/y.jpg</PicUrl><MediaId>m</MediaId>"
    "<MsgId>10</MsgId></xml>",
]


def _wechat_xml_target() -> tuple[OneInput, list[bytes]]:
    from kefu.channels.wechat import messages
    from kefu.channels.wechat.crypto import CallbackRejected

    def one_input(data: bytes) -> None:
        with contextlib.suppress(CallbackRejected):
            messages.parse(data.decode("utf-8", "replace"))

    return one_input, [s.encode() for s in WECHAT_SEEDS]


def _aes_encrypt(body: bytes) -> str:
    """What WeChat would send for ``body`` (already the plaintext layout, any length)."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key = base64.b64decode(AES_KEY + "=")
    body += b"\0" * (-len(body) % 16)
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(body) + encryptor.finalize()).decode()


def _wechat_crypto_target() -> tuple[OneInput, list[bytes]]:
    import xmltodict

    from kefu.channels.wechat import crypto
    from kefu.channels.wechat.crypto import CallbackRejected

    def one_input(data: bytes) -> None:
        if not data:
            return
        mode, rest = data[0] % 4, data[1:]
        try:
            if mode == 0:
                crypto.decrypt(AES_KEY, APP_ID, rest.decode("latin-1"))
            elif mode == 1:
                crypto.decrypt(AES_KEY, APP_ID, _aes_encrypt(rest))
            elif mode == 2:
                sig, ts, nonce, enc = (rest.decode("utf-8", "replace").split("|", 3) + [""] * 4)[:4]
                crypto.check_timestamp(ts, 300, now=1700000000)
                crypto.check_msg_signature(TOKEN, sig, ts, nonce, enc)
            else:
                # The envelope as the callback reads it, then what it holds.
                envelope = _envelope(xmltodict, rest.decode("utf-8", "replace"))
                if envelope is not None:
                    crypto.decrypt(AES_KEY, APP_ID, envelope)
        except CallbackRejected:
            pass

    plain = WECHAT_SEEDS[0].encode()
    layout = b"r" * 16 + len(plain).to_bytes(4, "big") + plain + APP_ID.encode()
    pad = 32 - len(layout) % 32
    seeds = [
        b"\0" + _aes_encrypt(layout + bytes([pad]) * pad).encode(),
        b"\1" + layout + bytes([pad]) * pad,
        b"\2" + f"{'0' * 40}|1700000000|nonce|{_aes_encrypt(layout)}".encode(),
        b"\3" + f"<xml><Encrypt><![CDATA[{_aes_encrypt(layout)}]]></Encrypt></xml>".encode(),
    ]
    return one_input, seeds


def _envelope(xmltodict: object, body: str) -> str | None:
    """The ``Encrypt`` text of an envelope, refusing what the callback refuses."""
    from xml.parsers.expat import ExpatError

    try:
        parsed = xmltodict.parse(body).get("xml") or {}  # type: ignore[attr-defined]
    except (ExpatError, ValueError, AttributeError):
        return None
    encrypt = parsed.get("Encrypt") if isinstance(parsed, dict) else None
    return encrypt if isinstance(encrypt, str) and encrypt else None


def setup(name: str) -> tuple[OneInput, list[bytes]]:
    if name in COMBINED:
        return _combined(COMBINED[name])
    if name in PDU_TARGETS:
        return _pdu_target(name)
    return _wechat_xml_target() if name == "wechat_xml" else _wechat_crypto_target()


def _combined(names: tuple[str, ...]) -> tuple[OneInput, list[bytes]]:
    parts = [setup(name) for name in names]
    inputs = [one for one, _ in parts]

    def one_input(data: bytes) -> None:
        if data:
            inputs[data[0] % len(inputs)](data[1:])

    return one_input, [bytes([i]) + seed for i, (_, seeds) in enumerate(parts) for seed in seeds]


@dataclass
class FuzzStats:
    target: str
    runs: int = 0
    coverage: int = 0  # libFuzzer "cov": instrumented edges reached
    features: int = 0  # libFuzzer "ft": edges × hit-count buckets
    corpus: int = 0
    exec_per_s: int = 0
    peak_rss_mb: int = 0  # libFuzzer's figure: includes inherited_mb (see run)
    inherited_mb: int = 0
    returncode: int = 0
    crash: str = ""  # the failure libFuzzer reported, with the crashing input's path
    log: list[str] = field(default_factory=list)


_DONE = re.compile(r"#(\d+)\s+DONE\s+cov: (\d+) ft: (\d+) corp: (\d+)/\S+.*?exec/s: (\d+)")
_LAST = re.compile(r"#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)/")


def run(name: str, seconds: float = 1.0, runs: int = -1, workdir: Path | None = None,
        extra: tuple[str, ...] = ()) -> FuzzStats:  # fmt: skip
    """Fuzz ``name`` for ``seconds`` (or ``runs`` inputs) in a child process; its statistics."""
    with tempfile.TemporaryDirectory(prefix=f"fuzz-{name}-") as tmp:
        base = Path(workdir or tmp)
        corpus = base / "corpus"
        corpus.mkdir(parents=True, exist_ok=True)
        # Linux keeps a process's peak RSS across fork and exec, and libFuzzer judges memory
        # on that peak: a child of a pytest process that once held 1.2 GB (the models) would
        # start "out of memory". The limit is 1 GB above what the child inherits; one
        # allocation over 1 GB fails whatever was inherited (malloc_limit_mb).
        inherited = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        flags = [f"-max_total_time={max(1, round(seconds))}", f"-runs={runs}", "-timeout=5",
                 f"-rss_limit_mb={inherited + 1024}", "-malloc_limit_mb=1024",
                 "-max_len=4096", "-print_final_stats=1",
                 f"-artifact_prefix={base}/", *extra]  # fmt: skip
        proc = subprocess.run(
            [sys.executable, "-m", "tests.security.fuzz_targets", name, str(corpus), *flags],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT, timeout=seconds + 120,
        )  # fmt: skip
        stats = FuzzStats(name, returncode=proc.returncode, log=proc.stdout.splitlines(),
                          inherited_mb=inherited)  # fmt: skip
        for line in stats.log:
            if m := (_DONE.search(line) or _LAST.search(line)):
                stats.runs, stats.coverage, stats.features, stats.corpus = map(int, m.groups()[:4])
                if m.re is _DONE:
                    stats.exec_per_s = int(m.group(5))
            if line.startswith("stat::peak_rss_mb:"):
                stats.peak_rss_mb = int(line.split(":")[-1])
        if proc.returncode:
            crash = [line for line in stats.log if "Uncaught Python exception" in line
                     or "ERROR: libFuzzer" in line or "Test unit written" in line
                     or line.startswith(("Traceback", "  File", "    ")) or "Error" in line]  # fmt: skip
            stats.crash = "\n".join(crash[-30:]) or "\n".join(stats.log[-30:])
        return stats


def _child(argv: list[str]) -> None:
    import atheris

    name, corpus = argv[0], Path(argv[1])
    # atheris selects modules by top-level package: all of kefu (what the target imports of
    # it) and WeChat's parsing libraries.
    include = ["kefu"] if name in (*PDU_TARGETS, "pdus") else ["kefu", "wechatpy", "xmltodict"]
    with atheris.instrument_imports(include=include):
        one_input, seeds = setup(name)
    for i, seed in enumerate(seeds):
        (corpus / f"seed-{i:03d}").write_bytes(seed)
    atheris.Setup([sys.argv[0], str(corpus), *argv[2:]], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    _child(sys.argv[1:])
