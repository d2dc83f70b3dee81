"""The books and sessions screens on a recording show the store as it stood at the cursor: the recorder
copies the store's rows as they change, and the screens run the store's own reads on that copy."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

from textual.pilot import Pilot

from balance_tui.backend import Backend
from balance_tui.recording import Recording
from balance_tui.store import books, sessions
from balance_tui.store.engine import create_store_engine
from balance_tui.store.identity import Operator
from balance_tui.store.sessions import SessionOverview
from balance_tui.tui.books_screen import BooksScreen
from balance_tui.tui.replay import ReplayApp
from balance_tui.tui.row_table import RowTable
from balance_tui.tui.sessions_screen import SessionsScreen
from tests.conftest import FrozenClock
from tests.integration.conftest import eventually
from tests.tui.recorded import adjust, record

FIRST, SECOND = 2, 6  # the steps the two adjustments come before
ALICE = Operator("alice", None, None, None)


async def _adjustments(i: int, backend: Backend) -> None:
    if i == FIRST:
        await adjust(backend, "USD", Decimal("100"), "opening float", ALICE)
    if i == SECOND:
        await adjust(backend, "USD", Decimal("12.5"), "fee refund", ALICE)


def _comparable(found: list[SessionOverview], **then: object) -> list[tuple[object, ...]]:
    """What the sessions screen shows of each (with the fields `then` as they were); the heartbeat, which
    it does not show, is not recorded as it moves."""
    return [(o.session.model_dump(exclude={"heartbeat_at"}) | then, o.balances, o.adjustments) for o in found]


def tracked(app: ReplayApp) -> dict[str, str]:
    table = app.screen.query_one("#tracked", RowTable)
    return {str(table.get_row_at(i)[0]).strip(): str(table.get_row_at(i)[1]).strip() for i in range(table.row_count)}


async def go_to(pilot: Pilot, at: datetime) -> None:
    await pilot.press("g", *f"{at:%H:%M:%S}", "enter")


async def test_books_and_sessions_are_the_stores_before_and_after_an_adjustment(make_config, tmp_path: Path) -> None:
    path = tmp_path / "books.rec"
    await record(make_config(), path, FrozenClock(), 10, _adjustments)
    store = create_store_engine(make_config().database_url)
    (latest,) = sessions.latest(store, limit=1)
    assert latest.id is not None
    first, second = books.adjustments(store)
    now_balances, now_sessions = books.read_balances(store, latest.id), sessions.overview(store)
    app = ReplayApp(make_config(), Recording.open(path))
    async with app.run_test(size=(120, 40)) as pilot:
        await go_to(pilot, second.created_at)  # the frame read as the second was written: before it
        before = await app.books_loader()()
        assert before.session is not None and before.session.id == latest.id
        (usd,) = before.balances
        assert (usd.total, usd.version, usd.updated_by) == (first.after, 1, "alice")
        assert [a.model_dump() for a in before.adjustments] == [first.model_dump()]
        (was,) = await app.sessions_loader()()
        assert was.adjustments == 1 and was.balances == (usd,)

        await pilot.press("b")
        await eventually(lambda: isinstance(app.screen, BooksScreen), what="the books")
        await eventually(lambda: tracked(app).get("USD") == "100", what="USD at 100")
        await pilot.press("full_stop")  # the next frame: the second adjustment is in the books
        await eventually(lambda: tracked(app).get("USD") == "112.5", what="USD at 112.5, read again")
        after = await app.books_loader()()
        assert after.balances == now_balances
        assert [a.model_dump() for a in after.adjustments] == [first.model_dump(), second.model_dump()]
        # As the store had it until the console closed the session, after the recorder stopped.
        assert _comparable(await app.sessions_loader()()) == _comparable(now_sessions, status="active", ended_at=None)

        await pilot.press("escape", "t")
        await eventually(lambda: isinstance(app.screen, SessionsScreen), what="the sessions")
        table = app.screen.query_one("#sessions", RowTable)
        await eventually(lambda: table.row_count == len(now_sessions), what="the sessions listed")
        await pilot.press("home")  # the start: no adjustment yet, the session open
        assert _comparable(await app.sessions_loader()()) == [
            (latest.model_dump(exclude={"heartbeat_at"}) | {"status": "active", "ended_at": None}, (), 0)
        ]
    store.dispose()
