"""Issue 12 item 4: a recorded hour replays as it was shown.

A live console runs on the real simulator with a frozen clock and a `Recorder` attached, through an hour with
a drop (and a deposit while the feed is down), a sequence gap, a stale spell and an operator's adjustment,
in a few seconds of test time. At three instants the live screen's text is kept; the replay of the file
must show exactly that text at the same instants, but for its own time bar and header badge (it runs one
row taller for the time bar, so every pane has the size it had live). Snapshots show the replay there, and
its asset, ledger, books and sessions screens as of the last instant.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from textual.pilot import Pilot

from balance_tui.backend import Backend
from balance_tui.config import Config, load_config
from balance_tui.core import FeedState
from balance_tui.recording import EventKind, Recorder, Recording
from balance_tui.store.identity import Operator
from balance_tui.tui.app import BalanceApp
from balance_tui.tui.asset_screen import AssetScreen
from balance_tui.tui.books_screen import BooksScreen
from balance_tui.tui.ledger_screen import LedgerScreen
from balance_tui.tui.main_screen import MainScreen
from balance_tui.tui.replay import ReplayApp
from balance_tui.tui.sessions_screen import SessionsScreen
from tests.conftest import FrozenClock, write_config
from tests.integration.conftest import eventually
from tests.tui.conftest import settled
from tests.tui.recorded import adjust, caught_up, step

STEP_S = 30.0
STEPS = 120  # an hour
DROP, GAP, STALE, ADJUST = 20, 40, 60, 80  # the step each fault comes at
SILENT_STEPS = 3  # the stale spell: 90 s with nothing from the exchange
INSTANTS = {"after-the-drop": 30, "stale": STALE + SILENT_STEPS - 1, "after-the-adjustment": 110}
LIVE_SIZE = (160, 50)  # the feed pane (from 160 columns) and the history pane (from 50 rows) show
SNAPSHOT_SIZE = (120, 51)  # no feed pane: its events name the simulator's random port


@dataclass(frozen=True)
class Hour:
    path: Path
    config: Config
    instants: dict[str, datetime]
    screens: dict[str, list[str]]  # what the live console showed at each instant, line by line


def screen_text(app: BalanceApp) -> list[str]:
    return [strip.text for strip in app.screen._compositor.render_strips()]


async def painted(pilot: Pilot) -> list[str]:
    """The screen once it has stopped changing (the compositor has caught up with the last paint)."""
    await pilot.pause()
    last = screen_text(pilot.app)
    for _ in range(100):
        await pilot.pause(0.05)
        now = screen_text(pilot.app)
        if now == last:
            return now
        last = now
    raise AssertionError("the screen kept changing for 5 s")


async def capture(pilot: Pilot, recorder: Recorder) -> list[str]:
    """The live screen and the recorder read the backend in one go (nothing can arrive between them), then
    the screen holds that picture (`paused`, with no badge) while its text is taken."""
    app = pilot.app
    assert isinstance(app, BalanceApp) and isinstance(app.screen, MainScreen)
    app.screen.refresh_view()
    recorder.tick()
    app.paused = True
    try:
        # The header's clock keeps its own 1 s timer: it shows the instant within a second.
        shows = f"{app.clock.now():%H:%M:%S} UTC"
        await eventually(lambda: shows in screen_text(app)[0], what=f"{shows} in the header")
        return await painted(pilot)
    finally:
        app.paused = False


async def drop(backend: Backend, clock: FrozenClock, *, deposit: bool = False) -> None:
    """Every client cut off (with a deposit while no feed is connected: a blind change at the resync), and
    both feeds back before the simulator moves again, so what each resync finds is the same every run."""
    sim, ticker = backend.simulator, backend.ticker
    assert sim is not None and ticker is not None
    feed, prices = backend.manager.health.reconnects, ticker.health.reconnects
    await sim.drop_clients()
    if deposit:
        await sim.deposit("EUR", Decimal("250"))
    await eventually(
        lambda: all(
            health.reconnects > before and health.state is FeedState.LIVE
            for health, before in ((backend.manager.health, feed), (ticker.health, prices))
        ),
        what="both feeds live again",
    )
    await eventually(lambda: caught_up(backend, clock), what="the resync")


async def gap(backend: Backend, clock: FrozenClock) -> None:
    """A step whose updates skip a sequence number: the feed sees the gap and resyncs before the next."""
    sim, health = backend.simulator, backend.manager.health
    assert sim is not None
    gaps, reconnects = health.gaps, health.reconnects
    sim.faults.skip_every = 1
    await step(backend, clock, seconds=STEP_S, wait=False)
    await eventually(lambda: health.gaps > gaps and health.reconnects > reconnects, what="the gap")
    sim.faults.skip_every = 0
    await eventually(lambda: health.state is FeedState.LIVE and caught_up(backend, clock), what="the resync")


async def hour_step(i: int, backend: Backend, clock: FrozenClock) -> None:
    """Step i of the hour, with its fault if it has one (each is seen live and recorded)."""
    sim = backend.simulator
    assert sim is not None
    if i == GAP:
        await gap(backend, clock)
        return
    if STALE <= i < STALE + SILENT_STEPS:
        sim.faults.silence_every = 1  # no data, no heartbeat: stale once 60 s have passed
        await step(backend, clock, seconds=STEP_S, wait=False)
        return
    if i == DROP:
        await drop(backend, clock, deposit=True)
    elif i == STALE + SILENT_STEPS:  # the spell ends: the feed reconnects at once
        sim.faults.silence_every = 0
        await drop(backend, clock)
    elif i == ADJUST:
        await adjust(backend, "USD", Decimal("40"), "fee refund", Operator("alice", None, "10.0.0.7", "pts/3"))
    await step(backend, clock, seconds=STEP_S)


async def live_hour(config: Config, path: Path) -> Hour:
    clock = FrozenClock()
    app = BalanceApp(config, clock=clock)
    instants: dict[str, datetime] = {}
    screens: dict[str, list[str]] = {}
    at_step = {i: name for name, i in INSTANTS.items()}
    async with app.run_test(size=LIVE_SIZE) as pilot:
        await settled(pilot)
        backend = app.backend
        assert backend is not None
        async with Recorder(backend, path) as recorder:
            for i in range(STEPS):
                await hour_step(i, backend, clock)
                if i in at_step:
                    instants[at_step[i]] = clock.now()
                    screens[at_step[i]] = await capture(pilot, recorder)
                else:
                    recorder.tick()
                if i % 20 == 19:
                    await recorder.flush()
        await pilot.press("q")
    return Hour(path, config, instants, screens)


@pytest.fixture(scope="module")
def hour(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hour]:
    """Recorded once for the module, in an environment of its own (the autouse one is per test)."""
    folder = tmp_path_factory.mktemp("hour")
    with pytest.MonkeyPatch.context() as env:
        for name in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
            env.setenv(name, str(folder / name.lower()))
        env.delenv("NO_COLOR", raising=False)
        env.delenv("TEXTUAL_THEME", raising=False)
        data = {
            "sim": {"updates_per_second": 0.0},
            "store": {"database_url": f"sqlite:///{folder / 'store.db'}"},
            # Stale after 60 s of the frozen clock: the 30 s steps keep the feed live, the spell does not.
            "feed": {"stale_after_s": 60.0},
            "engine": {"fallback_poll_s": 3600.0},  # no REST poll lands in the spell at a wall-clock moment
            "cache": {"ttl_s": 86400.0},
        }
        config = load_config(write_config(folder / "config.toml", data)).config
        yield asyncio.run(live_hour(config, folder / "hour.rec"))


def replay_app(hour: Hour) -> ReplayApp:
    return ReplayApp(hour.config, Recording.open(hour.path))


async def go_to(pilot: Pilot, at: datetime) -> None:
    """As an operator would: `g`, the time, enter."""
    await pilot.press("g", *f"{at:%H:%M:%S}", "enter")
    assert pilot.app.cursor.at == at  # type: ignore[attr-defined]


async def test_the_hour_had_every_fault(hour: Hour) -> None:
    with Recording.open(hour.path) as recording:
        start, end = recording.start, recording.end
        events = {(e.kind, e.text.split(":")[0]) for e in recording.events_between(start, end)}
        stale = recording.view_at(hour.instants["stale"])
    assert end - start == timedelta(seconds=STEP_S * (STEPS - 1))
    assert (EventKind.BLIND_CHANGE, "EUR moved while the feed was down") in events
    assert (EventKind.FEED, "gap") in events
    assert stale.feed.state is FeedState.STALE and hour.screens["stale"][-2].startswith(" ● STALE")
    assert any(kind is EventKind.ADJUSTMENT and text.endswith(" adjusted USD 0 -> 40 (+40)") for kind, text in events)


@pytest.mark.parametrize("instant", list(INSTANTS))
async def test_replay_shows_what_the_live_console_showed(hour: Hour, instant: str) -> None:
    live = hour.screens[instant]
    width, height = LIVE_SIZE
    app = replay_app(hour)
    async with app.run_test(size=(width, height + 1)) as pilot:
        await go_to(pilot, hour.instants[instant])
        shown = await painted(pilot)
    header, *main, time_bar, footer = shown
    assert "REPLAY" in header and "⏸ paused 1x" in time_bar
    assert header[-14:] == live[0][-14:]  # the clock: the recording's time
    assert main == live[1:-1]
    assert footer == live[-1]


@pytest.mark.parametrize("instant", list(INSTANTS))
def test_replay_snapshot(hour: Hour, instant: str, snap_compare) -> None:
    async def run_before(pilot: Pilot) -> None:
        await go_to(pilot, hour.instants[instant])
        await painted(pilot)

    assert snap_compare(replay_app(hour), terminal_size=SNAPSHOT_SIZE, run_before=run_before)


SCREENS = {  # each replay screen: how it opens, and what its heading says once it has read the recording
    "asset": (lambda app: app.open_asset("EUR"), AssetScreen, "#asset-heading", "over the last"),
    "ledger": (lambda app: app.action_ledger(), LedgerScreen, "#ledger-heading", "as recorded"),
    "books": (lambda app: app.action_books(), BooksScreen, "#books-session", "session #"),
    "sessions": (lambda app: app.action_sessions(), SessionsScreen, "#sessions-heading", "newest first"),
}


@pytest.mark.parametrize("name", list(SCREENS))
def test_replay_screen_snapshot(hour: Hour, name: str, snap_compare) -> None:
    """At the last instant: EUR's screen (its deposit made while the feed was down marked on the chart,
    its ledger), the ledger, and the books and sessions (the adjustment made in the hour)."""
    open_screen, screen, heading, says = SCREENS[name]

    async def run_before(pilot: Pilot) -> None:
        app = pilot.app
        await go_to(pilot, hour.instants["after-the-adjustment"])
        open_screen(app)
        await eventually(lambda: isinstance(app.screen, screen), what=f"the {name} screen")
        await pilot.pause()  # composed
        await eventually(lambda: says in str(app.screen.query_one(heading).content), what=f"the {name} read")
        await painted(pilot)

    assert snap_compare(replay_app(hour), terminal_size=SNAPSHOT_SIZE, run_before=run_before)
