"""Read-only consoles: refused by the store, and by the database itself when the console is gone around."""

import asyncio
import uuid
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from balance_tui.store import acks, books, positions, sessions
from balance_tui.store.engine import create_store_engine, database_url
from balance_tui.store.errors import ReadOnlyStoreError, SchemaError
from balance_tui.store.history import HistoryWriter
from balance_tui.store.migrate import open_store
from balance_tui.store.tables import AdjustmentKind, PositionSide
from balance_tui.store.watch import Seen, watch_store
from tests.store.support import ALICE, T0, row_counts


def adjust(engine: Engine, session_id: int, key: str = "k") -> None:
    books.adjust(
        engine, session_id=session_id, asset="USD", amount=Decimal("5"), kind=AdjustmentKind.DELTA,
        reason="watcher tries", operator=ALICE, idempotency_key=key, now=T0,
    )  # fmt: skip


@pytest.fixture
def watcher(store_url: str, session_id: int) -> Iterator[Engine]:
    engine = open_store(store_url, read_only=True)
    yield engine
    engine.dispose()


def test_a_read_only_console_refuses_every_write_with_a_clear_message(
    migrated: Engine, watcher: Engine, session_id: int
) -> None:
    before = row_counts(migrated)
    attempts = [
        lambda: adjust(watcher, session_id),
        lambda: books.undo(
            watcher, session_id=session_id, adjustment_id=1, reason="r", operator=ALICE, idempotency_key="u", now=T0
        ),
        lambda: positions.open_position(
            watcher,
            session_id=session_id,
            symbol="BTC/USD",
            side=PositionSide.LONG,
            size=Decimal(1),
            entry_price=Decimal(1),
            now=T0,
            by="bot",
        ),
        lambda: acks.acknowledge(watcher, issue="BTC:x", reason="r", operator=ALICE, now=T0),
        lambda: sessions.resume_or_start(watcher, exchange="sim", mode="paper", now=T0),
        lambda: books.register_assets(watcher, {"NEW": 2}),
        lambda: HistoryWriter(watcher, retention=timedelta(hours=1)),
    ]
    for attempt in attempts:
        with pytest.raises(ReadOnlyStoreError, match="read-only"):
            attempt()
    assert row_counts(migrated) == before
    assert books.read_balance(watcher, session_id, "USD").total == Decimal(1000)  # reading is what it is for


def test_sqlite_itself_refuses_a_write_from_a_read_only_console(
    migrated: Engine, watcher: Engine, session_id: int
) -> None:
    if watcher.dialect.name != "sqlite":
        pytest.skip("PostgreSQL read-only access is the role's job: see the next test")
    before = row_counts(migrated)
    with pytest.raises(DBAPIError, match="attempt to write a readonly database"), watcher.begin() as conn:
        conn.execute(text("UPDATE account_balances SET total = '1000000'"))
    assert row_counts(migrated) == before


@pytest.fixture
def select_only_role(migrated: Engine, pg_admin: Engine, store_url: str) -> Iterator[str]:
    """A PostgreSQL login that may read the store's schema and nothing more (README: read-only watchers)."""
    if migrated.dialect.name != "postgresql":
        pytest.skip("SQLite has no roles; read-only there is the flag and query_only")
    role = f"watcher_{uuid.uuid4().hex[:10]}"
    with migrated.connect() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    with pg_admin.connect() as conn:
        conn.execute(text(f"CREATE ROLE {role} LOGIN"))
        conn.execute(text(f'GRANT USAGE ON SCHEMA "{schema}" TO {role}'))
        conn.execute(text(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO {role}'))
    try:
        yield make_url(store_url).set(username=role).render_as_string(hide_password=False)
    finally:
        with pg_admin.connect() as conn:
            conn.execute(text(f"DROP OWNED BY {role}"))
            conn.execute(text(f"DROP ROLE {role}"))


def test_a_select_only_role_cannot_write_even_around_the_console(
    migrated: Engine, select_only_role: str, session_id: int
) -> None:
    bypass = create_store_engine(select_only_role)  # not flagged read-only: the store would try
    try:
        before = row_counts(migrated)
        with pytest.raises(DBAPIError, match="permission denied for table"):
            adjust(bypass, session_id)
        with pytest.raises(DBAPIError, match="permission denied for table"), bypass.begin() as conn:
            conn.execute(text("UPDATE account_balances SET total = 1000000"))
        assert row_counts(migrated) == before
        assert books.read_balance(bypass, session_id, "USD").total == Decimal(1000)
    finally:
        bypass.dispose()


async def test_a_select_only_role_still_watches(migrated: Engine, select_only_role: str, session_id: int) -> None:
    watching = open_store(select_only_role, read_only=True)
    changes = watch_store(watching, after=Seen())
    try:
        await asyncio.to_thread(adjust, migrated, session_id)
        async with asyncio.timeout(10):
            change = await anext(changes)
        assert change.adjustment_ids == (books.adjustments(watching)[0].id,)
    finally:
        await changes.aclose()
        watching.dispose()


def test_a_read_only_console_cannot_migrate_and_says_what_to_do(store_url: str) -> None:
    with pytest.raises(SchemaError, match=r"at revision none, this console needs 0003.*balance-tui db migrate"):
        open_store(store_url, read_only=True)


def test_database_url_from_the_environment_wins_over_the_config() -> None:
    configured = "sqlite:///books.db"
    assert database_url(configured, {}) == configured
    assert database_url(configured, {"DATABASE_URL": ""}) == configured
    assert database_url(configured, {"DATABASE_URL": "postgresql://u@h/db"}) == "postgresql://u@h/db"
    engine = create_store_engine("postgres://u@localhost/db")  # the common spelling is read as psycopg 3
    assert engine.url.drivername == "postgresql+psycopg"
    engine.dispose()
