"""The main screen in each state of the feed (live, stale, reconnecting, failed, figures from REST), drawn from
hand-built views; and STALE as an operator sees it on the real simulator when the feed falls silent."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import get_args

import pytest
from textual.color import Color
from textual.content import Content

from balance_tui.core import FeedState
from balance_tui.core.events import Source
from balance_tui.kraken.credentials import Credentials
from balance_tui.sim import Simulator
from balance_tui.tui.app import BalanceApp
from balance_tui.tui.badges import Badge, BadgeBar, Tone
from balance_tui.tui.balances_table import BalancesTable
from balance_tui.tui.books_screen import BooksScreen
from balance_tui.tui.feed_bar import FeedBar
from balance_tui.tui.themes import bundled_themes
from balance_tui.view import EngineView, View
from tests.integration.conftest import eventually
from tests.tui.test_feed_panel import ENGINE, ENGINE_PAUSED, LIVE, RECONNECTING, K, WideApp, history
from tests.tui.test_view import NOW, a_view

STALE = replace(
    LIVE,
    state=FeedState.STALE,
    state_since=NOW - timedelta(seconds=2),  # stale_after_s of 5: nothing heard for 7 s
    last_message_at=NOW - timedelta(seconds=7),
    rate_1s=0,
)
FAILED = replace(
    RECONNECTING,
    state=FeedState.FAILED,
    state_since=NOW - timedelta(seconds=40),
    error="ws://127.0.0.1:8765/v2 refused the connection with HTTP 403",
    retry_at=None,
    events=(*history((40, K.FAILED, "ws://127.0.0.1:8765/v2 refused the connection with HTTP 403")),),
)
ENGINE_REST = replace(ENGINE, source=Source.REST, rest_calls=21, fallbacks=2, last_rest_at=NOW - timedelta(seconds=2))


# REST paused after failures: the figures are the cache's until it answers again.
ENGINE_CACHE = replace(ENGINE_PAUSED, source=Source.CACHE)


def sourced(view: View, engine: EngineView) -> View:
    """Every balance as `engine` says the figures come from now."""
    assert engine.source is not None
    balances = {asset: b._replace(source=engine.source) for asset, b in view.balances.items()}
    return replace(view, balances=balances, engine=engine)


VIEWS = {
    "live": lambda: replace(a_view(), feed=LIVE, engine=ENGINE),
    "stale": lambda: sourced(replace(a_view(), feed=STALE), ENGINE_REST),
    "reconnecting": lambda: sourced(replace(a_view(), feed=RECONNECTING), ENGINE_CACHE),
    "failed": lambda: sourced(replace(a_view(), feed=FAILED), ENGINE_REST),
    # The reconnect budget spent: a minute to wait, the figures polled over REST meanwhile.
    "rest-fallback": lambda: sourced(
        replace(a_view(), feed=replace(RECONNECTING, retry_at=NOW + timedelta(minutes=1))), ENGINE_REST
    ),
}


class ThemedApp(WideApp):
    """The main screen with no backend, in one of the bundled themes, with the console's breakpoints."""

    VERTICAL_BREAKPOINTS = BalanceApp.VERTICAL_BREAKPOINTS

    def __init__(self, theme: str = "balance-dark") -> None:
        super().__init__()
        for bundled in bundled_themes():
            self.register_theme(bundled)
        self.theme = theme


def painted(app: WideApp, view: View):
    async def paint(pilot) -> None:
        await pilot.pause()  # the screen mounted: the table has its columns
        app.screen.paint(view)
        await pilot.pause()

    return paint


def badges(app: WideApp) -> list[str]:
    return [str(label.content) for label in app.screen.query_one(BadgeBar).children]


@pytest.mark.parametrize("state", VIEWS)
async def test_each_state_has_its_badge_and_its_words_on_the_feed_bar(state: str) -> None:
    app = ThemedApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await painted(app, VIEWS[state]())(pilot)
        bar = str(app.screen.query_one(FeedBar).content)
        expected = {
            "live": (["LIVE"], "● LIVE  system online  last msg 1s ago"),
            "stale": (["STALE", "FROM REST"], "● STALE  system online  last msg 7s ago"),
            "reconnecting": (["RECONNECTING", "FROM CACHE"], f"● RECONNECTING  retry in 7s  {RECONNECTING.error}"),
            "failed": (["FAILED", "FROM REST"], f"● FAILED  {FAILED.error}"),
            "rest-fallback": (["RECONNECTING", "FROM REST"], "● RECONNECTING  retry in 1m  cannot connect"),
        }[state]
        assert badges(app) == expected[0]
        assert bar.startswith(expected[1])  # at 80 columns: the countdown and the reason come first
        assert all(label.has_class("badge") for label in app.screen.query_one(BadgeBar).children)


@pytest.mark.parametrize("state", VIEWS)
def test_main_screen_state_snapshot(snap_compare, state: str) -> None:
    app = ThemedApp()
    assert snap_compare(app, terminal_size=(120, 30), run_before=painted(app, VIEWS[state]()))


@pytest.mark.parametrize("state", ["stale", "failed"])
def test_main_screen_state_with_the_feed_pane_snapshot(snap_compare, state: str) -> None:
    app = ThemedApp()
    assert snap_compare(app, terminal_size=(170, 40), run_before=painted(app, VIEWS[state]()))


@pytest.mark.parametrize("theme", ["balance-light", "balance-high-contrast"])
def test_stale_from_rest_in_the_other_bundled_themes_snapshot(snap_compare, theme: str) -> None:
    app = ThemedApp(theme)
    assert snap_compare(app, terminal_size=(120, 30), run_before=painted(app, VIEWS["stale"]()))


async def test_a_silent_feed_shows_stale_before_it_is_given_up(make_config) -> None:
    """On the real simulator: the feed falls silent (its fault injection), the header and the feed bar say
    STALE while the connection is still open, then it reconnects and is LIVE again."""
    app = BalanceApp(make_config(feed={"stale_after_s": 1.0}, engine={"fallback_poll_s": 1.0}))
    async with app.run_test(size=(80, 24)) as pilot:
        await eventually(lambda: app.backend is not None and app.backend.manager.has_snapshot, what="the snapshot")
        backend = app.backend
        bar = app.screen.query_one(FeedBar)
        await eventually(lambda: "LIVE" in badges(app), what="the live badge")
        backend.simulator.faults.silence_every = 1
        await backend.simulator.step()  # the next data frame is the connection's last: nothing heard from then on
        await eventually(lambda: "STALE" in badges(app), timeout=5, what="the stale badge")
        assert str(bar.content).startswith("● STALE") and bar.has_class("-stale")
        assert backend.manager.health.reconnects == 0  # shown stale while the connection is still open
        backend.simulator.faults.silence_every = 0
        await eventually(lambda: backend.manager.health.reconnects >= 1, timeout=5, what="the reconnect")
        await eventually(lambda: badges(app)[:1] == ["LIVE"], timeout=10, what="live again")
        await pilot.press("q")


async def test_on_a_narrow_terminal_the_bar_wraps_to_give_the_whole_reason() -> None:
    """At 80 columns there is no feed pane: a feed that is not live may take three lines to say why."""
    long = "cannot connect to wss://ws-auth.kraken.com/v2: [Errno 111] Connect call failed ('127.0.0.1', 8765)"
    view = VIEWS["reconnecting"]()
    app = ThemedApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await painted(app, replace(view, feed=replace(view.feed, error=long)))(pilot)
        bar = app.screen.query_one(FeedBar)
        shown = Content(str(bar.content)).wrap(bar.content_region.width)[: bar.content_region.height]
        assert bar.content_region.height > 1 and long in " ".join(line.plain.rstrip() for line in shown)
        await painted(app, VIEWS["live"]())(pilot)
        assert bar.content_region.height == 1  # live: one line, the details cut rather than the table


async def test_every_tone_is_a_theme_colour_so_a_new_badge_needs_no_stylesheet() -> None:
    app = ThemedApp()
    async with app.run_test(size=(120, 10)) as pilot:
        await pilot.pause()
        app.badges = tuple(Badge(tone.upper(), tone) for tone in get_args(Tone))
        await pilot.pause()
        labels = list(app.screen.query_one(BadgeBar).children)
        assert [str(label.content) for label in labels] == [tone.upper() for tone in get_args(Tone)]
        variables = app.theme_variables
        expected = {tone: "balance-stale" if tone == "stale" else tone for tone in get_args(Tone)}
        expected["muted"] = "panel-lighten-2"
        for label, tone in zip(labels, get_args(Tone), strict=True):
            assert label.styles.background == Color.parse(variables[expected[tone]]), tone


async def test_the_feed_badge_follows_the_feed_on_every_screen(make_config) -> None:
    """The books are open when the feed drops: their header says so too."""
    app = BalanceApp(make_config())
    async with app.run_test(size=(120, 30)) as pilot:
        await eventually(lambda: app.backend is not None and app.backend.manager.has_snapshot, what="the snapshot")
        await pilot.press("b")
        await eventually(lambda: isinstance(app.screen, BooksScreen), what="the books")
        await eventually(lambda: "LIVE" in badges(app), what="the live badge on the books")
        app.backend.simulator.faults.refuse_handshakes(1000, 503)
        await app.backend.simulator.drop_clients()
        await eventually(lambda: "RECONNECTING" in badges(app), what="the outage on the books")
        await pilot.press("q")


async def test_a_feed_refused_for_good_leaves_the_figures_from_rest(make_config) -> None:
    """On the real simulator: the WebSocket handshake is refused with 403 (never retried); the console says
    FAILED with the reason and still shows every balance, read over REST."""
    async with Simulator(seed=3, updates_per_second=0) as exchange:
        exchange.faults.refuse_handshakes(1, 403)
        config = make_config(
            exchange={
                "name": "kraken",
                "rest_url": exchange.rest_url,
                "ws_private_url": exchange.ws_private_url,
                "ws_public_url": exchange.ws_public_url,
            },
            engine={"fallback_poll_s": 1.0},
        )
        app = BalanceApp(config, Credentials.of(exchange.api_key, exchange.api_secret))
        async with app.run_test(size=(80, 24)) as pilot:
            await eventually(lambda: "FAILED" in badges(app), what="the failed badge")
            bar = str(app.screen.query_one(FeedBar).content)
            assert bar.startswith(f"● FAILED  {exchange.ws_private_url} refused the connection with HTTP 403")
            table = app.screen.query_one(BalancesTable)
            await eventually(lambda: table.counts.held == len(exchange.account.totals()), what="the balances")
            assert {table.figures(asset)["source"] for asset in exchange.account.totals()} == {"rest"}
            await eventually(lambda: badges(app) == ["FAILED", "FROM REST", "10 Hz"], what="the source badge")
            await pilot.press("q")
