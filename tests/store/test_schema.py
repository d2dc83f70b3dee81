import time
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

from balance_tui.store import tables  # noqa: F401  (registers the tables)
from balance_tui.store.engine import PG_CONNECT_TIMEOUT_S, parse_database_url, postgresql_connect_args
from balance_tui.store.errors import DatabaseURLError, StoreUnavailable
from balance_tui.store.migrate import alembic_config, open_store, upgrade


def test_migrations_build_exactly_the_schema_the_tables_declare(engine: Engine) -> None:
    upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []


def test_migrating_twice_is_harmless_and_downgrade_empties(engine: Engine) -> None:
    from alembic import command

    upgrade(engine)
    upgrade(engine)
    assert "trading_sessions" in inspect(engine).get_table_names()
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    assert "trading_sessions" not in inspect(engine).get_table_names()


def test_sqlite_runs_in_wal_with_a_busy_timeout(tmp_path) -> None:
    from balance_tui.store.engine import create_store_engine

    engine = create_store_engine(f"sqlite:///{tmp_path / 'deep' / 'dir' / 'store.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30000
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
    engine.dispose()


@pytest.mark.parametrize(
    "url", ["mysql://h/db", "sqlite+aiosqlite:///x.db", "postgresql+psycopg2://h/db", "oracle://u:hunter2@h", "nope"]
)
def test_a_url_for_a_database_or_driver_the_store_does_not_speak_is_refused(url: str) -> None:
    with pytest.raises(DatabaseURLError, match=r"expected sqlite:///PATH or postgresql\+psycopg://") as caught:
        parse_database_url(url)
    assert "hunter2" not in str(caught.value)


def test_a_file_that_is_not_a_database_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    path.write_bytes(b"\x8f" * 4096)
    with pytest.raises(StoreUnavailable, match=rf"^cannot open the store {path}: file is not a database$"):
        open_store(f"sqlite:///{path}")
    assert path.read_bytes() == b"\x8f" * 4096 and sorted(tmp_path.iterdir()) == [path]


def test_a_directory_is_not_a_database_file(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable, match="it is a directory, not a database file"):
        open_store(f"sqlite:///{tmp_path}")


def test_a_server_that_does_not_answer_is_named_without_its_password() -> None:
    with pytest.raises(StoreUnavailable) as caught:
        open_store("postgresql://u:hunter2@127.0.0.1:1/test")
    assert str(caught.value).startswith("cannot open the store postgresql+psycopg://u:***@127.0.0.1:1/test: ")
    assert "Connection refused" in str(caught.value) and "\n" not in str(caught.value)


def test_a_server_that_drops_packets_is_given_up_on_after_the_connect_timeout(silent_port: int) -> None:
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as caught:
        open_store(f"postgresql://u:hunter2@127.0.0.1:{silent_port}/test")
    waited = time.monotonic() - started
    assert str(caught.value) == (
        f"cannot open the store postgresql+psycopg://u:***@127.0.0.1:{silent_port}/test: connection timeout expired"
    )
    # A hang detector, not a latency target: psycopg's own default is 130 s.
    assert PG_CONNECT_TIMEOUT_S - 0.5 < waited < PG_CONNECT_TIMEOUT_S + 15


@pytest.mark.parametrize(
    ("url", "env", "args"),
    [
        ("postgresql+psycopg://u@h/db", {}, {"connect_timeout": PG_CONNECT_TIMEOUT_S}),
        ("postgresql+psycopg://u@h/db?connect_timeout=30", {}, {}),  # the operator's, in the URL
        ("postgresql+psycopg://u@h/db", {"PGCONNECT_TIMEOUT": "30"}, {}),  # the operator's, as libpq reads it
    ],
)
def test_the_connect_timeout_is_ours_unless_the_operator_set_one(url: str, env: dict[str, str], args: dict) -> None:
    assert postgresql_connect_args(make_url(url), env) == args
