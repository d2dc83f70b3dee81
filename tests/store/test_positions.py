"""Positions reserve their cost and book their P&L in the base currency, exactly, under the balance lock."""

from decimal import Decimal

import pytest
from sqlalchemy import Engine

from balance_tui.store import books, positions, sessions
from balance_tui.store.errors import PositionError
from balance_tui.store.maintenance import verify
from balance_tui.store.tables import PositionSide
from tests.store.support import T0, row_counts

D = Decimal


def open_btc(engine: Engine, session_id: int, side: PositionSide, size: str, price: str):  # type: ignore[no-untyped-def]
    return positions.open_position(
        engine, session_id=session_id, symbol="BTC/USD", side=side, size=D(size), entry_price=D(price),
        now=T0, by="bot", stop_loss=D("1"), take_profit=D("99999"),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("side", "exit_price", "pnl"),
    [
        (PositionSide.LONG, "50100.12345", "1.0012"),  # 0.01 x 100.12345 = 1.0012345: 1.0012 at 4 places
        (PositionSide.SHORT, "50100.12345", "-1.0012"),
        (PositionSide.LONG, "49000", "-10"),
    ],
)
def test_closing_books_the_pnl_and_releases_the_reserve(
    migrated: Engine, session_id: int, side: PositionSide, exit_price: str, pnl: str
) -> None:
    position = open_btc(migrated, session_id, side, "0.01", "50000")
    usd = books.read_balance(migrated, session_id, "USD")
    assert (position.cost, usd.reserved, usd.available, usd.total) == (D(500), D(500), D(500), D(1000))
    assert [p.id for p in positions.open_positions(migrated, session_id)] == [position.id]

    closed = positions.close_position(migrated, position_id=position.id, exit_price=D(exit_price), now=T0, by="bot")
    assert (closed.status, closed.realized_pnl, closed.exit_price) == ("closed", D(pnl), D(exit_price))
    usd = books.read_balance(migrated, session_id, "USD")
    assert (usd.total, usd.reserved, usd.available) == (D(1000) + D(pnl), D(0), D(1000) + D(pnl))
    assert usd.updated_by == "bot" and f"P&L {pnl}" in usd.update_reason
    assert positions.open_positions(migrated, session_id) == []
    assert [(p.id, p.status) for p in positions.session_positions(migrated, session_id)] == [(position.id, "closed")]
    assert verify(migrated).ok


@pytest.mark.parametrize(
    ("symbol", "size", "price", "error"),
    [
        ("BTC/USD", "0.1", "50000", "costs 5000 USD; only 1000 is available"),
        ("BTC/EUR", "0.01", "50000", "expected BASE/USD"),
        ("BTCUSD", "0.01", "50000", "expected BASE/USD"),
        ("BTC/USD", "0", "50000", "must be positive"),
    ],
)
def test_positions_that_cannot_open_write_nothing(
    migrated: Engine, session_id: int, symbol: str, size: str, price: str, error: str
) -> None:
    before = row_counts(migrated)
    with pytest.raises(PositionError, match=error):
        positions.open_position(
            migrated, session_id=session_id, symbol=symbol, side=PositionSide.LONG, size=D(size),
            entry_price=D(price), now=T0, by="bot",
        )  # fmt: skip
    assert row_counts(migrated) == before


@pytest.mark.parametrize(
    ("size", "price", "error"),
    [
        ("0.0000000000000000001", "50000", "size 1E-19: amount 1E-19 does not fit"),  # costs 0.0000: it would open
        ("1" * 21, "0.000000000000000001", "size 1{21}: amount 1{21} does not fit"),
        ("0." + "1" * 250, "1", r"size 0\.1{250}: amount"),  # past any context's digits
        ("0.01", "NaN", "entry price NaN: an amount must be a finite Decimal"),
    ],
)
def test_a_size_or_price_the_store_cannot_hold_is_refused_before_any_arithmetic(
    migrated: Engine, session_id: int, size: str, price: str, error: str
) -> None:
    before = row_counts(migrated)
    with pytest.raises(PositionError, match=error):
        open_btc(migrated, session_id, PositionSide.LONG, size, price)
    assert row_counts(migrated) == before


def test_an_exit_price_the_store_cannot_hold_is_refused(migrated: Engine, session_id: int) -> None:
    position = open_btc(migrated, session_id, PositionSide.LONG, "0.01", "50000")
    before = row_counts(migrated)
    with pytest.raises(PositionError, match=r"exit price 50000\.0000000000000000001: amount"):
        positions.close_position(
            migrated, position_id=position.id, exit_price=D("50000.0000000000000000001"), now=T0, by="bot"
        )
    assert row_counts(migrated) == before


def test_a_position_closes_once(migrated: Engine, session_id: int) -> None:
    position = open_btc(migrated, session_id, PositionSide.LONG, "0.01", "50000")
    positions.close_position(migrated, position_id=position.id, exit_price=D(50000), now=T0, by="bot")
    before = row_counts(migrated)
    with pytest.raises(PositionError, match=f"position {position.id} is closed already"):
        positions.close_position(migrated, position_id=position.id, exit_price=D(60000), now=T0, by="bot")
    assert row_counts(migrated) == before


def test_positions_of_an_ended_session_neither_open_nor_close(migrated: Engine, session_id: int) -> None:
    position = open_btc(migrated, session_id, PositionSide.LONG, "0.01", "50000")
    ended = sessions.active(migrated, "sim")
    assert ended is not None
    sessions.close(migrated, ended, now=T0)
    before = row_counts(migrated)
    refused = f"trading session {session_id} is closed: positions change in the active session"
    with pytest.raises(PositionError, match=refused):
        open_btc(migrated, session_id, PositionSide.LONG, "0.01", "50000")
    with pytest.raises(PositionError, match=refused):
        positions.close_position(migrated, position_id=position.id, exit_price=D(50000), now=T0, by="bot")
    with pytest.raises(PositionError, match=f"position {position.id + 1} is unknown"):
        positions.close_position(migrated, position_id=position.id + 1, exit_price=D(50000), now=T0, by="bot")
    with pytest.raises(PositionError, match="trading session 99 does not exist"):
        open_btc(migrated, 99, PositionSide.LONG, "0.01", "50000")
    assert row_counts(migrated) == before
