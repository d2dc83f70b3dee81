"""Helpers the TUI tests share."""

from __future__ import annotations

from textual.notifications import Notification, Notify
from textual.pilot import Pilot

from balance_tui.tui.balances_table import BalancesTable
from tests.integration.conftest import eventually
from tests.store.conftest import store_url  # noqa: F401  (a fixture: SQLite, and PostgreSQL when one is named)


class Notices:
    """Every notification the app raises: `app.run_test(message_hook=notices.hook, notifications=True)`."""

    def __init__(self) -> None:
        self.seen: list[Notification] = []

    def hook(self, message: object) -> None:
        if isinstance(message, Notify):
            self.seen.append(message.notification)

    def titled(self, prefix: str) -> list[Notification]:
        return [n for n in self.seen if n.title.startswith(prefix)]


async def settled(pilot: Pilot) -> None:
    """The console as a snapshot needs it: the snapshot and holds in, every row drawn, every asset priced."""
    app = pilot.app
    await eventually(
        lambda: app.backend is not None and app.backend.manager.has_snapshot and app.backend.manager.holds_at,
        what="snapshot and holds",
    )
    table = app.screen.query_one(BalancesTable)
    await eventually(lambda: table.counts.held == len(app.backend.simulator.account.totals()), what="the table")
    backend = app.backend
    await eventually(
        lambda: (
            backend.ticker is not None
            and backend.ticker.settled
            and backend.ticker.health.subscribed <= backend.prices.symbols
        ),
        what="every subscription priced",
    )
    await pilot.pause(0.3)
