"""A real kefu server (uvicorn on a loopback port, in a thread of this process) for tests that
need genuinely parallel requests: the attacks in issue 21 were races between requests."""

from __future__ import annotations

import threading
import time
import traceback
from types import TracebackType

import uvicorn

from tests.ports import free_port


class LiveServer:
    """``with LiveServer(settings) as base:`` → ``http://127.0.0.1:<port>``."""

    def __init__(self, settings, **app_kwargs) -> None:  # type: ignore[no-untyped-def]
        from kefu.app import create_app

        self.app = create_app(settings, **app_kwargs)
        # Every unexpected exception the server answered 500 for, with its traceback: a test's
        # failure message can then say why (CI keeps only the summary of a run).
        self.errors: list[str] = []
        answer = self.app.exception_handlers[Exception]

        async def record_then_answer(request, exc):  # type: ignore[no-untyped-def]
            self.errors.append(
                f"{request.method} {request.url.path}: "
                + "".join(traceback.format_exception(exc)).strip()
            )
            return await answer(request, exc)

        self.app.exception_handlers[Exception] = record_then_answer
        self.port = free_port()
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.05)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
