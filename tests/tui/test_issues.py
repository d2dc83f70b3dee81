"""The validation pane: a table of open issues, the detail of one, and acknowledging one with a note."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from textual.widgets import Input, Static

from balance_tui.core.validator import Rule, Severity, ValidationIssue
from balance_tui.store import acks
from balance_tui.store.engine import database_url
from balance_tui.store.identity import Operator
from balance_tui.store.migrate import open_store
from balance_tui.store.tables import ValidationAck
from balance_tui.tui.app import BalanceApp
from balance_tui.tui.issues_panel import IssuesPanel, fitted, issue_key, unacknowledged
from balance_tui.tui.note_form import NoteForm
from tests.conftest import FrozenClock
from tests.integration.conftest import eventually
from tests.tui.conftest import Notices, settled

LOW_USDT = {"low_balance": {"USDT": "1000000"}}  # the simulator's USDT is far below: a warning fires
T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def low(first_seen: datetime) -> ValidationIssue:
    return ValidationIssue(Rule.LOW_BALANCE, Severity.WARNING, "USDT", "USDT free 5 below 1000000", first_seen, T0)


def an_ack(at: datetime) -> ValidationAck:
    return ValidationAck(issue="USDT:low_balance", reason="test account", created_at=at, operator="alice")


def test_an_acknowledged_issue_stays_hidden_while_it_fires_and_returns_once_it_fired_anew() -> None:
    issue = low(T0)
    assert issue_key(issue) == "USDT:low_balance"
    known = {"USDT:low_balance": an_ack(T0 + timedelta(seconds=1))}
    still_firing = replace(issue, last_seen=T0 + timedelta(hours=1), count=900)
    assert unacknowledged((still_firing,), known) == []
    fired_anew = low(T0 + timedelta(seconds=2))  # it cleared, then fired again: a new first_seen
    assert unacknowledged((fired_anew,), known) == [fired_anew]
    account_wide = ValidationIssue(Rule.ALL_ZERO_BALANCES, Severity.ERROR, None, "all zero", T0, T0)
    assert issue_key(account_wide) == "account:all_zero_balances"
    assert unacknowledged((account_wide,), known) == [account_wide]


async def _issue_shown(app: BalanceApp) -> IssuesPanel:
    await eventually(lambda: app.backend is not None and app.backend.manager.has_snapshot, what="the snapshot")
    panel = app.screen.query_one(IssuesPanel)
    await eventually(lambda: panel.selected is not None, what="the low balance issue in the table")
    return panel


async def test_an_issue_acknowledged_with_a_note_is_recorded_with_the_operator_and_leaves_the_table(
    make_config,
) -> None:
    config = make_config(validation=LOW_USDT)
    app = BalanceApp(config)
    async with app.run_test(size=(120, 30)) as pilot:
        panel = await _issue_shown(app)
        table = panel.table
        assert table.row_count == 1 and panel.border_subtitle == "1 open"
        row = [cell.plain.strip() for cell in table.get_row_at(0)]
        assert row == ["WARNING", "USDT", "low_balance"]  # what fits a third of 120 columns
        await pilot.press("i")  # focuses and zooms the pane, with the detail
        await pilot.pause()
        assert app.screen.maximized is panel and app.focused is table
        row = [cell.plain.strip() for cell in table.get_row_at(0)]
        assert row[:3] == ["WARNING", "USDT", "low_balance"] and row[-1].startswith("USDT free")
        assert "k acknowledges it with a note (USDT:low_balance)" in str(
            panel.query_one("#issue-detail", Static).content
        )
        await pilot.press("k")
        await eventually(lambda: isinstance(app.screen, NoteForm), what="the acknowledgement form")
        form = app.screen
        await pilot.press("ctrl+s")  # no note: refused in the form, nothing written
        await pilot.pause()
        assert isinstance(app.screen, NoteForm)
        assert str(form.query_one("#error", Static).content).startswith("note: say why")
        assert acks.acknowledgements(app.backend.store) == {}
        form.query_one("#note", Input).value = "the test account holds little USDT"
        await pilot.press("ctrl+s")
        await eventually(lambda: not isinstance(app.screen, NoteForm), what="the form to close")
        await eventually(lambda: not table.display, what="the issue to leave the table")
        assert panel.border_subtitle == "1 acknowledged"
        assert "no issues" in str(panel.query_one("#issues-none", Static).content)
        await pilot.press("q")
    engine = open_store(database_url(config.database_url))
    (ack,) = acks.acknowledgements(engine).values()
    engine.dispose()
    assert ack.issue == "USDT:low_balance" and ack.reason == "the test account holds little USDT"
    assert ack.operator == Operator.current().name


async def test_an_acknowledged_issue_stays_out_of_the_next_console_too(make_config) -> None:
    config = make_config(validation=LOW_USDT)
    engine = open_store(database_url(config.database_url))
    acks.acknowledge(engine, issue="USDT:low_balance", reason="known", operator=Operator.current(), now=T0)
    engine.dispose()
    app = BalanceApp(config, clock=FrozenClock(T0 - timedelta(minutes=1)))  # it fired before the ack
    async with app.run_test(size=(120, 30)) as pilot:
        panel = app.screen.query_one(IssuesPanel)
        await eventually(lambda: panel.border_subtitle == "1 acknowledged", what="the issue known as acknowledged")
        assert not panel.table.display
        await pilot.press("q")


async def test_a_read_only_console_cannot_acknowledge_and_says_why(make_config) -> None:
    config = make_config(validation=LOW_USDT, store={"read_only": True})
    open_store(database_url(config.database_url)).dispose()
    app, notices = BalanceApp(config), Notices()
    async with app.run_test(size=(120, 30), message_hook=notices.hook, notifications=True) as pilot:
        panel = await _issue_shown(app)
        await pilot.press("i")
        await pilot.pause()
        assert panel.check_action("acknowledge", ()) is None  # shown disabled
        await pilot.press("k")
        await pilot.pause()
        assert not isinstance(app.screen, NoteForm)
        (notice,) = notices.titled("Acknowledge")
        assert notice.title == "Acknowledge: not available" and "read-only" in notice.message
        await pilot.press("q")


async def test_acknowledging_with_no_issue_selected_says_why(make_config) -> None:
    # QA: with no validation issues `k` did nothing and said nothing.
    app, notices = BalanceApp(make_config()), Notices()
    async with app.run_test(size=(120, 30), message_hook=notices.hook, notifications=True) as pilot:
        await eventually(lambda: app.backend is not None and app.backend.manager.has_snapshot, what="the snapshot")
        panel = app.screen.query_one(IssuesPanel)
        await pilot.press("i")
        await pilot.pause()
        assert app.focused is panel and panel.selected is None
        assert panel.check_action("acknowledge", ()) is None  # shown disabled
        await pilot.press("k")
        await pilot.pause()
        assert not isinstance(app.screen, NoteForm)
        (notice,) = notices.titled("Acknowledge")
        assert (notice.title, notice.message) == ("Acknowledge: not available", "no validation issue selected")
        await pilot.press("q")


BOB = Operator("bob", None, "10.0.0.7", "pts/3")


async def test_an_acknowledgement_in_another_console_reaches_this_one_live(make_config, store_url: str) -> None:
    config = make_config(validation=LOW_USDT, store={"database_url": store_url})
    app, notices = BalanceApp(config), Notices()
    async with app.run_test(size=(120, 30), message_hook=notices.hook, notifications=True) as pilot:
        panel = await _issue_shown(app)
        other = open_store(store_url)  # another console's store, as it writes an acknowledgement
        try:
            now = app.backend.manager.clock.now()
            await asyncio.to_thread(
                acks.acknowledge, other, issue="USDT:low_balance", reason="bob knows", operator=BOB, now=now
            )
        finally:
            other.dispose()
        await eventually(lambda: not panel.table.display, what="the issue to leave the table")
        assert panel.border_subtitle == "1 acknowledged"
        (notice,) = notices.titled("Issue acknowledged")
        assert notice.message == "USDT:low_balance by bob: bob knows"
        await pilot.press("q")


async def test_an_acknowledgement_of_this_console_is_announced_once(make_config) -> None:
    """Its write and the store's watch both report it; the notice is one."""
    config = make_config(validation=LOW_USDT)
    app, notices = BalanceApp(config), Notices()
    async with app.run_test(size=(120, 30), message_hook=notices.hook, notifications=True) as pilot:
        panel = await _issue_shown(app)
        assert await panel._acknowledge(panel.selected, "mine") is None
        acks.acknowledge(app.backend.store, issue="BTC:held_mismatch", reason="later", operator=BOB, now=T0)
        # The watch reports in id order: once it told of the later one, it has told of this one too.
        await eventually(lambda: len(notices.titled("Issue acknowledged")) == 2, what="the later one's notice")
        assert [n.message.split(":")[0] for n in notices.titled("Issue acknowledged")] == ["USDT", "BTC"]
        await pilot.press("q")


async def _zoomed_issue(pilot) -> None:
    await settled(pilot)
    await _issue_shown(pilot.app)
    await pilot.press("i")
    await pilot.pause(0.3)


def test_issues_table_zoomed_snapshot(make_config, snap_compare) -> None:
    app = BalanceApp(make_config(validation=LOW_USDT), clock=FrozenClock())
    assert snap_compare(app, terminal_size=(110, 24), run_before=_zoomed_issue)


def test_the_issues_columns_fit_the_width_giving_way_from_the_end_and_the_message_takes_the_rest() -> None:
    assert [key for key, _, _ in fitted(200)] == ["severity", "asset", "rule", "count", "first", "last", "message"]
    assert sum(width + 2 for _, _, width in fitted(200)) == 200
    assert fitted(75) == [("severity", "Severity", 8), ("asset", "Asset", 6), ("rule", "Rule", 21),
                          ("count", "Count", 5), ("last", "Last", 8), ("message", "Message", 15)]  # fmt: skip
    assert fitted(35) == [("severity", "Severity", 8), ("asset", "Asset", 6), ("rule", "Rule", 15)]  # cut, not gone
    assert fitted(20) == [("severity", "Severity", 8), ("asset", "Asset", 6)]


@pytest.mark.parametrize(("size", "gist"), [((160, 45), True), ((160, 44), False)], ids=["160x45", "160x44"])
async def test_a_tall_screen_shows_the_selected_issues_rule_and_message_whole_under_the_pane(
    make_config, size: tuple[int, int], gist: bool
) -> None:
    floors = {"low_balance": {"USDT": "1000000", "BTC": "100"}}
    app = BalanceApp(make_config(validation=floors), clock=FrozenClock())
    async with app.run_test(size=size) as pilot:
        panel = await _issue_shown(app)
        await pilot.pause()
        issue = panel.selected
        shown = [c.key.value for c in panel.table.ordered_columns]
        assert shown == ["severity", "asset"]  # at ~28 cells: the rule gives way
        line = panel.query_one("#issue-gist", Static)
        assert line.display == gist and str(line.content) == f"{issue.rule}: {issue.message}"
        if gist:  # whole: every line of it on screen, and more of the pane's rows than at 7 high
            assert line.region.bottom <= panel.content_region.bottom and panel.size.height > 7
        await pilot.press("i")  # zoomed, the whole detail instead
        await pilot.pause()
        assert not line.display and panel.query_one("#issue-detail", Static).display


@pytest.mark.parametrize("zoomed", [False, True], ids=["pane", "zoomed"])
def test_issues_at_80_by_24_snapshot(make_config, snap_compare, zoomed: bool) -> None:
    async def run_before(pilot) -> None:
        await settled(pilot)
        await _issue_shown(pilot.app)
        await eventually(lambda: pilot.app.screen.query_one(IssuesPanel).table.row_count == 2, what="both issues")
        if zoomed:
            await pilot.press("i")
        pilot.app.clear_notifications()
        await pilot.pause(0.3)

    floors = {"low_balance": {"USDT": "1000000", "BTC": "100"}}
    app = BalanceApp(make_config(validation=floors), clock=FrozenClock())
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_ack_form_refusing_an_empty_note_snapshot(make_config, snap_compare) -> None:
    async def run_before(pilot) -> None:
        await _zoomed_issue(pilot)
        await pilot.press("k")
        await eventually(lambda: isinstance(pilot.app.screen, NoteForm), what="the form")
        await pilot.press("ctrl+s")
        form = pilot.app.screen
        await eventually(lambda: str(form.query_one("#error", Static).content) != "", what="the refusal")
        await pilot.pause(0.3)

    app = BalanceApp(make_config(validation=LOW_USDT), clock=FrozenClock())
    assert snap_compare(app, terminal_size=(110, 24), run_before=run_before)
