"""Engines for the store, and the two ways to use one: `writing` (refused when read-only) and `reading`.

SQLite is tuned for one writer and several readers: WAL, synchronous=FULL, every write transaction opened
with BEGIN IMMEDIATE, and a busy_timeout of 30 s. SQLite's busy handler is not fair (a waiter sleeps up to
100 ms between tries and others can take the lock meanwhile), so under sustained contention a writer can
wait seconds; making an operator's adjustment wait beats failing it. Reads open a deferred BEGIN (a WAL
snapshot that takes no lock), so a sparkline query never holds up the history writer.

PostgreSQL goes through psycopg 3. Where the URL comes from: `DATABASE_URL` in the environment, when set,
wins over `[store] database_url` (the environment overrides files, as KRAKEN_API_KEY overrides the
credentials file). `postgres://` and `postgresql://` URLs are read as psycopg 3. A server that never answers
(a firewall dropping packets) fails after `PG_CONNECT_TIMEOUT_S` per address tried, not psycopg's 130 s;
a `connect_timeout` in the URL or `$PGCONNECT_TIMEOUT` is the operator's choice and wins.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlmodel import Session

from balance_tui.store.errors import DatabaseURLError, ReadOnlyStoreError, StoreUnavailable

DATABASE_URL_ENV = "DATABASE_URL"
PG_CONNECT_TIMEOUT_S = 5  # seconds; psycopg takes at least 2
_READ_ONLY = "balance_tui_read_only"  # engine execution option: this console never writes
_READING = "balance_tui_reading"  # connection execution option: a read transaction (deferred BEGIN)


def database_url(configured: str, env: Mapping[str, str] = os.environ) -> str:
    """The URL to open: $DATABASE_URL if set and not empty, else `[store] database_url`."""
    return env.get(DATABASE_URL_ENV) or configured


# The databases and drivers the store speaks: (backend, driver) as a URL spells them before the "://".
_SPOKEN = {("sqlite", ""), ("sqlite", "pysqlite"), ("postgresql", "psycopg")}
URL_FORMS = "sqlite:///PATH or postgresql+psycopg://USER@HOST/DATABASE"


def parse_database_url(database_url: str) -> URL:
    """The URL the store will open, or `DatabaseURLError` saying what is wrong without echoing the URL (it may
    hold a password)."""
    try:
        url = _psycopg(make_url(database_url))
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number, quoting the URL's text
        raise DatabaseURLError(f"not a database URL; expected {URL_FORMS}") from None
    backend, _, driver = url.drivername.partition("+")
    if (backend, driver) not in _SPOKEN:
        raise DatabaseURLError(f"{url.drivername}:// is not a database this console speaks; expected {URL_FORMS}")
    return url


def create_store_engine(database_url: str, *, read_only: bool = False, create: bool = True) -> Engine:
    """An engine for the store; `read_only` refuses writes here and, where the backend can, in the database.

    A SQLite file that does not exist is made unless `create` is false: commands that read or add to an
    existing store refuse a mistyped path instead of answering from a new, empty one."""
    url = parse_database_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            path = Path(url.database).expanduser()
            if not create and not path.exists():
                raise StoreUnavailable(f"no store at {path}: start the console once or run `balance-tui db migrate`")
            _sqlite_directory(path)
        engine = create_engine(url)
        event.listen(engine, "connect", _sqlite_read_only_connect if read_only else _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    else:
        engine = create_engine(url, pool_pre_ping=True, connect_args=postgresql_connect_args(url))
        if read_only:
            event.listen(engine, "connect", _postgresql_read_only_connect)
    return engine.execution_options(**{_READ_ONLY: True}) if read_only else engine


def postgresql_connect_args(url: URL, env: Mapping[str, str] = os.environ) -> dict[str, int]:
    """psycopg's connect arguments for the store's URL: our connect timeout unless the operator set one."""
    if "connect_timeout" in url.query or env.get("PGCONNECT_TIMEOUT"):
        return {}
    return {"connect_timeout": PG_CONNECT_TIMEOUT_S}


def is_read_only(engine: Engine) -> bool:
    return bool(engine.get_execution_options().get(_READ_ONLY))


def require_writable(engine: Engine) -> None:
    if is_read_only(engine):
        raise ReadOnlyStoreError(
            "this console is read-only ([store] read_only = true): it shows the books but cannot change them"
        )


@contextmanager
def writing(engine: Engine) -> Iterator[Session]:
    """One write transaction: committed when the block ends, rolled back (nothing written) if it raises."""
    require_writable(engine)
    with Session(engine, expire_on_commit=False) as db, db.begin():
        yield db


@contextmanager
def reading(engine: Engine) -> Iterator[Session]:
    """One consistent read: a snapshot that blocks no writer."""
    with Session(engine.execution_options(**{_READING: True}), expire_on_commit=False) as db, db.begin():
        yield db


def _sqlite_directory(path: Path) -> None:
    """The directory a new SQLite file goes in, made if missing; a path that cannot be a file is refused."""
    if path.is_dir():
        raise StoreUnavailable(f"cannot open the store {path}: it is a directory, not a database file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreUnavailable(f"cannot open the store {path}: cannot make {path.parent}: {exc.strerror}") from None


def _psycopg(url: URL) -> URL:
    return url.set(drivername="postgresql+psycopg") if url.drivername in ("postgres", "postgresql") else url


def _sqlite_connect(dbapi_connection, _record) -> None:
    # Hand transaction control to the "begin" hook below instead of pysqlite's deferred BEGIN.
    dbapi_connection.isolation_level = None
    for pragma in ("journal_mode=WAL", "busy_timeout=30000", "foreign_keys=ON", "synchronous=FULL"):
        dbapi_connection.execute(f"PRAGMA {pragma}")


def _sqlite_read_only_connect(dbapi_connection, record) -> None:
    _sqlite_connect(dbapi_connection, record)
    dbapi_connection.execute("PRAGMA query_only=ON")  # SQLite itself refuses any write on this connection


def _sqlite_begin(connection: Connection) -> None:
    # Take the write lock up front: a deferred transaction that reads then writes fails at once
    # with "database is locked" when another writer got in between, whatever busy_timeout says.
    options = connection.get_execution_options()
    deferred = options.get(_READING) or options.get(_READ_ONLY)
    connection.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")


def _postgresql_read_only_connect(dbapi_connection, _record) -> None:
    # A guard against our own mistakes only: a session can turn it off. Enforcement is the role (README).
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET default_transaction_read_only = on")
    dbapi_connection.commit()
