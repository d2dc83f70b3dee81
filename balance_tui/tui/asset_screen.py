"""One asset up close: its balance over 1 h, 24 h or 7 d from the store (downsampled) as a chart with the
ledger's deposits, withdrawals and trades marked, the fitted trend, its wallets, the open orders that touch
it and what they hold, and its ledger over the same range."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import ClassVar

from sqlalchemy.exc import SQLAlchemyError
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from balance_tui.backend import Backend
from balance_tui.core import Balance
from balance_tui.core.events import Source
from balance_tui.core.history import TrendAnalysis
from balance_tui.core.orders import OpenOrder
from balance_tui.recording import RecordingError
from balance_tui.store.errors import StoreError
from balance_tui.store.history import History, Ledger, bucket_width, history, ledger
from balance_tui.tui.chart import BalanceChart
from balance_tui.tui.formatting import amount, no_trend_yet, trend_text
from balance_tui.tui.header import ConsoleHeader
from balance_tui.tui.ledger_screen import COLUMNS, GIVE_WAY, entry_rows
from balance_tui.tui.row_table import FittedTable

RANGES = {1: "1 h", 24: "24 h", 168: "7 d"}  # hours: how the heading says it
DEFAULT_HOURS = 24
POINTS = 120  # asked of the store per range; it raises this to one per clock hour the samples touch
SHOWN_ENTRIES = 500
POLL_S = 5.0  # read again this often while shown: the feed keeps moving the balance

HOLD_SOURCES = {Source.WS: " (by open orders, live)", Source.REST: " (REST BalanceEx)"}

ORDER_COLUMNS = (
    ("order", "Order", False),
    ("pair", "Pair", False),
    ("side", "Side", False),
    ("quantity", "Quantity", True),
    ("filled", "Filled", True),
    ("limit", "Limit", True),
    ("holds", "Holds", True),
)
ORDER_GIVE_WAY = ("order", "filled", "limit", "side")  # what an order holds always shows, whole
ENTRY_COLUMNS = tuple(c for c in COLUMNS if c[0] not in ("legs", "asset"))  # one asset: no legs to tie

OrderHold = tuple[OpenOrder, tuple[str, Decimal] | None]


@dataclass(frozen=True, slots=True)
class AssetDetail:
    """Everything the screen draws, read in one go: the store's part in a thread, the engine's on the loop."""

    asset: str
    hours: int
    until: datetime
    history: History
    ledger: Ledger  # of the asset in the range, newest first
    balance: Balance | None  # now, from the engine
    trend: TrendAnalysis | None  # the engine's fit over the history it keeps in memory
    trend_hours: float
    changes: int  # in that history
    orders: tuple[OrderHold, ...]  # open orders on a pair with the asset, and what each holds


async def read_asset(backend: Backend, asset: str, hours: int) -> AssetDetail:
    manager = backend.manager
    until = manager.clock.now()
    since = until - timedelta(hours=hours)
    balance = manager.get_balance(asset)
    trend_hours = manager.history.retention / timedelta(hours=1)
    trend = manager.history.analyze_balance_trend(asset, trend_hours)
    orders = tuple(item for item in manager.orders.listed() if asset in (item[0].base, item[0].quote))
    stored = await asyncio.to_thread(history, backend.store, asset, since=since, until=until, points=POINTS)
    entries = await asyncio.to_thread(ledger, backend.store, since=since, until=until, asset=asset, limit=SHOWN_ENTRIES)
    changes = len(manager.history.get_asset_history(asset))
    return AssetDetail(asset, hours, until, stored, entries, balance, trend, trend_hours, changes, orders)


class AssetScreen(Screen[None]):
    # Under 30 rows the chart and the orders table give rows to the ledger (app.tcss).
    VERTICAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-low"), (30, "-high")]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="asset.back"),
        Binding("1", "range(1)", "Hour", id="asset.range_1h"),
        Binding("2", "range(24)", "Day", id="asset.range_24h"),
        Binding("3", "range(168)", "Week", id="asset.range_7d"),
    ]

    def __init__(self, asset: str, load: Callable[[str, int], Awaitable[AssetDetail]]) -> None:
        """`load(asset, hours)` reads what is shown over the last `hours`."""
        super().__init__()
        self.asset = asset
        self.hours = DEFAULT_HOURS
        self._load = load
        self._shown: dict[str, object] = {}  # per table, what it was last drawn from

    def compose(self) -> ComposeResult:
        yield ConsoleHeader()
        yield Static(f"reading {self.asset}", id="asset-heading", classes="heading", markup=False)
        yield BalanceChart(id="chart")
        yield Static("", id="asset-trend", markup=False)
        yield Static("", id="asset-wallets", markup=False)
        yield Static("open orders on its pairs", id="orders-heading", classes="heading", markup=False)
        yield FittedTable(ORDER_COLUMNS, give_way=ORDER_GIVE_WAY, id="asset-orders")
        yield Static("", id="asset-orders-detail", classes="left-out", markup=False)
        yield Static("", id="entries-heading", classes="heading", markup=False)
        yield FittedTable(ENTRY_COLUMNS, give_way=GIVE_WAY, id="asset-ledger")
        yield Static("", id="asset-ledger-detail", classes="left-out", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#asset-ledger", FittedTable).focus()
        self.reload()
        self.set_interval(POLL_S, self.reload)

    def action_range(self, hours: int) -> None:
        if hours != self.hours:
            self.hours = hours
            self.query_one("#asset-heading", Static).update(f"reading {self.asset} over the last {RANGES[hours]}")
            self.reload()

    @work(exclusive=True, group="asset", exit_on_error=False, description="read the asset's history")
    async def reload(self) -> None:
        """Read the asset again over the chosen range; a failed read is said in the heading."""
        try:
            detail = await self._load(self.asset, self.hours)
        except (StoreError, SQLAlchemyError, RecordingError) as exc:  # a replay reads its recording
            self.query_one("#asset-heading", Static).update(f"cannot read {self.asset}'s history: {exc}")
            return
        if detail.hours == self.hours:  # not a read for a range since left
            self.show(detail)

    def show(self, detail: AssetDetail) -> None:
        stored, asset, span = detail.history, detail.asset, RANGES[detail.hours]
        self.query_one("#asset-heading", Static).update(_heading(asset, span, stored))
        self.query_one(BalanceChart).show(stored.points, detail.until, detail.ledger.entries)
        trend = detail.trend
        self.query_one("#asset-trend", Static).update(
            f"trend over the last {detail.trend_hours:g} h the engine keeps: "
            + (
                f"{trend_text(trend)}  ({trend.samples} changes)"
                if trend is not None and trend.stated
                else no_trend_yet(detail.changes, trend)
            )
        )
        self.query_one("#asset-wallets", Static).update(_wallets(detail.balance))
        self._orders(asset, detail.orders)
        self._entries(asset, span, detail.ledger)

    def _orders(self, asset: str, orders: tuple[OrderHold, ...]) -> None:
        self.query_one("#orders-heading", Static).update(
            f"open orders on {asset} pairs: {len(orders)}" if orders else f"open orders on {asset} pairs: none"
        )
        if self._shown.get("orders") == orders:
            return
        self._shown["orders"] = orders
        rows = [
            (order.order_id, {
                "order": order.order_id, "pair": f"{order.base}/{order.quote}", "side": order.side,
                "quantity": amount(order.order_qty), "filled": amount(order.filled),
                "limit": "market" if order.limit_price is None else amount(order.limit_price),
                "holds": "-" if held is None else f"{amount(held[1])} {held[0]}",
            })
            for order, held in orders
        ]  # fmt: skip
        table = self.query_one("#asset-orders", FittedTable)
        table.show(rows)
        table.display = bool(rows)  # no header over nothing: the heading says none

    def _entries(self, asset: str, span: str, read: Ledger) -> None:
        more = f" (the newest {len(read.entries)} here)" if read.total > len(read.entries) else ""
        self.query_one("#entries-heading", Static).update(
            f"{asset} ledger in the last {span}: {read.total} entr{'y' if read.total == 1 else 'ies'}, newest first"
            + more
        )
        drawn = (read.total, tuple(e.id for e in read.entries))
        if self._shown.get("entries") == drawn:
            return
        self._shown["entries"] = drawn
        self.query_one("#asset-ledger", FittedTable).show(entry_rows([(" ", e) for e in read.entries]))

    @on(DataTable.RowHighlighted)
    @on(FittedTable.Refitted)
    def _detail(self, event: DataTable.RowHighlighted | FittedTable.Refitted) -> None:
        """Under each table, its selected row's figures in the columns left out for want of width."""
        if isinstance(table := event.control, FittedTable):
            table.show_left_out(self.query_one(f"#{table.id}-detail", Static))


def _heading(asset: str, span: str, stored: History) -> str:
    if not stored.points:
        return f"{asset} over the last {span}: no samples in the store"
    first = stored.points[0].observed_at
    since = f"from {first:%Y-%m-%d %H:%M} UTC (the first sample)"
    if stored.bucket is None:
        merged = f"all {stored.samples} sample{'s' if stored.samples != 1 else ''}"
    else:
        merged = (
            f"{stored.samples} samples merged into {len(stored.points)} points, "
            f"the last of each {bucket_width(stored.bucket)}"
        )
    return f"{asset} over the last {span}: {merged}, {since}"


def _wallets(balance: Balance | None) -> str:
    if balance is None:
        return "not held now"
    wallets = "  ".join(f"{w.type}/{w.id} {amount(w.balance)}" for w in balance.wallets) or "no wallet"
    held = f"held {amount(balance.held)}" + HOLD_SOURCES.get(balance.hold_source, "")
    credit = ""
    if balance.hold.credit:
        credit = f"  credit {amount(balance.hold.credit)} (used {amount(balance.hold.credit_used)})"
    return f"total {amount(balance.total)}: {wallets}  ·  {held}{credit}  ·  free {amount(balance.free)}"
