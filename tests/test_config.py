from __future__ import annotations

import pytest

from kefu.config import ConfigError, load_settings, normalise_database_url


def test_defaults_use_sqlite_under_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KEFU_DATABASE_URL", raising=False)
    monkeypatch.setenv("KEFU_CONFIG", "/nonexistent/kefu.toml")
    settings = load_settings()
    assert settings.database_url == "sqlite+aiosqlite:///var/kefu.db"
    assert settings.is_sqlite


def test_environment_variable_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEFU_DATABASE_URL", "postgresql://u:p@127.0.0.1/kefu")
    assert load_settings().database_url == "postgresql+asyncpg://u:p@127.0.0.1/kefu"


def test_toml_file_is_read(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "kefu.toml"
    config.write_text('port = 9001\ndefault_locale = "en"\n', encoding="utf-8")
    monkeypatch.setenv("KEFU_CONFIG", str(config))
    settings = load_settings()
    assert settings.port == 9001
    assert settings.default_locale == "en"


def test_wrong_database_url_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEFU_DATABASE_URL", "oracle://root@localhost/kefu")
    with pytest.raises(ConfigError, match="KEFU_DATABASE_URL"):
        load_settings()


def test_wrong_port_and_unknown_setting_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEFU_PORT", "99999")
    with pytest.raises(ConfigError, match="KEFU_PORT"):
        load_settings()


def test_unknown_key_in_toml_is_refused(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "kefu.toml"
    config.write_text("databse_url = 'sqlite:///x.db'\n", encoding="utf-8")
    monkeypatch.setenv("KEFU_CONFIG", str(config))
    with pytest.raises(ConfigError, match="KEFU_DATABSE_URL"):
        load_settings()


def test_http_bank_needs_a_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEFU_BANK_HTTP_URL", "ftp://bank")
    with pytest.raises(ConfigError, match="KEFU_BANK_HTTP_URL"):
        load_settings()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("postgres://a@h/d", "postgresql+asyncpg://a@h/d"),
        ("postgresql+asyncpg://a@h/d", "postgresql+asyncpg://a@h/d"),
        ("mysql://a:b@h:3306/d", "mysql+aiomysql://a:b@h:3306/d?charset=utf8mb4"),
        ("mariadb://a@h/d?ssl=true", "mysql+aiomysql://a@h/d?ssl=true&charset=utf8mb4"),
        ("mysql://a@h/d?charset=utf8mb4", "mysql+aiomysql://a@h/d?charset=utf8mb4"),
        ("mysql+aiomysql://a@h/d", "mysql+aiomysql://a@h/d"),
    ],
)
def test_database_url_forms(given: str, expected: str) -> None:
    assert normalise_database_url(given) == expected


def test_every_setting_has_a_row_in_the_configuration_reference() -> None:
    # The platform's fields and every channel manifest's: a setting nobody can find in
    # docs/configuration.md is one an IT team will not set (KEFU_SMS_GATEWAY_IN_WEB was).
    from pathlib import Path

    from kefu.config import Settings

    reference = (Path(__file__).parents[1] / "docs" / "configuration.md").read_text()
    missing = [name for name in Settings.model_fields if f"`KEFU_{name.upper()}`" not in reference]
    assert missing == []
