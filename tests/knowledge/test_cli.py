"""`kefu knowledge import/export/load-demo` against a real database."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from kefu.cli import app

pytestmark = pytest.mark.db


def test_import_export_and_demo_commands(db_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    bad = tmp_path / "bad.csv"
    bad.write_text("question,answer_sms\n信用卡怎么激活,在App激活\n好问题,\n", encoding="utf-8")
    out = runner.invoke(app, ["knowledge", "import", str(bad), "--actor", "ops",
                              "--database-url", db_url])  # fmt: skip
    assert out.exit_code == 1
    assert "row 3, column -: an FAQ needs at least one answer variant" in out.output
    good = tmp_path / "good.csv"
    good.write_text("question,answer_sms\n信用卡怎么激活,在App激活\n", encoding="utf-8")
    out = runner.invoke(app, ["knowledge", "import", str(good), "--actor", "ops", "--publish",
                              "--database-url", db_url])  # fmt: skip
    assert out.exit_code == 0 and "created=1 updated=0" in out.output
    out = runner.invoke(app, ["knowledge", "load-demo", "--database-url", db_url])
    assert out.exit_code == 0 and int(out.output.strip().split()[-1]) >= 200
    target = tmp_path / "all.xlsx"
    out = runner.invoke(app, ["knowledge", "export", str(target), "--database-url", db_url])
    assert out.exit_code == 0 and target.stat().st_size > 0
    assert int(out.output.split()[1]) >= 201
