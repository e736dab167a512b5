"""``kefu demo`` stays usable without an authenticator: it turns the admins' code off, on
purpose and out loud (production keeps the default, docs/security.md)."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from kefu import serve_cli
from kefu.cli import app as cli_app


@pytest.mark.db
def test_the_demo_asks_no_code_of_admins_and_says_so(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KEFU_TOTP_REQUIRED_ROLES", raising=False)  # as a fresh install runs it
    served: dict[str, Any] = {}
    monkeypatch.setattr(serve_cli, "manifests", lambda: [])  # no carrier simulators here
    monkeypatch.setattr(serve_cli, "port_free", lambda host, port: True)
    monkeypatch.setattr(serve_cli.uvicorn, "run", lambda app, **options: served.update(app=app))
    result = CliRunner().invoke(cli_app, ["demo", "--customers", "5", "--database-url", db_url])
    assert result.exit_code == 0, result.output
    assert "no authenticator code asked, not even of admin" in result.output
    assert served["app"].state.settings.totp_required_roles == []
