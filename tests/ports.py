"""Loopback ports for a test's own servers (no side effects on import: benchmarks use it too,
through tests/security/live.py)."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A loopback port nobody listens on now (bound, then released): for a test's own server,
    or to be refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
