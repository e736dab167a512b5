"""A lean HTTP/1.1 load generator for the SMS benchmarks: pre-encoded requests written on kept-
alive connections, each answer read by its Content-Length, nothing parsed but the status line.

Why not httpx: on this 2-core machine the load generator shares the cores with the server it
measures, and httpx costs ~2.6 CPU-ms per JSON POST (building the request, parsing the JSON
answer) against ~1.5 per Jasmin GET — the client, not the server, set the rate of both, and
unequally. Here a request costs the generator a few tens of microseconds, so the rate counted
at the simulator is the servers', and both sides get the same client. Not a general HTTP
client: answers by Content-Length or chunked (Jasmin's Twisted chunks them); no redirects, no TLS.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass


def post_json(path: str, host: str, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    head = [f"POST {path} HTTP/1.1", f"Host: {host}", "Content-Type: application/json",
            f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in (headers or {}).items())]  # fmt: skip
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def get(path_and_query: str, host: str) -> bytes:
    return f"GET {path_and_query} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()


async def _chunks(reader: asyncio.StreamReader) -> bytes:
    """A chunked body (RFC 9112 §7.1), trailers skipped."""
    parts = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":
                pass
            return b"".join(parts)
        parts.append(await reader.readexactly(size + 2))
        parts[-1] = parts[-1][:-2]


@dataclass
class Result:
    requests: int
    seconds: float
    client_cpu: float  # this process's CPU seconds over the run


async def run(
    host: str,
    port: int,
    requests: Iterable[bytes],
    concurrency: int,
    accept: Callable[[int, bytes], bool],
) -> Result:
    """Sends every request over ``concurrency`` kept-alive connections; ``accept(status, body)``
    must hold for each answer, else RuntimeError (with the answer) ends the run."""
    source: Iterator[bytes] = iter(requests)
    done = 0

    async def worker() -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for request in source:  # shared: each request is taken by one worker
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                length, chunked = 0, False
                for line in head.split(b"\r\n"):
                    name = line[:18].lower()
                    if name.startswith(b"content-length:"):
                        length = int(line[15:])
                    elif name == b"transfer-encoding:":
                        chunked = b"chunked" in line.lower()
                body = await (_chunks(reader) if chunked else reader.readexactly(length))
                if not accept(status, body):
                    raise RuntimeError(f"refused: {status} {body[:300]!r}")
                done += 1
                if b"connection: close" in head.lower():
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
        finally:
            writer.close()

    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Result(done, time.perf_counter() - t0, time.process_time() - cpu0)
