from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from kefu.cli import app
from kefu.routing import rules

DEFAULT = Path(rules.__file__).with_name("default_workflow.yaml")
runner = CliRunner()


def test_validate_and_dry_run_the_shipped_workflow() -> None:
    result = runner.invoke(app, ["routing", "validate", str(DEFAULT)])
    assert result.exit_code == 0 and "4 queues" in result.output
    run = runner.invoke(
        app, ["routing", "dry-run", str(DEFAULT), '{"channel": "weibo", "text": "卡被盗刷了"}']
    )
    assert run.exit_code == 0
    assert (
        "rule crisis" in run.output
        and "queue complaint" in run.output
        and "skills.complaint >= 4" in run.output
    )
    later = runner.invoke(
        app, ["routing", "dry-run", str(DEFAULT), '{"text": "卡被盗刷了"}', "--waited", "100"]
    )
    assert "skills.complaint >= 1" in later.output


def test_validate_reports_problems_with_paths(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "queues: [{name: general}]\ndefault: {targets: [{queue: nowhere}]}\n", encoding="utf-8"
    )
    result = runner.invoke(app, ["routing", "validate", str(bad)])
    assert result.exit_code == 1
    assert "default.targets[0].queue: no queue 'nowhere'" in result.output
