from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from sqlmodel import SQLModel

from balance_tui.store import tables  # noqa: F401  (registers the tables)
from balance_tui.store.migrate import alembic_config, upgrade


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
