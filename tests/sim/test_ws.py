"""WS v2: framing, the balances channel, heartbeats, and numbers that keep their exact digits on the wire."""

import asyncio
import json
import re
from decimal import Decimal
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from balance_tui.core.events import LedgerEntry
from balance_tui.sim import Simulator

from .clients import HEARTBEAT_INTERVAL, receive, request, subscribe

RFC3339_MICROS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


async def test_status_comes_first(ws: ClientConnection) -> None:
    status = await receive(ws)
    assert status["channel"] == "status"
    assert status["type"] == "update"
    [data] = status["data"]
    assert {key: data[key] for key in ("api_version", "system", "version")} == {
        "api_version": "v2",
        "system": "online",
        "version": "2.0.0",
    }
    assert data["connection_id"] > 2**63


async def test_ping_echoes_req_id_only_when_sent(sim: Simulator, ws: ClientConnection) -> None:
    await receive(ws)
    pong = await request(ws, {"method": "ping", "req_id": 101})
    assert pong.keys() == {"method", "req_id", "time_in", "time_out"}
    assert (pong["method"], pong["req_id"]) == ("pong", 101)
    assert RFC3339_MICROS.fullmatch(pong["time_in"])
    assert RFC3339_MICROS.fullmatch(pong["time_out"])

    bare = await request(ws, {"method": "ping"})
    assert bare.keys() == {"method", "time_in", "time_out"}
    assert sim.requests == {"ping": 2}


async def test_bad_token_is_an_invalid_session(ws: ClientConnection) -> None:
    await receive(ws)
    reply = await request(
        ws, {"method": "subscribe", "params": {"channel": "balances", "token": "forged"}, "req_id": 7}
    )
    assert reply.keys() == {"channel", "error", "method", "status", "success", "time_in", "time_out", "req_id"}
    assert reply["error"] == "ESession:Invalid session"
    assert (reply["channel"], reply["method"], reply["status"], reply["success"], reply["req_id"]) == (
        "balances",
        "subscribe",
        "error",
        False,
        7,
    )

    missing = await request(ws, {"method": "subscribe", "params": {"channel": "balances"}})
    assert missing["error"] == "ESession:Invalid session"
    assert "req_id" not in missing


async def test_subscribe_acks_then_snapshots_the_account(ws: ClientConnection, sim: Simulator, ws_token: str) -> None:
    ack, snapshot = await subscribe(ws, ws_token)

    assert ack["result"] == {"channel": "balances", "snapshot": True}
    assert (ack["method"], ack["success"]) == ("subscribe", True)
    assert (snapshot["channel"], snapshot["type"], snapshot["sequence"]) == ("balances", "snapshot", 1)
    assert {item["asset"]: item["balance"] for item in snapshot["data"]} == sim.account.totals()
    for item in snapshot["data"]:
        assert item["asset_class"] == "currency"
        assert sum(wallet["balance"] for wallet in item["wallets"]) == item["balance"]
    [dot] = [item for item in snapshot["data"] if item["asset"] == "DOT"]
    assert {(wallet["type"], wallet["id"]) for wallet in dot["wallets"]} == {
        ("spot", "main"),
        ("earn", "bonded"),
    }


async def test_snapshot_false_is_echoed_and_skipped(ws: ClientConnection, sim: Simulator, ws_token: str) -> None:
    await receive(ws)
    params = {"channel": "balances", "token": ws_token, "snapshot": False}
    ack = await request(ws, {"method": "subscribe", "params": params})
    assert ack["result"] == {"channel": "balances", "snapshot": False}

    entries = await sim.step()
    update = await receive(ws)
    assert (update["type"], update["sequence"]) == ("update", 1)
    assert update["data"][0]["ledger_id"] == entries[0].ledger_id


async def test_updates_replay_to_the_account(ws: ClientConnection, sim: Simulator, ws_token: str) -> None:
    _, snapshot = await subscribe(ws, ws_token)
    totals = {item["asset"]: item["balance"] for item in snapshot["data"]}
    wallets = {
        (item["asset"], wallet["type"], wallet["id"]): wallet["balance"]
        for item in snapshot["data"]
        for wallet in item["wallets"]
    }

    entries = [entry for _ in range(200) for entry in await sim.step()]
    updates = [await receive(ws) for _ in entries]

    assert [frame["sequence"] for frame in updates] == list(range(2, len(entries) + 2))
    assert sim.updates_sent == len(entries)
    for frame, entry in zip(updates, entries, strict=True):
        assert (frame["channel"], frame["type"]) == ("balances", "update")
        [data] = frame["data"]
        assert data["ledger_id"] == entry.ledger_id
        assert RFC3339_MICROS.fullmatch(data["timestamp"])
        assert data["asset_class"] == "currency"
        wallet = (data["asset"], data["wallet_type"], data["wallet_id"])
        wallets[wallet] = wallets.get(wallet, 0) + data["amount"] - data["fee"]  # a wallet opens with an update
        totals[data["asset"]] = data["balance"]
    assert totals == sim.account.totals()
    assert wallets == sim.account.wallets()


async def test_trade_legs_share_a_ref_id(ws: ClientConnection, sim: Simulator, ws_token: str) -> None:
    await subscribe(ws, ws_token)
    entries: list[LedgerEntry] = []
    while not any(entry.type == "trade" for entry in entries):
        entries += await sim.step()
    frames = [(await receive(ws))["data"][0] for _ in entries]

    legs: dict[str, list[dict[str, Any]]] = {}
    for frame in frames:
        if frame["type"] == "trade":
            legs.setdefault(frame["ref_id"], []).append(frame)
    for base, quote in legs.values():
        assert base["fee"] == 0
        assert quote["fee"] > 0
        assert (base["amount"] > 0) != (quote["amount"] > 0)


async def test_heartbeats_only_once_subscribed(ws: ClientConnection, ws_token: str) -> None:
    await receive(ws)
    with pytest.raises(TimeoutError):
        await receive(ws, within=HEARTBEAT_INTERVAL * 3)

    await request(ws, {"method": "subscribe", "params": {"channel": "balances", "token": ws_token}})
    assert (await receive(ws))["type"] == "snapshot"
    assert await receive(ws, within=HEARTBEAT_INTERVAL * 5) == {"channel": "heartbeat"}
    assert await receive(ws, within=HEARTBEAT_INTERVAL * 5) == {"channel": "heartbeat"}


async def test_numbers_keep_their_exact_digits(ws: ClientConnection, sim: Simulator, ws_token: str) -> None:
    await subscribe(ws, ws_token)
    amount = Decimal("12345678.1234567891")
    assert str(float(amount)) != str(amount)  # a float on the way would lose the last digit
    [entry] = await sim.deposit("BTC", amount)

    raw = await asyncio.wait_for(ws.recv(), 2)
    assert '"amount":12345678.1234567891,' in raw
    assert f'"balance":{entry.balance}}}' in raw
    [data] = json.loads(raw, parse_float=Decimal)["data"]
    assert data["amount"] == amount
    assert data["balance"] == sim.account.totals()["BTC"]


async def test_an_asset_never_held_first_appears_in_an_update(
    ws: ClientConnection, sim: Simulator, ws_token: str
) -> None:
    _, snapshot = await subscribe(ws, ws_token)
    assert "LINK" not in {item["asset"] for item in snapshot["data"]}

    await sim.deposit("LINK", Decimal("2.5"))
    await sim.withdraw("LINK", Decimal("2.5"))

    updates = [(await receive(ws))["data"][0] for _ in range(2)]
    assert [
        (data["asset"], data["wallet_type"], data["type"], data["amount"], data["balance"]) for data in updates
    ] == [
        ("LINK", "spot", "deposit", Decimal("2.5"), Decimal("2.5")),
        ("LINK", "spot", "withdrawal", Decimal("-2.5"), 0),
    ]


async def test_unsubscribe_stops_updates(ws: ClientConnection, sim: Simulator, ws_token: str) -> None:
    await subscribe(ws, ws_token)
    params = {"channel": "balances", "token": ws_token}
    ack = await request(ws, {"method": "unsubscribe", "params": params, "req_id": 3})
    assert (ack["method"], ack["result"], ack["success"], ack["req_id"]) == (
        "unsubscribe",
        {"channel": "balances"},
        True,
        3,
    )

    await sim.step()
    assert sim.updates_sent == 0
    again = await request(ws, {"method": "unsubscribe", "params": params})
    assert again["success"] is False


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (
            {"method": "subscribe", "params": {"channel": "ticker", "symbol": ["BTC/USD"]}},
            "Try ws.kraken.com",
        ),
        ({"method": "subscribe", "params": {"channel": "orders", "token": "t"}}, "Channel not supported: orders"),
        ({"method": "subscribe"}, "Invalid params"),
        ({"method": "add_order", "params": {}}, "Method not found: add_order"),
    ],
)
async def test_unsupported_requests_get_clear_errors(
    ws: ClientConnection, message: dict[str, object], error: str
) -> None:
    await receive(ws)
    reply = await request(ws, {**message, "req_id": 9})
    assert (reply["method"], reply["success"], reply["status"], reply["req_id"]) == (
        message["method"],
        False,
        "error",
        9,
    )
    assert error in reply["error"]


async def test_malformed_frames_get_an_error(ws: ClientConnection) -> None:
    await receive(ws)
    await ws.send("not json")
    reply = await receive(ws)
    assert reply["success"] is False
    assert "Malformed request" in reply["error"]


async def test_duplicate_subscription_is_refused(ws: ClientConnection, ws_token: str) -> None:
    await subscribe(ws, ws_token)
    again = await request(ws, {"method": "subscribe", "params": {"channel": "balances", "token": ws_token}})
    assert again["error"] == "Already subscribed"


async def test_every_subscriber_gets_every_update(sim: Simulator, ws_token: str) -> None:
    async with connect(sim.ws_private_url) as first, connect(sim.ws_private_url) as second:
        await subscribe(first, ws_token)
        await subscribe(second, ws_token)
        entries = [entry for _ in range(5) for entry in await sim.step()]
        for client in (first, second):
            ids = [(await receive(client))["data"][0]["ledger_id"] for _ in entries]
            assert ids == [entry.ledger_id for entry in entries]
        assert sim.updates_sent == 2 * len(entries)


async def test_dropped_clients_miss_activity_until_they_resubscribe(sim: Simulator, ws_token: str) -> None:
    async with connect(sim.ws_private_url) as first:
        await subscribe(first, ws_token)
        assert await sim.drop_clients() == 1
        missed = await sim.step()
        with pytest.raises(ConnectionClosed) as closed:
            await receive(first)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1001
    assert sim.updates_sent == 0
    assert missed

    async with connect(sim.ws_private_url) as again:
        _, snapshot = await subscribe(again, ws_token)
        assert snapshot["sequence"] == 1
        assert {item["asset"]: item["balance"] for item in snapshot["data"]} == sim.account.totals()
