"""`db verify` finds books that do not add up; `db backup` copies safely; `export` keeps every digit."""

import csv
import io
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from alembic import command
from sqlalchemy import Engine, text

from balance_tui.core.events import Source
from balance_tui.core.model import Balance
from balance_tui.store import books, sessions
from balance_tui.store.engine import create_store_engine
from balance_tui.store.errors import StoreError
from balance_tui.store.export import export
from balance_tui.store.history import HistoryWriter
from balance_tui.store.maintenance import backup, verify
from balance_tui.store.migrate import alembic_config
from balance_tui.store.tables import AdjustmentKind
from tests.store.support import ALICE, T0


def adjust(engine: Engine, session_id: int, asset: str, amount: str, key: str) -> None:
    books.adjust(
        engine, session_id=session_id, asset=asset, amount=Decimal(amount), kind=AdjustmentKind.DELTA,
        reason="count, \"quoted\"", operator=ALICE, idempotency_key=key, now=T0,
    )  # fmt: skip


def test_sound_books_verify(migrated: Engine, session_id: int) -> None:
    adjust(migrated, session_id, "BTC", "0.0000000001", "a")
    report = verify(migrated)
    assert report.ok and report.checked == {"sessions": 1, "balances": 2, "adjustments": 1, "positions": 0}


def test_a_balance_changed_behind_the_books_back_is_found(migrated: Engine, session_id: int) -> None:
    adjust(migrated, session_id, "USD", "5", "a")
    with migrated.begin() as conn:  # someone edits the table by hand, with no adjustment
        conn.execute(text("UPDATE account_balances SET total = '1006', available = '1006' WHERE asset = 'USD'"))
    report = verify(migrated)
    assert report.problems == [f"session {session_id} USD: total 1006 but opening 1000 + adjustments 5 + P&L 0 = 1005"]


def test_available_must_be_total_minus_reserved(migrated: Engine, session_id: int) -> None:
    with migrated.begin() as conn:
        conn.execute(text("UPDATE account_balances SET available = '3' WHERE asset = 'BTC'"))
    assert verify(migrated).problems == [f"session {session_id} BTC: available 3 is not total 2 - reserved 0"]


def continue_after_restart(engine: Engine, session_id: int) -> int:
    """Close the session and start again: a new session carries its balances over."""
    old = sessions.active(engine, "sim")
    assert old is not None
    sessions.close(engine, old, now=T0 + timedelta(hours=1))
    opened = sessions.resume_or_start(engine, exchange="sim", mode="paper", now=T0 + timedelta(hours=2))
    assert opened.session.id is not None and opened.session.continues_id == session_id
    return opened.session.id


def test_an_adjustment_into_the_old_session_after_the_carry_over_is_found(migrated: Engine, session_id: int) -> None:
    new = continue_after_restart(migrated, session_id)
    with migrated.begin() as conn:  # issue 14: a racing adjustment lands in the old session after the carry-over
        conn.execute(text("UPDATE trading_sessions SET status = 'closed' WHERE id = :id"), {"id": new})
        conn.execute(text("UPDATE trading_sessions SET status = 'active' WHERE id = :id"), {"id": session_id})
    adjust(migrated, session_id, "USD", "1", "late")
    with migrated.begin() as conn:
        conn.execute(text("UPDATE trading_sessions SET status = 'closed' WHERE id = :id"), {"id": session_id})
        conn.execute(text("UPDATE trading_sessions SET status = 'active' WHERE id = :id"), {"id": new})
    assert verify(migrated).problems == [
        f"session {new} USD: opens at 1000 but session {session_id}, which it continues, ended at 1001"
    ]


def test_a_continuation_opening_edited_by_hand_is_found(migrated: Engine, session_id: int) -> None:
    new = continue_after_restart(migrated, session_id)
    with migrated.begin() as conn:  # opening and total edited together: the new session adds up on its own
        conn.execute(
            text("UPDATE account_balances SET opening = '3', total = '3', available = '3' WHERE session_id = :id"),
            {"id": new},
        )
    assert verify(migrated).problems == [
        f"session {new} BTC: opens at 3 but session {session_id}, which it continues, ended at 2",
        f"session {new} USD: opens at 3 but session {session_id}, which it continues, ended at 1000",
    ]


def test_an_old_schema_is_reported(migrated: Engine) -> None:
    config = alembic_config()
    with migrated.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0001")
    assert verify(migrated).problems == ["schema is at revision 0001, expected 0003"]


def test_a_backup_is_a_consistent_copy(migrated: Engine, session_id: int, tmp_path) -> None:
    adjust(migrated, session_id, "USD", "5", "a")
    suffix = ".db" if migrated.dialect.name == "sqlite" else ".dump"
    copy = backup(migrated, tmp_path / f"backup{suffix}")
    if migrated.dialect.name == "sqlite":
        restored = create_store_engine(f"sqlite:///{copy}")
        assert [a.idempotency_key for a in books.adjustments(restored)] == ["a"]
        assert verify(restored).ok
        restored.dispose()
    else:
        assert copy.read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format
    with pytest.raises(StoreError, match="exists; choose a new file"):
        backup(migrated, copy)


def samples(engine: Engine) -> None:
    writer = HistoryWriter(engine, retention=timedelta(days=3650), clock=lambda: T0)
    writer.start()
    for n, total in enumerate(("12345678.12345678", "0.000000000000000001", "99999999999999999999")):
        writer.record_balance(Balance("BTC", Decimal(total), (), Source.REST, T0 + timedelta(seconds=n)))
    writer.close()


def test_export_csv_keeps_every_digit(migrated: Engine, session_id: int) -> None:
    adjust(migrated, session_id, "BTC", "0.0000000001", "a")
    samples(migrated)
    out = io.StringIO()
    assert export(migrated, out, fmt="csv") == {"adjustments": 1, "samples": 3}
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [r["record"] for r in rows] == ["adjustment", "sample", "sample", "sample"]
    assert (rows[0]["before"], rows[0]["after"], rows[0]["delta"]) == ("2", "2.0000000001", "0.0000000001")
    assert (rows[0]["reason"], rows[0]["operator"], rows[0]["session_id"]) == (
        'count, "quoted"',
        "alice",
        str(session_id),
    )
    assert [r["total"] for r in rows[1:]] == ["12345678.12345678", "0.000000000000000001", "99999999999999999999"]
    assert rows[1]["observed_at"] == "2026-11-20T12:00:00Z" and rows[1]["source"] == "rest"


def test_export_json_keeps_every_digit_and_can_start_later(migrated: Engine, session_id: int) -> None:
    adjust(migrated, session_id, "USD", "-0.0001", "a")
    samples(migrated)
    out = io.StringIO()
    assert export(migrated, out, fmt="json", since=T0) == {"adjustments": 1, "samples": 2}
    data = json.loads(out.getvalue())
    assert (
        data["adjustments"][0]["delta"] == "-0.0001" and data["adjustments"][0]["created_at"] == "2026-11-20T12:00:00Z"
    )
    assert [s["total"] for s in data["samples"]] == ["0.000000000000000001", "99999999999999999999"]


def test_export_of_an_empty_store_is_valid(migrated: Engine) -> None:
    out = io.StringIO()
    export(migrated, out, fmt="json")
    assert json.loads(out.getvalue()) == {"adjustments": [], "samples": []}
