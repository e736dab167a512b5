"""The ``kefu`` command: seed, db, user, apikey and clear errors for bad input."""

from __future__ import annotations

import asyncio

import pytest
from typer.testing import CliRunner

from kefu.bank.synthetic.seeder import seeded_customer_count
from kefu.cli import app
from kefu.db.engine import make_engine

runner = CliRunner()


def _count(url: str) -> int | None:
    async def go() -> int | None:
        engine = make_engine(url)
        try:
            return await seeded_customer_count(engine)
        finally:
            await engine.dispose()

    return asyncio.run(go())


@pytest.mark.db
def test_seed_then_refuse_a_second_seed_then_reset(empty_db_url: str) -> None:
    result = runner.invoke(
        app, ["seed", "--customers", "30", "--as-of", "2026-11-29", "--database-url", empty_db_url]
    )
    assert result.exit_code == 0, result.output
    assert "seeded 30 customers" in result.output
    assert _count(empty_db_url) == 30
    again = runner.invoke(app, ["seed", "--customers", "10", "--database-url", empty_db_url])
    assert again.exit_code == 2 and "--reset" in again.output
    reset = runner.invoke(
        app, ["seed", "--customers", "10", "--reset", "--database-url", empty_db_url]
    )
    assert reset.exit_code == 0 and _count(empty_db_url) == 10


def test_bad_arguments_name_the_field(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    bad_date = runner.invoke(app, ["seed", "--as-of", "2026-02-30", "--database-url", url])
    assert bad_date.exit_code == 2 and "--as-of" in bad_date.output
    bad_url = runner.invoke(app, ["db", "upgrade", "--database-url", "oracle://x"])
    assert bad_url.exit_code == 2 and "--database-url" in bad_url.output
    zero = runner.invoke(app, ["seed", "--customers", "0", "--database-url", url])
    assert zero.exit_code == 2 and "--customers" in zero.output
    unknown = runner.invoke(app, ["frobnicate"])
    assert unknown.exit_code == 2


@pytest.mark.db
def test_user_and_api_key_commands(db_url: str) -> None:
    added = runner.invoke(app, ["user", "add", "carol", "--role", "supervisor", "--password", "-",
                                "--database-url", db_url], input="a-good-password-1\n")  # fmt: skip
    assert added.exit_code == 0, added.output
    duplicate = runner.invoke(app, ["user", "add", "carol", "--role", "agent", "--password", "a-good-password-1",
                                    "--database-url", db_url])  # fmt: skip
    assert duplicate.exit_code == 2 and "already exists" in duplicate.output
    bad_role = runner.invoke(app, ["user", "add", "dave", "--role", "root", "--password", "a-good-password-1",
                                   "--database-url", db_url])  # fmt: skip
    assert bad_role.exit_code == 2 and "role" in bad_role.output
    key = runner.invoke(
        app, ["apikey", "create", "crm", "--role", "agent", "--database-url", db_url]
    )
    assert key.exit_code == 0 and key.output.strip().startswith("kefu_")
    unlock = runner.invoke(app, ["user", "unlock", "nobody", "--database-url", db_url])
    assert unlock.exit_code == 2 and "does not exist" in unlock.output
