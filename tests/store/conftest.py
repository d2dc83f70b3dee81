"""Every store test runs on SQLite, and on PostgreSQL when BALANCE_TUI_TEST_PG_URL names one (tests/conftest.py:
unset, those skip and the summary says so; set to a server that does not answer, they are errors)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from balance_tui.store import sessions
from balance_tui.store.engine import create_store_engine
from balance_tui.store.migrate import upgrade
from tests.store.support import T0


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    base = request.getfixturevalue("pg_base_url")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield (
            make_url(base)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    engine = create_store_engine(store_url)
    yield engine
    engine.dispose()


@pytest.fixture
def pg_admin(pg_base_url: str) -> Iterator[Engine]:
    """An autocommit superuser engine on the test database, for what a test sets up around the store."""
    admin = create_engine(pg_base_url, isolation_level="AUTOCOMMIT")
    yield admin
    admin.dispose()


@pytest.fixture
def migrated(engine: Engine) -> Engine:
    upgrade(engine)
    return engine


@pytest.fixture
def session_id(migrated: Engine) -> int:
    """An active session owned by this test process, opening with 1000 USD and 2 BTC."""
    opened = sessions.resume_or_start(
        migrated,
        exchange="sim",
        mode="paper",
        now=T0,
        opening_balances={"USD": Decimal("1000"), "BTC": Decimal("2")},
    )
    assert opened.session.id is not None
    return opened.session.id
