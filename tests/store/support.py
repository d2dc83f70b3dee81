"""What store tests share besides fixtures: a start time, two operators, and a row counter."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, func, select
from sqlmodel import SQLModel

from balance_tui.store import tables  # noqa: F401  (registers the tables on SQLModel.metadata)
from balance_tui.store.identity import Operator

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ALICE = Operator("alice", ssh_origin="203.0.113.7 port 50022", tty="/dev/pts/3")
BOB = Operator("bob", ssh_origin="198.51.100.4 port 41000", tty="/dev/pts/9")


def row_counts(engine: Engine) -> dict[str, int]:
    """Rows in every table the store declares: "nothing was written" means none of these changed."""
    with engine.connect() as conn:
        return {
            name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for name, table in SQLModel.metadata.tables.items()
        }
