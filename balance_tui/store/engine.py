"""Engines for the store: SQLite tuned for one writer and several readers, or PostgreSQL as given."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url


def create_store_engine(database_url: str) -> Engine:
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if url.database and url.database != ":memory:":
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url)
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection, _record) -> None:
    # Hand transaction control to the "begin" hook below instead of pysqlite's deferred BEGIN.
    dbapi_connection.isolation_level = None
    for pragma in ("journal_mode=WAL", "busy_timeout=5000", "foreign_keys=ON", "synchronous=FULL"):
        dbapi_connection.execute(f"PRAGMA {pragma}")


def _sqlite_begin(connection) -> None:
    # Take the write lock up front: a deferred transaction that reads then writes fails at once
    # with "database is locked" when another writer got in between, whatever busy_timeout says.
    connection.exec_driver_sql("BEGIN IMMEDIATE")
