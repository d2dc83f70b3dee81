"""The public endpoint: status, ping, heartbeats and the ticker; and each endpoint refusing the other's channels
with Kraken's own words."""

import json
import re
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from websockets.asyncio.client import ClientConnection, connect

from balance_tui.sim import Simulator
from balance_tui.sim.assets import PAIRS

from .clients import HEARTBEAT_INTERVAL, receive, request

PRIVATE_ON_PUBLIC = "Private data and trading are unavailable on this endpoint. Try ws-auth.kraken.com"
PUBLIC_ON_PRIVATE = "Public market data subscriptions are unavailable on this endpoint. Try ws.kraken.com"
TICKER_FIELDS = [
    "symbol",
    "bid",
    "bid_qty",
    "ask",
    "ask_qty",
    "last",
    "volume",
    "vwap",
    "low",
    "high",
    "change",
    "change_pct",
]


@pytest.fixture
async def public(sim: Simulator) -> AsyncIterator[ClientConnection]:
    async with connect(sim.ws_public_url) as connection:
        yield connection


def subscribe_ticker(*symbols: str, **params: object) -> dict[str, object]:
    return {"method": "subscribe", "params": {"channel": "ticker", "symbol": list(symbols), **params}}


async def test_status_ping_and_heartbeats_only_once_subscribed(public: ClientConnection) -> None:
    status = await receive(public)
    assert (status["channel"], status["data"][0]["system"]) == ("status", "online")
    assert status["data"][0]["connection_id"] > 2**63
    pong = await request(public, {"method": "ping", "req_id": 5})
    assert (pong["method"], pong["req_id"]) == ("pong", 5)
    with pytest.raises(TimeoutError):
        await receive(public, within=HEARTBEAT_INTERVAL * 3)

    await request(public, subscribe_ticker("BTC/USD"))
    assert (await receive(public))["type"] == "snapshot"
    assert await receive(public, within=HEARTBEAT_INTERVAL * 5) == {"channel": "heartbeat"}


async def test_ticker_acks_per_symbol_then_snapshots(public: ClientConnection, sim: Simulator) -> None:
    await receive(public)
    await public.send(json.dumps({**subscribe_ticker("BTC/USD", "DOGE/USD"), "req_id": 8}))
    frames = [await receive(public) for _ in range(4)]

    acks = [frame for frame in frames if "method" in frame]
    assert [ack["result"] for ack in acks] == [
        {"channel": "ticker", "event_trigger": "trades", "snapshot": True, "symbol": "BTC/USD"},
        {"channel": "ticker", "event_trigger": "trades", "snapshot": True, "symbol": "DOGE/USD"},
    ]
    assert all((ack["success"], ack["req_id"]) == (True, 8) for ack in acks)
    snapshots = [frame for frame in frames if frame.get("channel") == "ticker"]
    assert [frame["data"][0]["symbol"] for frame in snapshots] == ["BTC/USD", "DOGE/USD"]
    for frame in snapshots:
        assert frame.keys() == {"channel", "type", "data"}  # public data has no sequence
        [ticker] = frame["data"]
        assert list(ticker) == TICKER_FIELDS
        assert ticker["bid"] < ticker["ask"]
        assert ticker["low"] <= ticker["last"] <= ticker["high"]
        assert ticker["last"] == sim.account.market.price(PAIRS[ticker["symbol"]])


async def test_ticker_figures_are_exact_json_numbers(public: ClientConnection, sim: Simulator) -> None:
    await receive(public)
    await request(public, subscribe_ticker("DOGE/USD", snapshot=False, event_trigger="bbo"))
    await sim.step()
    raw = await public.recv()

    ticker = json.loads(raw, parse_float=Decimal)["data"][0]
    for name in TICKER_FIELDS[1:]:
        assert isinstance(ticker[name], Decimal), name
        assert re.search(rf'"{name}":{re.escape(format(ticker[name], "f"))}[,}}]', raw), name
    assert ticker["last"] == sim.account.market.price(PAIRS["DOGE/USD"])
    assert -ticker["last"].as_tuple().exponent == PAIRS["DOGE/USD"].pair_decimals  # all 7 digits, even zeros
    assert -ticker["volume"].as_tuple().exponent == PAIRS["DOGE/USD"].lot_decimals


async def test_each_step_updates_every_subscribed_symbol(public: ClientConnection, sim: Simulator) -> None:
    await receive(public)
    await public.send(json.dumps(subscribe_ticker("BTC/USD", "ETH/BTC", snapshot=False)))
    assert [(await receive(public))["success"] for _ in range(2)] == [True, True]
    await sim.step()
    updates = [await receive(public) for _ in range(2)]
    assert {frame["data"][0]["symbol"] for frame in updates} == {"BTC/USD", "ETH/BTC"}
    assert {frame["type"] for frame in updates} == {"update"}
    for frame in updates:
        [ticker] = frame["data"]
        assert ticker["last"] == sim.account.market.price(PAIRS[ticker["symbol"]])


async def test_ticker_refusals(public: ClientConnection) -> None:
    await receive(public)
    bad = await request(public, subscribe_ticker("XBT/USD"))
    assert (bad["error"], bad["symbol"], bad["success"]) == ("Currency pair not supported XBT/USD", "XBT/USD", False)
    bare = await request(public, {"method": "subscribe", "params": {"channel": "ticker", "symbol": "BTC/USD"}})
    assert bare["error"] == "Symbol field must be an array"
    trigger = await request(public, subscribe_ticker("BTC/USD", event_trigger="sometimes"))
    assert trigger["error"] == "Invalid event_trigger: expected one of trades, bbo"
    missing = await request(public, {"method": "unsubscribe", "params": {"channel": "ticker", "symbol": ["BTC/USD"]}})
    assert (missing["error"], missing["symbol"]) == ("Subscription Not Found", "BTC/USD")


async def test_unsubscribe_stops_a_symbol(public: ClientConnection, sim: Simulator) -> None:
    await receive(public)
    await public.send(json.dumps(subscribe_ticker("BTC/USD", "ETH/USD", snapshot=False)))
    for _ in range(2):
        assert (await receive(public))["success"]
    params = {"channel": "ticker", "symbol": ["ETH/USD"]}
    ack = await request(public, {"method": "unsubscribe", "params": params})
    assert (ack["result"], ack["success"]) == ({"channel": "ticker", "symbol": "ETH/USD"}, True)
    await sim.step()
    assert (await receive(public))["data"][0]["symbol"] == "BTC/USD"
    pong = await request(public, {"method": "ping"})
    assert pong["method"] == "pong"  # nothing for ETH/USD came in between


@pytest.mark.parametrize("channel", ["balances", "executions"])
async def test_the_public_endpoint_refuses_private_channels(
    public: ClientConnection, channel: str, ws_token: str
) -> None:
    await receive(public)
    params = {"channel": channel, "token": ws_token}
    reply = await request(public, {"method": "subscribe", "params": params, "req_id": 3})
    assert (reply["error"], reply["success"], reply["req_id"]) == (PRIVATE_ON_PUBLIC, False, 3)


@pytest.mark.parametrize("channel", ["ticker", "book", "trade", "ohlc"])
async def test_the_private_endpoint_refuses_public_channels(ws: ClientConnection, channel: str) -> None:
    await receive(ws)
    params = {"channel": channel, "symbol": ["BTC/USD"]}
    reply = await request(ws, {"method": "subscribe", "params": params, "req_id": 3})
    assert (reply["error"], reply["success"], reply["req_id"]) == (PUBLIC_ON_PRIVATE, False, 3)
