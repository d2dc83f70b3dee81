"""The public ticker feed: strict parsing, then the real stream against the real simulator over loopback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from decimal import Decimal as D

import pytest

from balance_tui.core.budgets import ReconnectBudget
from balance_tui.core.clock import SystemClock
from balance_tui.core.health import FeedState
from balance_tui.core.prices import PriceBook
from balance_tui.kraken.frames import Heartbeat, ParseError
from balance_tui.kraken.ticker import SubscribeRefused, Ticker, TickerFrame, TickerStream, parse_public
from balance_tui.sim import Simulator
from balance_tui.sim.assets import PAIRS
from tests.integration.conftest import eventually

ITEM = {
    "symbol": "BTC/USD",
    "bid": 67000.1,
    "bid_qty": 0.5,
    "ask": 67000.2,
    "ask_qty": 1.25,
    "last": 67000.15,
    "volume": 1234.5,
    "vwap": 66000.0,
    "low": 65000.0,
    "high": 68000,
    "change": 12.5,
    "change_pct": 0.02,
}


def ticker_frame(*items: dict, kind: str = "update") -> str:
    return json.dumps({"channel": "ticker", "type": kind, "data": list(items)})


def test_a_ticker_frame_parses_to_exact_decimals() -> None:
    frame = parse_public(ticker_frame(ITEM, kind="snapshot"))
    assert frame == TickerFrame("snapshot", (Ticker("BTC/USD", D("67000.1"), D("67000.2"), D("67000.15")),))


def test_last_may_be_missing_when_bid_and_ask_are_there() -> None:
    item = {k: v for k, v in ITEM.items() if k != "last"}
    assert parse_public(ticker_frame(item)).tickers[0].last is None


@pytest.mark.parametrize(
    ("item", "named"),
    [
        ({**ITEM, "last": "67000"}, "ticker.data[0].last"),
        ({**ITEM, "bid": -1}, "ticker.data[0].bid"),
        ({**ITEM, "symbol": "BTCUSD"}, "ticker.data[0].symbol"),
        ({**ITEM, "symbol": None}, "ticker.data[0].symbol"),
        ({**ITEM, "last": None, "ask": None}, "no price"),
    ],
)
def test_a_bad_ticker_item_raises_a_parse_error_naming_the_field(item: dict, named: str) -> None:
    with pytest.raises(ParseError, match=named.replace("[", r"\[").replace("]", r"\]")):
        parse_public(ticker_frame(item))


def test_bad_frame_shapes_are_parse_errors() -> None:
    too_precise = ticker_frame(ITEM).replace("67000.15", "67000.0000000000000000001")
    for raw in (
        too_precise,
        '{"channel":"ticker","type":"delta","data":[]}',
        '{"channel":"ticker","type":"update"}',
        "[1",
    ):
        with pytest.raises(ParseError):
            parse_public(raw)


def test_other_frames_pass_through_and_refusals_name_the_symbol() -> None:
    assert parse_public('{"channel":"heartbeat"}') == Heartbeat()
    named = {
        "method": "subscribe",
        "success": False,
        "error": "Currency pair not supported XBT/USD",
        "symbol": "XBT/USD",
    }
    assert parse_public(json.dumps(named)) == SubscribeRefused("XBT/USD", named["error"])
    unnamed = {k: v for k, v in named.items() if k != "symbol"}
    assert parse_public(json.dumps(unnamed)) == SubscribeRefused("XBT/USD", named["error"])


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(seed=5, updates_per_second=0, heartbeat_interval=0.2) as simulator:
        yield simulator


@asynccontextmanager
async def streaming(sim: Simulator, symbols: Sequence[str]) -> AsyncIterator[tuple[TickerStream, PriceBook]]:
    prices = PriceBook(SystemClock())
    stream = TickerStream(prices, sim.ws_public_url, symbols, stale_after_s=2.0, budget=ReconnectBudget(jitter=0))
    task = asyncio.create_task(stream.run())
    try:
        yield stream, prices
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert stream.health.state is FeedState.STOPPED


def sim_price(sim: Simulator, symbol: str) -> D:
    return sim.account.market.price(PAIRS[symbol])


async def test_prices_follow_the_simulator_exactly(sim: Simulator) -> None:
    symbols = ["BTC/USD", "ETH/BTC", "SOL/USD"]
    async with streaming(sim, symbols) as (stream, prices):
        await eventually(lambda: stream.health.subscribed == set(symbols), what="three acks")
        await eventually(lambda: prices.price("BTC/USD") == sim_price(sim, "BTC/USD"), what="the snapshot")
        for _ in range(5):
            await sim.step()
        await eventually(
            lambda: all(prices.price(symbol) == sim_price(sim, symbol) for symbol in symbols),
            what="the last update of every symbol",
        )
        eth = sim_price(sim, "ETH/BTC") * sim_price(sim, "BTC/USD")
        assert prices.value("ETH", D(2)) == 2 * eth  # bridged through BTC, exactly
        assert stream.health.state is FeedState.LIVE and stream.health.reconnects == 0


async def test_an_unlisted_symbol_is_refused_once_and_the_rest_still_stream(sim: Simulator) -> None:
    async with streaming(sim, ["XBT/USD", "BTC/USD", "DOGE/BTC"]) as (stream, prices):
        health = stream.health
        await eventually(lambda: set(health.refused) == {"XBT/USD", "DOGE/BTC"}, what="two refusals")
        assert "Currency pair not supported XBT/USD" in health.refused["XBT/USD"]
        for _ in range(3):
            await sim.step()
        await eventually(lambda: prices.price("BTC/USD") == sim_price(sim, "BTC/USD"), what="BTC/USD updates")
        assert health.subscribed == {"BTC/USD"} and health.reconnects == 0
        assert prices.symbols == {"BTC/USD"}


async def test_a_dropped_connection_reconnects_and_prices_keep_updating(sim: Simulator) -> None:
    async with streaming(sim, ["BTC/USD", "NOPE/USD"]) as (stream, prices):
        health = stream.health
        await eventually(lambda: health.subscribed == {"BTC/USD"} and "NOPE/USD" in health.refused, what="acks")
        assert await sim.drop_clients() == 1
        before = prices.price("BTC/USD")
        for _ in range(3):  # moves missed while away; the new snapshot catches up
            await sim.step()
        await eventually(lambda: health.reconnects == 1 and health.subscribed == {"BTC/USD"}, what="a reconnect")
        await eventually(lambda: prices.price("BTC/USD") == sim_price(sim, "BTC/USD"), what="the new snapshot")
        assert prices.price("BTC/USD") != before
        await sim.step()
        await eventually(lambda: prices.price("BTC/USD") == sim_price(sim, "BTC/USD"), what="updates after it")
        assert health.reconnects == 1 and health.state is FeedState.LIVE


async def test_a_silent_connection_is_stale_and_replaced(sim: Simulator, caplog: pytest.LogCaptureFixture) -> None:
    # Heartbeats stop only if the client subscribed to nothing; a tiny stale limit makes the quiet between
    # them too long instead, which must end in a reconnect, not a hang.
    prices = PriceBook(SystemClock())
    stream = TickerStream(prices, sim.ws_public_url, ["BTC/USD"], stale_after_s=0.05, budget=ReconnectBudget(jitter=0))
    task = asyncio.create_task(stream.run())
    try:
        await eventually(lambda: stream.health.reconnects >= 1, what="a stale reconnect")
        assert "no data or heartbeat for 0.05 s" in caplog.text
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_symbols_watched_later_are_subscribed_live_once_and_all_again_after_a_reconnect(sim: Simulator) -> None:
    async with streaming(sim, ["BTC/USD"]) as (stream, prices):
        replies = subscribe_replies(stream)
        health = stream.health
        await eventually(lambda: health.subscribed == {"BTC/USD"}, what="the first ack")
        stream.watch(["BTC/USD", "SOL/USD", "NOPE/USD"])
        stream.watch(["SOL/USD"])
        await eventually(lambda: health.subscribed == {"BTC/USD", "SOL/USD"} and "NOPE/USD" in health.refused)
        await eventually(lambda: prices.price("SOL/USD") == sim_price(sim, "SOL/USD"), what="the new snapshot")
        assert health.reconnects == 0 and replies == ["BTC/USD", "SOL/USD", "refused NOPE/USD"]
        assert await sim.drop_clients() == 1
        await eventually(lambda: health.reconnects == 1 and health.subscribed == {"BTC/USD", "SOL/USD"})
        await sim.step()
        await eventually(lambda: prices.price("SOL/USD") == sim_price(sim, "SOL/USD"), what="updates after it")
        assert replies[3:] == ["BTC/USD", "SOL/USD"]  # the refused one is not asked for again


async def test_with_nothing_to_watch_it_waits_without_connecting_until_a_symbol_comes(sim: Simulator) -> None:
    async with streaming(sim, []) as (stream, prices):
        await asyncio.sleep(0.2)
        assert stream.health.state is FeedState.STOPPED and stream.health.reconnects == 0
        assert await sim.drop_clients() == 0
        stream.watch(["BTC/USD"])
        await eventually(lambda: prices.price("BTC/USD") == sim_price(sim, "BTC/USD"), what="the snapshot")
        assert stream.health.state is FeedState.LIVE and stream.health.reconnects == 0


async def test_a_feed_whose_every_symbol_was_refused_starts_again_for_a_listed_one(sim: Simulator) -> None:
    async with streaming(sim, ["NOPE/USD"]) as (stream, prices):
        health = stream.health
        await eventually(lambda: health.state is FeedState.FAILED, what="the refusal to stop the feed")
        assert health.error == "Kraken lists none of the ticker symbols asked for"
        stream.watch(["BTC/USD"])
        await eventually(lambda: prices.price("BTC/USD") == sim_price(sim, "BTC/USD"), what="the snapshot")
        assert health.state is FeedState.LIVE and health.subscribed == {"BTC/USD"} and health.error == ""


def subscribe_replies(stream: TickerStream) -> list[str]:
    """Each subscribe reply the stream takes, in order: the symbol acked, or "refused SYMBOL"; the stream
    itself would let an "Already subscribed" pass silently, so a test can only see a double subscription here."""
    replies: list[str] = []
    take = stream._take

    def recording(raw: str | bytes) -> None:
        message = json.loads(raw)
        if message.get("method") == "subscribe":
            symbol = message.get("result", message).get("symbol")
            replies.append(symbol if message["success"] else f"refused {symbol}")
        take(raw)

    stream._take = recording  # type: ignore[method-assign]
    return replies
