"""The asset, ledger, books and sessions screens on a recording: what they read, as of the replay's cursor,
from what the recording holds. The screens are the live console's; only their `load` differs.

The chart and the ledger come from the recording's copy of the store's tables, read with the store's own
queries (downsampled as the store read is); the balance, wallets and trend from the frame at the cursor
(the engine's fit as the console drew it); the open orders from the recording's orders as of the cursor.
The books and the sessions are the store's own reads on the recording's copy of its books as they stood at
the cursor: the recorder owns no session, so the books are the recorded exchange's latest session, as a
read-only console shows them.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from balance_tui.recording import Recording
from balance_tui.recording.format import EPOCH
from balance_tui.store import sessions
from balance_tui.store.history import history, ledger
from balance_tui.store.sessions import SessionOverview
from balance_tui.tui import asset_screen, ledger_screen
from balance_tui.tui.asset_screen import AssetDetail
from balance_tui.tui.books_screen import Books, read_books
from balance_tui.tui.ledger_screen import LedgerPage
from balance_tui.tui.replay_cursor import ReplayCursor

IN_THE_RECORDING = "in the recording"
DEFAULT_TREND_HOURS = 24.0  # [history] retention_hours by default; a recording says its own (meta config)


async def read_recorded_asset(recording: Recording, cursor: ReplayCursor, asset: str, hours: int) -> AssetDetail:
    """`asset` over the `hours` before the cursor, as the live screen read it then."""
    until = cursor.at
    since = until - timedelta(hours=hours)
    view = recording.view_at(until)
    row = view.history.get(asset)
    trend = None if row is None else row.trend
    changes = trend.samples if trend is not None else 0 if row is None else len(row.history)
    trend_hours = float(recording.meta.config.get("history_retention_hours") or DEFAULT_TREND_HOURS)  # type: ignore[arg-type]
    orders = tuple(item for item in recording.orders_at(until) if asset in (item[0].base, item[0].quote))
    engine = recording.history
    points = await asyncio.to_thread(history, engine, asset, since=since, until=until, points=asset_screen.POINTS)
    entries = await asyncio.to_thread(
        ledger, engine, since=since, until=until, asset=asset, limit=asset_screen.SHOWN_ENTRIES
    )
    balance = view.balances.get(asset)
    return AssetDetail(asset, hours, until, points, entries, balance, trend, trend_hours, changes, orders)


async def read_recorded_ledger(recording: Recording, cursor: ReplayCursor, previous: LedgerPage | None) -> LedgerPage:
    """Every ledger entry recorded up to the cursor; `previous` itself while the cursor stands."""
    until = cursor.at
    scope = f"as recorded up to {until:%Y-%m-%d %H:%M:%S} UTC"
    if previous is not None and previous.scope == scope:
        return previous
    read = await asyncio.to_thread(
        ledger, recording.history, since=EPOCH, until=until, limit=ledger_screen.SHOWN_ENTRIES
    )
    return LedgerPage(scope, IN_THE_RECORDING, read)


async def read_recorded_books(recording: Recording, cursor: ReplayCursor) -> Books:
    """The books as they stood at the cursor (the recording holds one exchange's: no need to name it)."""
    return await asyncio.to_thread(read_books, recording.books_at(cursor.at), None, None)


async def read_recorded_sessions(recording: Recording, cursor: ReplayCursor) -> list[SessionOverview]:
    """The sessions as they stood at the cursor."""
    return await asyncio.to_thread(sessions.overview, recording.books_at(cursor.at))
