"""``kefu social``: listening rules, the terms a search poller asks for, the mapping check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kefu.channels.social.mapping import EXAMPLES
from kefu.cli import app

runner = CliRunner()
SAMPLE = EXAMPLES.parent / "samples" / "douyin.json"


def test_check_mapping_prints_the_posts() -> None:
    result = runner.invoke(app, ["social", "check-mapping", str(EXAMPLES / "douyin.json"),
                                 str(SAMPLE)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert '"uid": "dy_7f3a9c"' in result.output and "ok: 1 post(s)" in result.output


def test_check_mapping_names_the_field(tmp_path: Path) -> None:
    sample = json.loads(SAMPLE.read_text(encoding="utf-8"))
    del sample["user"]["open_id"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(sample), encoding="utf-8")
    result = runner.invoke(app, ["social", "check-mapping", str(EXAMPLES / "douyin.json"),
                                 str(bad)])  # fmt: skip
    assert result.exit_code == 1
    assert "mapping 'douyin': field 'author.uid' (path $.user.open_id) missing" in result.output


@pytest.mark.db
def test_rules_from_the_command_line(db_url: str) -> None:
    url = ["--database-url", db_url]
    added = runner.invoke(app, ["social", "add-rule", "品牌", "--include", "招商銀行,CMB",
                                "--exclude", "招聘", *url])  # fmt: skip
    assert added.exit_code == 0, added.output
    bad = runner.invoke(app, ["social", "add-rule", "坏", "--include", "招行",
                              "--exclude", "招行", *url])  # fmt: skip
    assert bad.exit_code == 2 and "不能同时是包含词和排除词" in bad.output
    listed = runner.invoke(app, ["social", "rules", *url])
    assert "* 1\t品牌\t+招商銀行，CMB\t-招聘\tall" in listed.output
    terms = runner.invoke(app, ["social", "terms", *url])
    assert terms.output.split() == ["招商银行", "cmb"]  # normalised: what the search gets
