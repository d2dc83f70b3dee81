"""Replay from the keyboard: every key on a recording of the real simulator (frozen clock, real recorder)."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Static

from balance_tui.backend import Backend
from balance_tui.cli import EXIT_NO_INPUT
from balance_tui.recording import Recorder, Recording, default_path
from balance_tui.store import acks
from balance_tui.store.engine import create_store_engine
from balance_tui.store.history import ledger
from balance_tui.store.identity import Operator
from balance_tui.tui.asset_screen import AssetScreen
from balance_tui.tui.availability import ON_A_RECORDING
from balance_tui.tui.balances_table import BalancesTable
from balance_tui.tui.books_screen import BooksScreen
from balance_tui.tui.feed_bar import FeedBar
from balance_tui.tui.issues_panel import issue_key
from balance_tui.tui.ledger_screen import LedgerScreen
from balance_tui.tui.replay import ReplayApp
from balance_tui.tui.replay_cursor import SPEEDS, JumpError, parse_jump
from tests.conftest import FrozenClock
from tests.integration.conftest import eventually, running
from tests.tui.conftest import Notices
from tests.tui.recorded import STEP_S, adjust, record, step

STEPS = 30  # five recorded minutes
DEPOSIT_STEP, ADJUST_STEP, ACK_STEP = 10, 20, 25


class Wall:
    """Wall time the test moves: how far a tick plays is then known."""

    def __init__(self) -> None:
        self.at = 0.0

    def __call__(self) -> float:
        return self.at


async def _events(i: int, backend: Backend) -> None:
    """A drop with a deposit made while the feed is down (a blind change), an operator's adjustment, then
    the open issue acknowledged with a note."""
    sim = backend.simulator
    assert sim is not None
    if i == DEPOSIT_STEP:
        await sim.drop_clients()
        await sim.deposit("EUR", Decimal("250"))
    if i == ADJUST_STEP:
        await adjust(backend, "USD", Decimal("12.5"), "fee refund")
    if i == ACK_STEP:
        (issue,) = backend.manager.validator.active_issues
        await asyncio.to_thread(
            acks.acknowledge,
            backend.store,
            issue=issue_key(issue),
            reason="treasury tops it up on Mondays",
            operator=Operator.current(),
            now=backend.manager.clock.now(),
        )


@pytest.fixture
async def recording(make_config, tmp_path: Path) -> Path:
    path = tmp_path / "five-minutes.rec"
    config = make_config(validation={"low_balance": {"USDT": "1000000"}})  # an issue open throughout
    await record(config, path, FrozenClock(), STEPS, _events)
    return path


def as_older_format(recording: Path, tmp_path: Path, version: int) -> Path:
    """The recording as format 1 or 2 wrote it: the same frames and events, without what came later
    (format 2: acknowledgements, orders and the history tables; format 3: the books)."""
    old = tmp_path / f"format-{version}.rec"
    shutil.copy(recording, old)
    books = tuple(f"recorded_{t}" for t in ("trading_sessions", "account_balances", "positions", "balance_adjustments"))
    dropped = books + (("orders", "balance_samples", "ledger_entries") if version == 1 else ())
    with sqlite3.connect(old) as db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'format_version'", (str(version),))
        if version == 1:
            db.execute("DELETE FROM events WHERE kind = 'acknowledgement'")  # format 1 had no such kind
        for table in dropped:
            db.execute(f"DROP TABLE {table}")
    return old


def replay_app(make_config, path: Path, wall: Wall | None = None) -> ReplayApp:
    return ReplayApp(make_config(), Recording.open(path), wall=wall or Wall())


def time_bar_text(app: ReplayApp) -> str:
    return str(app.time_bar.query_one("#replay-state", Static).content)


async def test_space_plays_at_the_speed_times_wall_time_and_pauses_at_the_end(make_config, recording) -> None:
    wall = Wall()
    app = replay_app(make_config, recording, wall)
    cursor = app.cursor
    async with app.run_test(size=(120, 40)) as pilot:
        start = cursor.at
        assert start == app.recording.start and not cursor.playing and "⏸ paused 1x" in time_bar_text(app)
        await pilot.press("space")
        assert cursor.playing and "▶ playing 1x" in time_bar_text(app)
        wall.at += 3
        await eventually(lambda: cursor.at == start + timedelta(seconds=3), what="3 s played at 1x")
        await pilot.press("plus", "plus")  # 5x
        wall.at += 2
        await eventually(lambda: cursor.at == start + timedelta(seconds=13), what="10 s more at 5x")
        wall.at += 3600
        await eventually(lambda: not cursor.playing, what="the end")
        assert cursor.at == app.recording.end and "⏸ paused 5x" in time_bar_text(app)
        assert app.screen.query_one(FeedBar).content  # painted from the recording
        await pilot.press("space")  # at the end: from the start again
        assert cursor.playing and cursor.at == start
        await pilot.press("space")
        assert not cursor.playing


async def test_comma_and_full_stop_land_on_the_frame_times(make_config, recording) -> None:
    app = replay_app(make_config, recording)
    cursor, times = app.cursor, app.recording.times
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("full_stop", "full_stop")
        assert cursor.at == times[2]
        await pilot.press("comma")
        assert cursor.at == times[1]
        await pilot.press("g", *"+5s", "enter")  # between two frames
        between = cursor.at
        assert times[1] < between < times[2]
        await pilot.press("full_stop")
        assert cursor.at == times[2]
        await pilot.press("g", *"-5s", "enter", "comma")
        assert cursor.at == times[1]
        await pilot.press("home", "comma")  # nothing before the first frame: it stays
        assert cursor.at == times[0]
        await pilot.press("end", "full_stop")
        assert cursor.at == times[-1] == app.recording.end


async def test_minute_steps_stop_at_either_end(make_config, recording) -> None:
    app = replay_app(make_config, recording)
    cursor, start, end = app.cursor, app.recording.start, app.recording.end
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("right_square_bracket", "right_square_bracket")
        assert cursor.at == start + timedelta(minutes=2)
        await pilot.press("left_square_bracket")
        assert cursor.at == start + timedelta(minutes=1)
        await pilot.press(*["right_square_bracket"] * 10)
        assert cursor.at == end
        await pilot.press(*["left_square_bracket"] * 10)
        assert cursor.at == start


async def test_g_jumps_to_a_time_and_a_bad_entry_says_why_and_stays(make_config, recording) -> None:
    app = replay_app(make_config, recording)
    cursor, start = app.cursor, app.recording.start
    async with app.run_test(size=(120, 40)) as pilot:
        bar = app.time_bar
        table = app.screen.query_one(BalancesTable)
        table.focus()
        await pilot.press("g")
        field = bar.query_one("#jump", Input)
        assert bar.jumping and app.focused is field
        for bad, says in (
            ("soon", "expected HH:MM, HH:MM:SS"),
            ("25:00", "not a time of day"),
            ("+2h", "outside the recording"),
            ("11:00", "the recording holds no such time"),
        ):
            field.value = bad
            await pilot.press("enter")
            error = str(bar.query_one("#jump-error", Static).content)
            assert says in error and repr(bad) in error, error
            assert cursor.at == start and bar.jumping and field.has_class("-invalid")
        field.value = (start + timedelta(minutes=2, seconds=30)).strftime("%H:%M:%S")
        await pilot.press("enter")
        assert cursor.at == start + timedelta(minutes=2, seconds=30)
        assert not bar.jumping and app.focused is table
        await pilot.press("g", *"-90s", "enter")
        assert cursor.at == start + timedelta(minutes=1)
        await pilot.press("g", *"+1m", "enter")
        assert cursor.at == start + timedelta(minutes=2)
        await pilot.press("g", *(start + timedelta(seconds=70)).isoformat(), "enter")
        assert cursor.at == start + timedelta(seconds=70)
        await pilot.press("g", "escape")
        assert not bar.jumping and cursor.at == start + timedelta(seconds=70)


def test_jump_times_are_read_against_the_recording() -> None:
    start = FrozenClock().now()
    end = start + timedelta(hours=1)
    at = start + timedelta(minutes=30)
    assert parse_jump("12:45", at, start, end) == start + timedelta(minutes=45)
    assert parse_jump(" 12:45:30 ", at, start, end) == start + timedelta(minutes=45, seconds=30)
    assert parse_jump("-1h", end, start, end) == start
    assert parse_jump("2026-11-20T13:00:00+01:00", at, start, end) == start
    assert parse_jump("2026-11-20 12:10", at, start, end) == start + timedelta(minutes=10)
    for bad in ("", "12", "12:5", "+5d", "5m", "12:00:00:00", "2026-13-01"):
        with pytest.raises(JumpError, match="expected"):
            parse_jump(bad, at, start, end)
    with pytest.raises(JumpError, match="outside the recording"):
        parse_jump("+31m", at, start, end)


async def test_speed_cycles_through_the_steps_and_is_clamped(make_config, recording) -> None:
    app = replay_app(make_config, recording)
    async with app.run_test(size=(120, 40)) as pilot:
        seen = []
        for _ in range(len(SPEEDS) + 1):
            seen.append(app.cursor.speed)
            await pilot.press("plus")
        assert seen == [*SPEEDS, SPEEDS[-1]] and f"{SPEEDS[-1]}x" in time_bar_text(app)
        await pilot.press(*["minus"] * (len(SPEEDS) + 1))
        assert app.cursor.speed == SPEEDS[0] and "1x" in time_bar_text(app)


@pytest.mark.parametrize(
    ("keys", "title", "reason"),
    [
        (("a",), "Adjust", ON_A_RECORDING["adjust"]),
        (("i", "k"), "Acknowledge", ON_A_RECORDING["acknowledge"]),
        (("u",), "Undo adjustment", ON_A_RECORDING["undo"]),  # on the books screen
        (("b",), "Books", "format_2"),
        (("t",), "Sessions", "format_2"),
        (("p",), "Pause", ON_A_RECORDING["pause"]),
        (("l",), "Ledger", "format_1"),
        (("enter",), "Asset", "format_1"),
    ],
)
async def test_what_a_recording_cannot_do_says_why(make_config, recording, tmp_path, keys, title, reason) -> None:
    """A recording is read-only; one of format 1 holds nothing for the ledger and the asset screen, one of
    format 2 nothing for the books and the sessions, and says so (it replays otherwise)."""
    notices = Notices()
    if reason == "format_1":
        recording = as_older_format(recording, tmp_path, 1)
        reason = f"replay: {recording.name} is of recording format 1, which kept no ledger entries, "
        reason += "balance samples or open orders (format 2 on does)"
    elif reason == "format_2":
        recording = as_older_format(recording, tmp_path, 2)
        reason = f"replay: {recording.name} is of recording format 2, which kept no tracked balances, "
        reason += "positions, adjustments or sessions (format 3 on does)"
    app = replay_app(make_config, recording)
    async with app.run_test(size=(120, 40), message_hook=notices.hook, notifications=True) as pilot:
        table = app.screen.query_one(BalancesTable)
        await eventually(lambda: table.row_count > 0, what="the recorded rows")
        table.focus()
        if keys == ("u",):
            await pilot.press("b")
            await eventually(lambda: isinstance(app.screen, BooksScreen), what="the books")
        screens = len(app.screen_stack)
        await pilot.press(*keys)
        await pilot.pause()
        (notice,) = notices.titled(f"{title}: not available")
        assert notice.message == reason and reason.startswith("replay: ")
        assert len(app.screen_stack) == screens  # nothing opened


async def test_the_header_says_replay_and_the_time_is_the_recordings(make_config, recording) -> None:
    app = replay_app(make_config, recording)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("end")
        assert app.sub_title == "simulator (loopback) · recording five-minutes.rec"
        assert app.badges[0].text == "REPLAY"
        assert app.clock.now() == app.recording.end
        assert f"{app.recording.end:%Y-%m-%d %H:%M:%S} UTC" in time_bar_text(app)


async def test_playing_past_a_blind_change_and_an_adjustment_announces_them(make_config, recording) -> None:
    notices = Notices()
    wall = Wall()
    app = replay_app(make_config, recording, wall)
    async with app.run_test(size=(120, 40), message_hook=notices.hook, notifications=True) as pilot:
        await pilot.press("space", *["plus"] * len(SPEEDS))  # 60x
        wall.at += (ACK_STEP - 2) * STEP_S / 60  # in two goes: one tick past four sums them up in one notice
        await eventually(lambda: len(notices.seen) == 2, what="the first two")
        wall.at += STEPS * STEP_S / 60
        await eventually(lambda: not app.cursor.playing, what="the end")
        await pilot.pause()  # the notices posted on the way
        titles = ["Changed while the feed was down", "Balance adjusted", "Issue acknowledged", "Recording"]
        assert [n.title for n in notices.seen] == titles
        (acknowledged,) = notices.titled("Issue acknowledged")
        operator = Operator.current().name
        assert acknowledged.message == f"{operator} acknowledged USDT:low_balance: treasury tops it up on Mondays"
        (blind,) = notices.titled("Changed while the feed was down")
        assert "EUR moved while the feed was down" in blind.message and blind.severity == "warning"
        (adjusted,) = notices.titled("Balance adjusted")
        assert "adjusted USD" in adjusted.message and "(+12.5): fee refund" in adjusted.message
        assert notices.seen[-1].message == "recording stopped"
        await pilot.press("home")
        before = len(notices.seen)
        await pilot.press("end")  # a jump passes them unannounced
        await pilot.pause()
        assert len(notices.seen) == before


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "balance_tui", *args], capture_output=True, text=True, timeout=60)


async def test_a_file_replay_cannot_read_is_one_line_naming_it(recording, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a recording\n")
    newer = tmp_path / "newer.rec"
    shutil.copy(recording, newer)
    with sqlite3.connect(newer) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'format_version'")
    for path, says in (
        (None, "no such recording"),  # where `record` writes by default: nothing recorded yet
        (tmp_path / "missing.rec", "no such recording"),
        (text, "not a balance-tui recording"),
        (tmp_path / "store.db", "not a balance-tui recording"),  # a SQLite file, but the store's
        (newer, "recording format 99"),
    ):
        done = await asyncio.to_thread(run_cli, "replay", *([] if path is None else [str(path)]))
        assert done.returncode == EXIT_NO_INPUT and not done.stdout
        (line,) = done.stderr.splitlines()
        assert line.startswith(f"balance-tui: {path or default_path()}: ") and says in line, line


async def test_the_replay_keys_take_a_keymap(make_config, recording) -> None:
    app = ReplayApp(make_config(keymap={"replay.play": "o", "replay.forward": "n"}), Recording.open(recording))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n")
        assert app.cursor.at == app.recording.times[1]
        await pilot.press("space")  # no longer bound
        assert not app.cursor.playing
        await pilot.press("o")
        assert app.cursor.playing


def cells(table: DataTable) -> list[list[str]]:
    return [[cell.plain.strip() for cell in table.get_row_at(i)] for i in range(table.row_count)]


async def test_g_on_a_screen_above_the_main_one_goes_back_to_the_time_bar(make_config, recording) -> None:
    app = replay_app(make_config, recording)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("l")
        await eventually(lambda: isinstance(app.screen, LedgerScreen), what="the ledger")
        await pilot.press("g")
        await eventually(lambda: app.time_bar.jumping, what="the jump field")
        assert not isinstance(app.screen, LedgerScreen) and app.focused is app.time_bar.query_one("#jump", Input)
        await pilot.press(*"+1m", "enter")
        assert app.cursor.at == app.recording.start + timedelta(minutes=1)


async def test_the_ledger_and_asset_screens_show_the_recording_as_of_the_cursor(make_config, recording) -> None:
    """What the store held then (its ledger, written by the console's own history writer) is what the
    replay's screens list from the recording at the cursor; the asset screen's wallets are the frame's."""
    store = create_store_engine(make_config().database_url)
    app = replay_app(make_config, recording)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("g", *"+3m", "enter")
        at = app.cursor.at
        stored = ledger(store, since=app.recording.start, until=at)
        assert 0 < stored.total < ledger(store, since=app.recording.start).total  # some are after the cursor
        await pilot.press("l")
        await eventually(lambda: isinstance(app.screen, LedgerScreen), what="the ledger")
        await pilot.pause()
        table = app.screen.query_one("#ledger", DataTable)
        await eventually(lambda: table.row_count == stored.total, what=f"{stored.total} rows")
        assert sorted(r[1] for r in cells(table)) == sorted(
            f"{e.occurred_at:%Y-%m-%d %H:%M:%S}" for e in stored.entries
        )
        heading = str(app.screen.query_one("#ledger-heading", Static).content)
        assert heading.startswith(
            f"as recorded up to {at:%Y-%m-%d %H:%M:%S} UTC: {stored.total} ledger entries in the recording"
        )
        await pilot.press("escape")
        assert not isinstance(app.screen, LedgerScreen)
        asset = stored.entries[0].asset
        app.screen.query_one(BalancesTable).focus()
        app.open_asset(asset)
        await eventually(lambda: isinstance(app.screen, AssetScreen), what="the asset screen")
        await pilot.pause()
        entries = app.screen.query_one("#asset-ledger", DataTable)
        own = [e for e in stored.entries if e.asset == asset]
        await eventually(lambda: entries.row_count == len(own), what=f"the {asset} entries")
        balance = app.recording.view_at(at).balances[asset]
        wallets = str(app.screen.query_one("#asset-wallets", Static).content)
        assert wallets.startswith(f"total {balance.total:,f}: ")
        assert str(app.screen.query_one("#asset-heading", Static).content).startswith(f"{asset} over the last 24 h: ")
    store.dispose()


async def test_playing_at_the_end_of_a_file_being_recorded_follows_it(make_config, tmp_path: Path) -> None:
    """A recorder writes the file while it is replayed: at the end, playing takes each new frame (LIVE on
    the time bar, the end moving), and once the recorder stops the replay pauses at its last frame."""
    path, clock, wall = tmp_path / "growing.rec", FrozenClock(), Wall()
    config = make_config()
    async with running(config, clock=clock) as backend:
        await asyncio.wait_for(backend.manager.wait_for_snapshot(), 10)
        recorder = Recorder(backend, path)
        await recorder.__aenter__()
        recorder.tick()
        await recorder.flush()
        notices = Notices()
        app = ReplayApp(config, Recording.open(path), wall=wall)
        async with app.run_test(size=(120, 40), message_hook=notices.hook, notifications=True) as pilot:
            await pilot.press("space")  # at the start, which is the end: follows
            await eventually(lambda: app.cursor.following, what="following")
            await pilot.pause()
            assert "● LIVE following" in time_bar_text(app)
            first_end = app.cursor.end
            for _ in range(3):
                recorded = await step(backend, clock)
                recorder.tick()
                await recorder.flush()
                wall.at += STEP_S
                await eventually(lambda at=recorded: app.cursor.at == at, what=f"the frame of {recorded:%H:%M:%S}")
                assert app.cursor.following and "● LIVE following" in time_bar_text(app)
            assert app.cursor.end == recorded > first_end and len(app.recording.times) == 4
            clock.advance(1)  # the recorder stops a second after its last frame
            await recorder.__aexit__(None, None, None)
            wall.at += 1
            await eventually(lambda: not app.cursor.playing, what="the replay pausing")
            await pilot.pause()  # the notice posted as it paused
            assert "⏸ paused 1x" in time_bar_text(app) and app.cursor.at == app.recording.end
            assert [n.message for n in notices.titled("Recording")] == ["recording stopped"], notices.seen
