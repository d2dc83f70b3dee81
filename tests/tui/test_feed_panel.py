"""The feed pane and the engine panel's cache and REST figures: drawn from hand-built views (deterministic,
no simulator), and from the real backend on the real simulator."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from balance_tui.core import FeedState
from balance_tui.core.breaker import BreakerState
from balance_tui.core.cache import CacheStats
from balance_tui.core.events import Source
from balance_tui.core.health import FeedEvent, FeedEventKind
from balance_tui.tui.app import BalanceApp
from balance_tui.tui.engine_panel import EnginePanel
from balance_tui.tui.feed_panel import FeedPanel, event_line
from balance_tui.tui.main_screen import MainScreen
from balance_tui.view import EngineView, FeedView, StoreView, View
from tests.integration.conftest import eventually
from tests.tui.test_view import NOW, NoBackendApp, a_view

K = FeedEventKind
URL = "ws://127.0.0.1:8765/v2"


class WideApp(NoBackendApp):
    """The main screen with no backend, with the console's breakpoints: the feed pane shows when wide."""

    HORIZONTAL_BREAKPOINTS = BalanceApp.HORIZONTAL_BREAKPOINTS


def history(*events: tuple[float, FeedEventKind, str]) -> tuple[FeedEvent, ...]:
    """Events given oldest first as (seconds before NOW, kind, text), returned newest first as a View has them."""
    return tuple(FeedEvent(NOW - timedelta(seconds=ago), kind, text) for ago, kind, text in reversed(events))


def connection(ago: float, sequence: int = 1, resync: str = "") -> list[tuple[float, FeedEventKind, str]]:
    """The events of one good (re)connection."""
    events = [
        (ago, K.CONNECTED, f"to {URL}"),
        (ago, K.TOKEN, "fetched"),
        (ago, K.SUBSCRIBED, "balances"),
        (ago, K.SUBSCRIBED, "executions"),
        (ago, K.SNAPSHOT, f"balances: 12 assets, seq {sequence}"),
    ]
    if resync:
        events.append((ago, K.RESYNCED, resync))
    return [*events, (ago, K.SNAPSHOT, "executions: 3 orders, seq 1")]


LIVE_EVENTS = history(
    *connection(601),
    (601, K.SYSTEM, "online"),
    (480, K.GAP, "balances: expected 212, got 213"),
    (480, K.RETRY, "in 0.0 s, budget 4/5 left"),
    *connection(480, resync="nothing moved while down"),
    (133, K.CLOSED, "1001: going away"),
    (133, K.RETRY, "in 0.3 s, budget 4/5 left"),
    *connection(133, resync="1 moved while down: EUR"),
)

LIVE = FeedView(
    state=FeedState.LIVE,
    state_since=NOW - timedelta(seconds=133),
    system="online",
    connected_at=NOW - timedelta(seconds=133),
    last_message_at=NOW - timedelta(seconds=1),
    messages=4211,
    rate_1s=12,
    rate_1m=9.4,
    ping_rtt=0.0142,
    sequence=1480,
    reconnects=2,
    reconnect_reason="connection closed (1001: going away)",
    gaps=1,
    token_at=NOW - timedelta(seconds=133),
    channels=("balances", "executions"),
    budget_left=4.6,
    budget_capacity=5,
    holds_source=Source.WS,
    holds_at=NOW - timedelta(seconds=2),
    events=LIVE_EVENTS,
)

REFUSED = f"cannot connect to {URL}: HTTP 503"
RECONNECTING = replace(
    LIVE,
    state=FeedState.RECONNECTING,
    state_since=NOW - timedelta(seconds=6),
    error=REFUSED,
    retry_at=NOW + timedelta(seconds=7),
    connected_at=None,
    last_message_at=NOW - timedelta(seconds=6),
    rate_1s=0,
    rate_1m=7.1,
    reconnects=5,
    reconnect_reason=REFUSED,
    budget_left=0.2,
    events=(
        *history(
            (6, K.CLOSED, "1006"),
            (6, K.RETRY, "in 0.4 s, budget 3/5 left"),
            (5, K.REFUSED, "HTTP 503"),
            (5, K.RETRY, "in 0.2 s, budget 2/5 left"),
            (5, K.REFUSED, "HTTP 503"),
            (5, K.RETRY, "in 0.3 s, budget 1/5 left"),
            (4, K.REFUSED, "HTTP 503"),
            (4, K.RETRY, "in 11.0 s, budget 0/5 left"),
        ),
        *LIVE_EVENTS,
    ),
)

ENGINE = EngineView(
    source=Source.WS,
    cache=CacheStats(12, 1000, 37, 3, 2, 1, 4.0),
    breaker=BreakerState.CLOSED,
    rate_counter=2.5,
    rate_limit=12,
    rest_calls=14,
    fallbacks=1,
    last_rest_at=NOW - timedelta(seconds=95),
)
ENGINE_PAUSED = replace(
    ENGINE,
    source=Source.REST,
    breaker=BreakerState.OPEN,
    breaker_retry_in=12.4,
    rate_counter=9.6,
    rest_calls=19,
    fallbacks=2,
    last_rest_at=NOW - timedelta(seconds=3),
)


def live_view() -> View:
    return replace(a_view(), feed=LIVE, engine=ENGINE)


def reconnecting_view() -> View:
    return replace(a_view(), feed=RECONNECTING, engine=ENGINE_PAUSED)


def lines(panel: FeedPanel) -> list[str]:
    return str(panel.content).split("\n")


async def test_the_pane_shows_every_figure_then_the_newest_events_that_fit() -> None:
    async with WideApp().run_test(size=(170, 30)) as pilot:
        screen = pilot.app.screen
        assert isinstance(screen, MainScreen)
        screen.paint(live_view())
        await pilot.pause()
        panel = screen.query_one(FeedPanel)
        assert panel.display and panel.border_title == "feed" and panel.has_class("-live")
        shown = lines(panel)
        assert shown[:10] == [
            "state      LIVE since 11:57:47 (2m)",
            "connection up 2m  last msg 1s ago  ping 14 ms",
            "messages   12/s  9.4/s over 1m  4211 in all",
            "sequence   1480  gaps 1",
            "reconnects 2  budget 4/5 left",
            "last cause connection closed (1001: going away)",
            "token      2m old",
            "channels   balances, executions",
            "system     online",
            "events, newest first (UTC)",
        ]
        events = shown[10:]
        assert len(events) == panel.content_size.height - 10 < len(LIVE_EVENTS)  # as many as fit
        assert events == [event_line(e) for e in LIVE_EVENTS[: len(events)]]
        assert events[0] == "11:57:47 snapshot   executions: 3 orders, seq 1"
        await pilot.resize_terminal(170, 35)  # five rows more: five events more, without waiting for a tick
        await pilot.pause()
        assert len(lines(panel)) == len(shown) + 5


async def test_while_reconnecting_the_pane_gives_the_cause_and_the_countdown_once() -> None:
    async with WideApp().run_test(size=(170, 40)) as pilot:
        screen = pilot.app.screen
        screen.paint(reconnecting_view())
        await pilot.pause()
        panel = screen.query_one(FeedPanel)
        shown = lines(panel)
        assert shown[:5] == [
            "state      RECONNECTING since 11:59:54 (6s)",
            "retry      in 7s",
            "reason     cannot connect to",  # wrapped, not cut: the pane is 47 columns inside
            "           ws://127.0.0.1:8765/v2: HTTP 503",
            "connection down  last msg 6s ago  ping 14 ms",
        ]
        assert not any(line.startswith("last cause") for line in shown)  # the same as the reason: said once
        assert "reconnects 5  budget 0/5 left" in shown
        assert shown[shown.index("events, newest first (UTC)") + 1] == "11:59:56 retry      in 11.0 s, budget 0/5 left"
        assert not panel.has_class("-live")


async def test_the_pane_is_hidden_below_160_columns_and_wider_from_190() -> None:
    async with WideApp().run_test(size=(120, 30)) as pilot:
        screen = pilot.app.screen
        screen.paint(live_view())
        panel = screen.query_one(FeedPanel)
        await pilot.pause()
        assert not panel.display
        await pilot.resize_terminal(160, 30)
        await pilot.pause()
        assert panel.display and panel.outer_size.width == 50
        await pilot.resize_terminal(200, 30)
        await pilot.pause()
        assert panel.outer_size.width == 64


async def test_the_engine_panel_gives_the_cache_and_rest_figures_in_words_and_a_bar() -> None:
    async with WideApp().run_test(size=(120, 30)) as pilot:
        screen = pilot.app.screen
        screen.paint(live_view())
        engine = screen.query_one(EnginePanel)
        assert engine.border_title == "engine: figures from ws"
        assert str(engine.content).split("\n") == [
            "cache    12/1000  hits 92%  oldest 4s",
            "         expired 1  evicted 2",
            "REST     ok",
            "budget   ██░░░░░░░░ 2.5/12 used",
            "calls    14  fallbacks 1  last 1m ago",
        ]
        assert engine.border_subtitle == "session #7 · history saved"
        screen.paint(reconnecting_view())
        shown = str(engine.content).split("\n")
        assert (
            engine.border_title == "engine: figures from rest"
            and shown[2] == "REST     paused after failures (retry 12s)"
        )
        assert shown[3] == "budget   ████████░░ 9.6/12 used"
        await pilot.pause()
        assert engine.content_size.width >= len(shown[2]) and engine.content_size.height == len(shown)  # none cut
        empty = replace(live_view(), engine=EngineView(), store=StoreView(read_only=True))
        screen.paint(empty)
        assert str(engine.content).split("\n")[:4] == [
            "cache    0/0  hits -  oldest -",
            "         expired 0  evicted 0",
            "REST     -",
            "budget   -",
        ]
        assert engine.border_title == "engine: no figures yet"
        assert engine.border_subtitle == "store read-only: nothing is written"


def test_feed_pane_live_snapshot(snap_compare) -> None:
    app = WideApp()

    async def paint(pilot) -> None:
        await pilot.pause()  # the screen mounted: the table has its columns
        app.screen.paint(live_view())
        await pilot.pause()

    assert snap_compare(app, terminal_size=(200, 50), run_before=paint)


def test_feed_pane_reconnecting_snapshot(snap_compare) -> None:
    app = WideApp()

    async def paint(pilot) -> None:
        await pilot.pause()  # the screen mounted: the table has its columns
        app.screen.paint(reconnecting_view())
        await pilot.pause()

    assert snap_compare(app, terminal_size=(160, 40), run_before=paint)


async def test_the_pane_follows_the_real_feed(make_config) -> None:
    """On the real simulator: the View carries what the feed recorded, and the pane draws it."""
    app = BalanceApp(make_config())
    async with app.run_test(size=(170, 40)) as pilot:
        await eventually(lambda: app.backend is not None and app.backend.manager.has_snapshot, what="the snapshot")
        panel = app.screen.query_one(FeedPanel)
        backend = app.backend
        await eventually(lambda: backend.manager.health.ping_rtt is not None, what="the first pong")
        view = View.read(backend, None)
        feed = view.feed
        assert feed.state is FeedState.LIVE and feed.channels == ("balances", "executions")
        assert feed.connected_at is not None and feed.token_at is not None and feed.budget_capacity == 5
        assert feed.events is backend.manager.health.events.recent()
        kinds = [e.kind for e in reversed(feed.events)]
        assert kinds[:3] == [K.CONNECTED, K.TOKEN, K.SYSTEM] and K.SUBSCRIBED in kinds
        snapshot = next(e for e in feed.events if e.kind is K.SNAPSHOT and e.text.startswith("balances"))
        assert snapshot.text == f"balances: {len(backend.simulator.account.totals())} assets, seq 1"
        await eventually(
            lambda: any(line.startswith("connection up") and "ping -" not in line for line in lines(panel)),
            what="the round trip on the pane",
        )
        shown = str(panel.content)
        assert f"connected  to {backend.simulator.ws_private_url}" in shown
        assert "channels   balances, executions" in shown
        await pilot.press("q")


def test_event_lines_put_the_time_and_kind_in_columns() -> None:
    event = FeedEvent(NOW, K.NO_TOKEN, "EService:Unavailable")
    assert event_line(event) == "12:00:00 no token   EService:Unavailable"
