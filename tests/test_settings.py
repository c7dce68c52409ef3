"""Settings: flags > PAC_MOCK_* environment > TOML settings file > defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from mockserver.settings import Settings
from mockserver.store import printable_store_url


def test_defaults():
    s = Settings.load(environ={})
    assert (s.host, s.port, s.workers, s.threads, s.data_dir) == ("127.0.0.1", 8080, 2, 256, Path("data"))


def test_file_then_environment_then_flags(tmp_path):
    config = tmp_path / "pac-mock.toml"
    config.write_text('port = 9000\nworkers = 1\ndata_dir = "state"\nsmtp_host = "mailpit"\nmemory = false\n')
    from_file = Settings.load(config, environ={})
    assert (from_file.port, from_file.workers, from_file.smtp_host) == (9000, 1, "mailpit")
    assert from_file.data_dir == tmp_path / "state"  # relative to the file
    env = {"PAC_MOCK_CONFIG": str(config), "PAC_MOCK_PORT": "9100"}
    from_env = Settings.load(environ=env)
    assert (from_env.port, from_env.workers) == (9100, 1)
    assert from_env.with_overrides(port=9200, workers=None).port == 9200


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("port = 'abc'\n", "whole number"),
        ("colour = 'blue'\n", "unknown settings colour"),
        ("port = \n", "not valid TOML"),
    ],
)
def test_bad_settings_files_name_the_file_and_the_problem(tmp_path, text, words):
    config = tmp_path / "bad.toml"
    config.write_text(text)
    with pytest.raises(ValueError) as info:
        Settings.load(config, environ={})
    assert str(config) in str(info.value) and words in str(info.value)


def test_missing_file_and_bad_environment_values(tmp_path):
    with pytest.raises(ValueError, match="cannot read"):
        Settings.load(tmp_path / "nope.toml", environ={})
    with pytest.raises(ValueError, match="PAC_MOCK_MEMORY must be true or false"):
        Settings.load(environ={"PAC_MOCK_MEMORY": "perhaps"})


def test_to_env_round_trips():
    s = Settings(port=8181, memory=True, smtp_host="smtp.test", threads=3)
    assert Settings.from_env(s.to_env()) == s


@pytest.mark.parametrize(("url", "printed"), [
    ("postgresql://u:s3cret@db:5432/pac", "postgresql://u@db:5432/pac"),
    ("postgres://u@db/pac?password=s3cret&sslmode=require", "postgres://u@db/pac"),
    ("postgresql://u:p%40s3cret@db/pac", "postgresql://u@db/pac"),  # percent-encoded: read as p@s3cret
    ("postgresql://u:s3cret@[::1]:5433/pac", "postgresql://u@[::1]:5433/pac"),
    ("postgresql://u:s3cret@/pac?host=/run/postgresql", "postgresql://u@/pac?host=/run/postgresql"),
    ("postgresql://u:p@s3cret@db/pac", "postgresql://… (malformed URL)"),  # libpq reads host s3cret@db
    ("postgresql://u:p@s3cret@/pac?host=/run/postgresql", "postgresql://… (malformed URL)"),
    ("postgresql://u:p/s3cret@db/pac", "postgresql://… (malformed URL)"),  # libpq reads port p
    ("postgresql://u:s3%zzcret@db/pac", "postgresql://… (malformed URL)"),
    ("postgresql://u@db/pac?password=s3%zzcret", "postgresql://… (malformed URL)"),
])
def test_a_postgresql_url_is_printed_without_its_password_wherever_it_was_written(url, printed):
    pytest.importorskip("psycopg", reason="the PostgreSQL store is not installed (pip install -e '.[test]')")
    assert printable_store_url(url) == printed
    assert Settings(store=url).store_label == printed


def test_the_store_setting_names_sqlite_or_postgresql():
    P = Path
    assert Settings().database == P("data") / "pac-mock.sqlite3"  # unset: the data directory's file
    assert Settings().with_overrides(store="sqlite:///state/x.db").database == P("state/x.db")
    assert Settings().with_overrides(store="sqlite:////var/x.db").database == P("/var/x.db")
    pg = Settings.from_env({"PAC_MOCK_STORE": "postgresql://u:s3cret@db:5432/pac"})
    assert pg.database == "postgresql://u:s3cret@db:5432/pac" and pg.shared_store
    assert pg.store_label == "postgresql://u@db:5432/pac"
    assert Settings(memory=True, store="postgresql://db/pac").database is None
    for wrong in ("mysql://db/pac", "sqlite:///", "/tmp/x.db"):
        with pytest.raises(ValueError, match="PAC_MOCK_STORE must be"):
            Settings().with_overrides(store=wrong)
