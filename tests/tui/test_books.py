"""The bot's books from the keyboard: adjusting a balance, and seeing other consoles' adjustments."""

from __future__ import annotations

import asyncio
import os
import pwd
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from textual.notifications import Notify
from textual.widgets import Button, DataTable, Input, RadioButton, Static

from balance_tui.kraken.assets import asset_code
from balance_tui.store import books, positions
from balance_tui.store.engine import database_url
from balance_tui.store.identity import Operator
from balance_tui.store.migrate import open_store
from balance_tui.store.tables import AdjustmentKind, PositionSide
from balance_tui.tui.adjust_form import AdjustForm
from balance_tui.tui.app import BalanceApp
from balance_tui.tui.books_screen import BooksScreen
from balance_tui.tui.note_form import NoteForm
from balance_tui.tui.sessions_screen import SessionsScreen
from tests.conftest import FrozenClock
from tests.integration.conftest import eventually
from tests.tui.conftest import settled


async def ready(app: BalanceApp) -> None:
    await eventually(lambda: app.backend is not None and app.backend.manager.has_snapshot, what="the console")


async def fill(pilot, app: BalanceApp, *, asset: str, amount: str, reason: str, set_to: bool = False) -> AdjustForm:
    await pilot.press("a")
    await eventually(lambda: isinstance(app.screen, AdjustForm), what="the form")
    form = app.screen
    form.query_one("#asset", Input).value = asset
    form.query_one("#amount", Input).value = amount
    form.query_one("#reason", Input).value = reason
    form.query_one("#set", RadioButton).value = set_to
    # The figure for the asset typed, not for the one the form opened with (the table's selected row).
    shown = f" {asset_code(asset)} (version"
    await eventually(lambda: shown in str(form.query_one("#current", Static).content), what="the current figure")
    return form


def noticed() -> tuple[list[Notify], Callable[[object], None]]:
    """The notices an app posts, and the message hook that collects them."""
    notices: list[Notify] = []

    def hook(message: object) -> None:
        if isinstance(message, Notify):
            notices.append(message)

    return notices, hook


def written(app: BalanceApp) -> list:
    return books.adjustments(app.backend.store, session_id=app.backend.session.id)


async def test_the_form_reads_kraken_names_and_knows_every_listed_asset(make_config) -> None:
    app = BalanceApp(make_config())
    async with app.run_test(size=(120, 32)) as pilot:
        await ready(app)
        for typed, asset in (("xbt", "BTC"), ("link", "LINK")):
            await fill(pilot, app, asset=typed, amount="0.5", reason="found in cold storage")
            await pilot.press("ctrl+s")
            await eventually(lambda: not isinstance(app.screen, AdjustForm), what="the form to close")
            assert written(app)[-1].asset == asset


async def test_an_adjustment_from_the_keyboard_is_written_attested_and_announced_once(make_config) -> None:
    notices, hook = noticed()

    app = BalanceApp(make_config())
    async with app.run_test(size=(120, 32), message_hook=hook, notifications=True) as pilot:
        await ready(app)
        form = await fill(pilot, app, asset="usd", amount="250.5", reason="deposit credited by hand")
        exchange = app.backend.manager.get_balance("USD").total
        current = str(form.query_one("#current", Static).content)
        assert current == f"books    0 USD (version 0)\nexchange {exchange:,f} USD"  # two figures, two names
        await pilot.press("ctrl+s")
        await eventually(lambda: not isinstance(app.screen, AdjustForm), what="the form to close")
        (adjustment,) = written(app)
        assert (adjustment.asset, adjustment.before, adjustment.after) == ("USD", 0, Decimal("250.5"))
        assert (
            adjustment.operator == pwd.getpwuid(os.getuid()).pw_name and adjustment.reason == "deposit credited by hand"
        )
        await pilot.press("b")
        await eventually(lambda: isinstance(app.screen, BooksScreen), what="the books")
        tracked = app.screen.query_one("#tracked", DataTable)
        await eventually(lambda: tracked.row_count == 1, what="the tracked balance")
        assert (
            tracked.get_row_at(0)[1].plain.strip() == "250.5" and tracked.get_row_at(0)[4].plain.strip() == "1"
        )  # version 0 -> 1
        await asyncio.sleep(1.5)  # the store's watch (a poll on SQLite) has seen it too by now
        assert [n.notification.title for n in notices].count("Balance adjusted") == 1
        await pilot.press("escape", "q")


async def test_a_bad_amount_is_refused_in_the_form_and_nothing_is_written(make_config) -> None:
    app = BalanceApp(make_config())
    async with app.run_test(size=(120, 32)) as pilot:
        await ready(app)
        for amount, reason in (("1e5", "x"), ("NaN", "x"), ("", "x"), ("12.5", "   ")):
            form = await fill(pilot, app, asset="USD", amount=amount, reason=reason)
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert isinstance(app.screen, AdjustForm) and form.query_one("#save", Button).disabled
            field = "reason" if amount == "12.5" else "amount"
            error = form.query_one(f"#{field}-check", Static)  # said under the field that is wrong
            assert error.display and error.has_class("invalid") and str(error.content).startswith(f"{field}:"), field
            await pilot.press("escape")
        assert written(app) == []
        await pilot.press("q")


async def test_a_change_made_meanwhile_is_a_conflict_until_confirmed(make_config) -> None:
    app = BalanceApp(make_config())
    async with app.run_test(size=(120, 32), notifications=True) as pilot:
        await ready(app)
        backend = app.backend
        form = await fill(pilot, app, asset="EUR", amount="100", reason="set from statement", set_to=True)
        other = Operator("alice", None, "10.0.0.7", "pts/3")  # another console, another operator
        books.adjust(
            backend.store, session_id=backend.session.id, asset="EUR", amount=Decimal("12258"),
            kind=AdjustmentKind.DELTA, reason="found in a drawer", operator=other, idempotency_key="k-alice",
            now=datetime.now(UTC),
        )  # fmt: skip
        await pilot.press("ctrl+s")
        error = form.query_one("#error", Static)
        await eventually(lambda: "alice" in str(error.content), what="the conflict")
        conflict = str(error.content)
        assert "alice at " in conflict and "found in a drawer" in conflict  # who, when, what
        assert "It is now 12,258 (12,258 available)" in conflict  # grouped, as the form says every figure
        assert form.query_one("#reload", Button).display and form.query_one("#save", Button).disabled
        await pilot.press("ctrl+s")  # saving again, unreviewed, writes nothing: the choice is to reload
        await pilot.pause()
        assert [a.operator for a in written(app)] == ["alice"]  # nothing of ours yet
        assert "alice" in str(error.content)
        await pilot.press("ctrl+r")
        await eventually(
            lambda: "last by alice" in str(form.query_one("#current", Static).content), what="the fresh figure"
        )
        check = form.query_one("#amount-check", Static)
        await eventually(lambda: "books 12,258 -> 100 EUR" in str(check.content), what="the change against it")
        assert str(error.content) == "" and not form.query_one("#reload", Button).display
        assert not form.query_one("#save", Button).disabled
        await pilot.press("ctrl+s")  # confirmed against what alice left
        await eventually(lambda: not isinstance(app.screen, AdjustForm), what="the form to close")
        assert [a.after for a in written(app)] == [Decimal("12258"), Decimal("100")]
        await pilot.press("q")


async def test_the_form_checks_as_you_type_and_shows_what_the_change_leaves(make_config) -> None:
    app = BalanceApp(make_config())
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app)
        form = await fill(pilot, app, asset="BTC", amount="", reason="")
        check, save = form.query_one("#amount-check", Static), form.query_one("#save", Button)
        assert str(check.content) == "BTC takes up to 10 decimals" and save.disabled
        form.query_one("#amount", Input).focus()
        await pilot.press(*"0.25")  # typed, key by key
        await pilot.pause()
        assert str(check.content) == "BTC takes up to 10 decimals  ·  books 0 -> 0.25 BTC"
        assert save.disabled  # no reason yet
        form.query_one("#reason", Input).focus()
        await pilot.press("x", "backspace")
        await pilot.pause()
        assert str(form.query_one("#reason-check", Static).content).startswith("reason: required")
        await pilot.press(*"found")
        await pilot.pause()
        assert not save.disabled and not form.query_one("#reason-check", Static).display
        for typed, says in (
            ("0.12345678901", "amount: BTC allows at most 10 decimal places; 0.12345678901 has 11"),
            ("1e5", "amount: '1e5' is not an amount"),
            ("-1", "amount: BTC would become -1: a balance cannot go below zero"),
        ):
            form.query_one("#amount", Input).value = typed
            await pilot.pause()
            assert str(check.content).startswith(says) and check.has_class("invalid") and save.disabled, typed
        form.query_one("#amount", Input).value = "0.75"
        form.query_one("#set", RadioButton).value = True
        await pilot.pause()
        assert str(check.content).endswith("books 0 -> 0.75 BTC") and not save.disabled
        await pilot.press("ctrl+s")
        await eventually(lambda: not isinstance(app.screen, AdjustForm), what="the form to close")
        assert [(a.kind, a.after) for a in written(app)] == [("set", Decimal("0.75"))]
        await pilot.press("q")


async def test_an_undo_from_the_books_asks_a_reason_and_writes_the_reversing_entry(make_config) -> None:
    notices, hook = noticed()

    app = BalanceApp(make_config())
    async with app.run_test(size=(120, 40), message_hook=hook, notifications=True) as pilot:
        await ready(app)
        backend = app.backend
        first = books.adjust(
            backend.store, session_id=backend.session.id, asset="BTC", amount=Decimal("0.5"),
            kind=AdjustmentKind.DELTA, reason="cold wallet", operator=Operator("bob", None, None, None),
            idempotency_key="k-bob", now=datetime.now(UTC),
        ).adjustment  # fmt: skip
        await pilot.press("b")
        await eventually(lambda: isinstance(app.screen, BooksScreen), what="the books")
        screen = app.screen
        table = screen.query_one("#adjustments", DataTable)
        await eventually(lambda: table.row_count == 1, what="the adjustment")
        table.focus()
        await pilot.press("u")
        await eventually(lambda: isinstance(app.screen, NoteForm), what="the confirm")
        confirm = app.screen
        await pilot.press("ctrl+s")  # no reason: refused in place
        await pilot.pause()
        assert isinstance(app.screen, NoteForm) and "reason:" in str(confirm.query_one("#error").content)
        await pilot.press(*"typed twice")
        await pilot.press("ctrl+s")
        await eventually(lambda: app.screen is screen, what="the books again")
        undo = written(app)[-1]
        assert (undo.kind, undo.reverses_id, undo.delta, undo.reason) == (
            "undo",
            first.id,
            Decimal("-0.5"),
            "typed twice",
        )
        await eventually(lambda: table.row_count == 2, what="the books to reload")
        assert [table.get_row_at(i)[1].plain for i in (0, 1)] == [f"undoes #{first.id}", f"undone by #{undo.id}"]
        assert [n.notification.title for n in notices].count("Adjustment undone") == 1
        # Neither the undo nor what it undid is undone again: the store's words, and no confirm.
        for row, says in ((0, "is itself an undo"), (1, f"was already undone by #{undo.id}")):
            table.move_cursor(row=row)
            await pilot.press("u")
            await pilot.pause()
            assert app.screen is screen
            assert notices[-1].notification.title == "Undo: refused" and says in notices[-1].notification.message
        assert len(written(app)) == 2
        await pilot.press("escape", "q")


async def test_the_books_show_the_sessions_positions(make_config) -> None:
    app = BalanceApp(make_config())
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app)
        backend = app.backend
        sid = backend.session.id
        books.adjust(
            backend.store, session_id=sid, asset="USD", amount=Decimal("1000"), kind=AdjustmentKind.DELTA,
            reason="float", operator=Operator("bob", None, None, None), idempotency_key="k-usd", now=datetime.now(UTC),
        )  # fmt: skip
        for side in (PositionSide.LONG, PositionSide.SHORT):
            opened = positions.open_position(
                backend.store, session_id=sid, symbol="BTC/USD", side=side, size=Decimal("0.01"),
                entry_price=Decimal("50000"), now=datetime(2026, 11, 20, 12, 0, tzinfo=UTC), by="bot",
            )  # fmt: skip
        positions.close_position(
            backend.store, position_id=opened.id, exit_price=Decimal("49000"), now=datetime.now(UTC), by="bot"
        )
        await pilot.press("b")
        await eventually(lambda: isinstance(app.screen, BooksScreen), what="the books")
        table = app.screen.query_one("#positions", DataTable)
        await eventually(lambda: table.row_count == 2, what="the positions")
        assert [c.plain.strip() for c in table.get_row_at(0)] == [
            "BTC/USD",
            "long",
            "0.01",
            "50,000",
            "open",
            "2026-11-20 12:00:00",
        ]
        assert [c.plain.strip() for c in table.get_row_at(1)][:5] == ["BTC/USD", "short", "0.01", "50,000", "closed"]
        await pilot.press("escape", "q")


async def test_another_consoles_adjustment_arrives_within_a_second(make_config) -> None:
    notices, hook = noticed()

    app = BalanceApp(make_config())
    async with app.run_test(size=(120, 32), message_hook=hook, notifications=True) as pilot:
        await ready(app)
        backend = app.backend
        books.adjust(
            backend.store, session_id=backend.session.id, asset="BTC", amount=Decimal("0.5"), kind=AdjustmentKind.DELTA,
            reason="cold wallet", operator=Operator("bob", None, None, None), idempotency_key="k-bob",
            now=datetime.now(UTC),
        )  # fmt: skip
        await eventually(
            lambda: any("by bob: cold wallet" in n.notification.message for n in notices),
            timeout=1.0,
            what="the notice",
        )
        await pilot.press("q")


async def test_read_only_disables_adjusting_says_why_and_still_shows_the_books(make_config) -> None:
    first = BalanceApp(make_config())  # the store must exist before a read-only console opens it
    async with first.run_test() as pilot:
        await ready(first)
        await fill(pilot, first, asset="USD", amount="7", reason="before the watcher came")
        await pilot.press("ctrl+s")
        await eventually(lambda: not isinstance(first.screen, AdjustForm), what="the form to close")
        await pilot.press("q")
    notices, hook = noticed()

    app = BalanceApp(make_config(store={"read_only": True}))
    async with app.run_test(size=(120, 32), message_hook=hook, notifications=True) as pilot:
        await ready(app)
        assert app.check_action("adjust", ()) is None and app.check_action("books", ()) is True
        await pilot.press("a")
        await pilot.pause()
        assert not isinstance(app.screen, AdjustForm)
        (notice,) = [n.notification for n in notices]
        assert notice.title == "Adjust: not available" and "read-only" in notice.message
        await pilot.press("b")
        await eventually(lambda: isinstance(app.screen, BooksScreen), what="the books")
        heading = app.screen.query_one("#books-session", Static)
        await eventually(lambda: "session #1 (closed)" in str(heading.content), what="the latest session")
        assert "read-only: this console writes nothing" in str(heading.content)
        tracked = app.screen.query_one("#tracked", DataTable)
        assert tracked.row_count == 1 and tracked.get_row_at(0)[1].plain.strip() == "7"
        assert app.screen.check_action("undo", ()) is None  # shown disabled
        await pilot.press("u")
        await pilot.pause()
        assert not isinstance(app.screen, NoteForm)
        notice = notices[-1].notification
        assert notice.title == "Undo adjustment: not available" and "read-only" in notice.message
        await pilot.press("escape", "q")


async def test_the_sessions_screen_lists_each_session_with_its_books(make_config) -> None:
    config = make_config()
    first = BalanceApp(config)
    async with first.run_test() as pilot:
        await ready(first)
        await fill(pilot, first, asset="USD", amount="7", reason="first session")
        await pilot.press("ctrl+s")
        await eventually(lambda: not isinstance(first.screen, AdjustForm), what="the form to close")
        await pilot.press("q")
    app = BalanceApp(config)  # continues session 1: opens at USD 7
    async with app.run_test(size=(120, 32)) as pilot:
        await ready(app)
        await fill(pilot, app, asset="USD", amount="3", reason="second session")
        await pilot.press("ctrl+s")
        await eventually(lambda: not isinstance(app.screen, AdjustForm), what="the form to close")
        await pilot.press("t")
        await eventually(lambda: isinstance(app.screen, SessionsScreen), what="the sessions")
        table = app.screen.query_one("#sessions", DataTable)
        await eventually(lambda: table.row_count == 2, what="both sessions")
        newest, oldest = ([c.plain.strip() for c in table.get_row_at(i)] for i in (0, 1))
        assert newest[:2] == ["2", "active"] and newest[4] == "running" and newest[6] == "#1" and newest[8] == "1"
        assert oldest[:2] == ["1", "closed"] and oldest[8] == "1"
        balances = app.screen.query_one("#session-balances", DataTable)
        await eventually(lambda: balances.row_count == 1, what="the newest session's balances")
        assert [c.plain.strip() for c in balances.get_row_at(0)] == ["USD", "7", "10", "+3"]
        await pilot.press("down")
        await eventually(
            lambda: [c.plain.strip() for c in balances.get_row_at(0)] == ["USD", "0", "7", "+7"],
            what="the older session",
        )
        await pilot.press("escape")
        assert not isinstance(app.screen, SessionsScreen)
        await pilot.press("q")


async def test_a_reason_too_long_for_the_table_is_cut_there_and_shown_whole_under_it(make_config) -> None:
    app = BalanceApp(make_config(), clock=FrozenClock())
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app)
        backend = app.backend
        reason = "moved to the cold wallet after the quarterly audit, ticket OPS-1234"
        books.adjust(
            backend.store, session_id=backend.session.id, asset="BTC", amount=Decimal("0.5"),
            kind=AdjustmentKind.DELTA, reason=reason, operator=Operator("alice", None, None, None),
            idempotency_key="k-long", now=backend.manager.clock.now(),
        )  # fmt: skip
        await pilot.press("b")
        await eventually(lambda: isinstance(app.screen, BooksScreen), what="the books")
        table = app.screen.query_one("#adjustments", DataTable)
        await eventually(lambda: table.row_count == 1, what="the adjustment")
        await pilot.pause()
        row = [cell.plain.strip() for cell in table.get_row_at(0)]
        assert row[4:7] == ["0", "0.5", "alice"]  # the figures whole
        assert row[7].endswith("…") and reason.startswith(row[7][:-1])  # the reason cut to the width left
        assert table.virtual_size.width <= table.size.width  # nothing to scroll sideways to
        detail = str(app.screen.query_one("#adjustment-detail", Static).content)
        assert detail == f"#1 BTC 0 -> 0.5 by alice: {reason}"
        await pilot.press("escape", "q")


def _books_app(make_config) -> BalanceApp:
    return BalanceApp(make_config(), clock=FrozenClock())


async def _with_one_adjustment(pilot) -> None:
    """A still simulator, a frozen clock and a named operator: the same picture on every machine."""
    app = pilot.app
    await ready(app)
    backend = app.backend
    books.adjust(
        backend.store, session_id=backend.session.id, asset="BTC", amount=Decimal("0.5"), kind=AdjustmentKind.DELTA,
        reason="cold wallet top-up", operator=Operator("alice", None, "10.0.0.7", "pts/3"), idempotency_key="k-1",
        now=backend.manager.clock.now(),
    )  # fmt: skip
    await eventually(lambda: app._notifications, what="its notice")  # then gone: toasts time out on the wall clock
    app.clear_notifications()


def test_books_screen_snapshot(make_config, snap_compare) -> None:
    async def run_before(pilot) -> None:
        await _with_one_adjustment(pilot)
        await pilot.press("b")
        await eventually(lambda: pilot.app.screen.query_one("#adjustments", DataTable).row_count == 1, what="rows")

    assert snap_compare(_books_app(make_config), terminal_size=(110, 24), run_before=run_before)


@pytest.mark.parametrize("size", [(110, 24), (80, 24)], ids=["110x24", "80x24"])
def test_sessions_screen_snapshot(make_config, snap_compare, size: tuple[int, int]) -> None:
    async def run_before(pilot) -> None:
        await _with_one_adjustment(pilot)
        await pilot.press("t")
        await eventually(lambda: pilot.app.screen.query_one("#session-balances", DataTable).row_count == 1, what="rows")

    assert snap_compare(_books_app(make_config), terminal_size=size, run_before=run_before)


def test_adjust_form_snapshot(make_config, snap_compare) -> None:
    async def run_before(pilot) -> None:
        await _with_one_adjustment(pilot)
        table = pilot.app.screen.query_one("#balances", DataTable)
        await eventually(lambda: table.row_count > 2, what="rows")
        await pilot.press("down")  # BTC
        await pilot.press("a")
        form = pilot.app.screen
        await eventually(lambda: "books    0.5 BTC" in str(form.query_one("#current", Static).content), what="figures")
        for field in form.query(Input):
            field.cursor_blink = False  # a blinking cursor would be caught on or off

    assert snap_compare(_books_app(make_config), terminal_size=(110, 30), run_before=run_before)


@pytest.mark.parametrize("size", [(110, 30), (80, 24)], ids=["110x30", "80x24"])
def test_adjust_form_refusal_snapshot(make_config, snap_compare, size: tuple[int, int]) -> None:
    async def run_before(pilot) -> None:
        await settled(pilot)  # the table drawn: the form opens on its selected asset, the amount focused
        form = await fill(pilot, pilot.app, asset="BTC", amount="1e5", reason="typed in a hurry")
        await pilot.press("ctrl+s")
        check = form.query_one("#amount-check", Static)
        await eventually(lambda: str(check.content).startswith("amount:"), what="refusal")

    assert snap_compare(_books_app(make_config), terminal_size=size, run_before=run_before)


def _read_only_app(make_config) -> BalanceApp:
    """A watcher's console on a store that exists (a read-only console never creates one) and has no session."""
    config = make_config(store={"read_only": True})
    open_store(database_url(config.database_url)).dispose()
    return BalanceApp(config, clock=FrozenClock())


def test_read_only_main_screen_snapshot(make_config, snap_compare) -> None:
    assert snap_compare(_read_only_app(make_config), terminal_size=(110, 24), run_before=settled)


def test_read_only_books_snapshot(make_config, snap_compare) -> None:
    async def run_before(pilot) -> None:
        await settled(pilot)
        await pilot.press("b")
        heading = pilot.app.screen.query_one("#books-session", Static)
        await eventually(lambda: "no trading session yet" in str(heading.content), what="the heading")

    assert snap_compare(_read_only_app(make_config), terminal_size=(110, 24), run_before=run_before)


async def _with_an_undone_adjustment_and_positions(pilot) -> None:
    """The books of `_with_one_adjustment`, plus USD to trade with, a position open and one closed, and the
    first adjustment undone: every kind of row the books show."""
    await _with_one_adjustment(pilot)
    app = pilot.app
    backend = app.backend
    sid, now, bob = backend.session.id, backend.manager.clock.now(), Operator("bob", None, None, None)
    books.adjust(
        backend.store, session_id=sid, asset="USD", amount=Decimal("2000"), kind=AdjustmentKind.DELTA,
        reason="trading float", operator=bob, idempotency_key="k-2", now=now,
    )  # fmt: skip
    for side in (PositionSide.SHORT, PositionSide.LONG):
        opened = positions.open_position(
            backend.store, session_id=sid, symbol="BTC/USD", side=side, size=Decimal("0.01"),
            entry_price=Decimal("50000"), now=now, by="bot",
        )  # fmt: skip
        if side is PositionSide.SHORT:
            positions.close_position(
                backend.store, position_id=opened.id, exit_price=Decimal("49000"), now=now, by="bot"
            )
    books.undo(
        backend.store, session_id=sid, adjustment_id=1, reason="booked twice", operator=bob, idempotency_key="k-3",
        now=now,
    )  # fmt: skip
    await eventually(lambda: len(app._notifications) >= 2, what="their notices")
    app.clear_notifications()


@pytest.mark.parametrize("size", [(110, 30), (80, 24), (200, 60)], ids=["110x30", "80x24", "200x60"])
def test_books_with_positions_and_an_undone_adjustment_snapshot(
    make_config, snap_compare, size: tuple[int, int]
) -> None:
    async def run_before(pilot) -> None:
        await _with_an_undone_adjustment_and_positions(pilot)
        await pilot.press("b")
        screen = pilot.app.screen
        await eventually(lambda: screen.query_one("#adjustments", DataTable).row_count == 3, what="adjustments")
        await eventually(lambda: screen.query_one("#positions", DataTable).row_count == 2, what="positions")

    assert snap_compare(_books_app(make_config), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", [(110, 30), (80, 24)], ids=["110x30", "80x24"])
def test_undo_confirm_snapshot(make_config, snap_compare, size: tuple[int, int]) -> None:
    async def run_before(pilot) -> None:
        await _with_one_adjustment(pilot)
        await pilot.press("b")
        table = pilot.app.screen.query_one("#adjustments", DataTable)
        await eventually(lambda: table.row_count == 1, what="rows")
        table.focus()
        await pilot.press("u")
        await eventually(lambda: isinstance(pilot.app.screen, NoteForm), what="the confirm")
        await pilot.press(*"booked twice")
        pilot.app.screen.query_one("#note", Input).cursor_blink = False

    assert snap_compare(_books_app(make_config), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", [(110, 34), (80, 24)], ids=["110x34", "80x24"])
def test_adjust_form_resulting_balance_snapshot(make_config, snap_compare, size: tuple[int, int]) -> None:
    async def run_before(pilot) -> None:
        await _with_one_adjustment(pilot)
        form = await fill(pilot, pilot.app, asset="BTC", amount="", reason="second cold wallet")
        form.query_one("#amount", Input).focus()
        await pilot.press(*"0.25")  # as typed: the change is shown before it is saved
        check = form.query_one("#amount-check", Static)
        await eventually(lambda: "books 0.5 -> 0.75 BTC" in str(check.content), what="the resulting balance")
        for field in form.query(Input):
            field.cursor_blink = False

    assert snap_compare(_books_app(make_config), terminal_size=size, run_before=run_before)


def test_adjust_form_conflict_snapshot(make_config, snap_compare) -> None:
    async def run_before(pilot) -> None:
        await _with_one_adjustment(pilot)
        app = pilot.app
        backend = app.backend
        form = await fill(pilot, app, asset="BTC", amount="1", reason="set from the statement", set_to=True)
        books.adjust(
            backend.store, session_id=backend.session.id, asset="BTC", amount=Decimal("0.1"),
            kind=AdjustmentKind.DELTA, reason="found in a drawer", operator=Operator("bob", None, None, None),
            idempotency_key="k-bob", now=backend.manager.clock.now(),
        )  # fmt: skip
        await eventually(lambda: app._notifications, what="bob's notice")
        app.clear_notifications()
        await pilot.press("ctrl+s")
        await eventually(lambda: "bob" in str(form.query_one("#error", Static).content), what="the conflict")
        for field in form.query(Input):
            field.cursor_blink = False

    assert snap_compare(_books_app(make_config), terminal_size=(110, 34), run_before=run_before)
