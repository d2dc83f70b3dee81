"""The executions channel: open orders in the snapshot that account for every hold REST reports, and reports
that replay to the account's open orders as it places, fills and cancels them."""

import json
from collections import Counter
from decimal import ROUND_UP, Decimal
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection

from balance_tui.sim import Simulator
from balance_tui.sim.assets import ASSETS, PAIRS

from .clients import Nonces, call_private, receive, request, subscribe

Message = dict[str, Any]


def holds_of(orders: list[Message]) -> dict[str, Decimal]:
    """What open orders hold, as a client would work it out from their terms: a sell holds its quantity of
    the base, a buy its cost in quote (rounded up to the quote's precision)."""
    holds: Counter[str] = Counter()
    for order in orders:
        base, quote = order["symbol"].split("/")
        if order["side"] == "sell":
            holds[base] += order["order_qty"]
        else:
            holds[quote] += ASSETS[quote].quantize(order["order_qty"] * order["limit_price"], ROUND_UP)
    return dict(holds)


async def rest_holds(http: httpx.AsyncClient, sim: Simulator, nonce: Nonces) -> dict[str, Decimal]:
    """Non-zero `hold_trade` from BalanceEx, by WS asset name."""
    result = (await call_private(http, sim, "BalanceEx", nonce()))["result"]
    names = {asset.rest_id: asset.name for asset in ASSETS.values()}
    return {names[key]: Decimal(entry["hold_trade"]) for key, entry in result.items() if Decimal(entry["hold_trade"])}


async def test_ack_carries_valid_params_and_maxratecount(ws: ClientConnection, ws_token: str) -> None:
    await receive(ws)
    ack = await request(
        ws, {"method": "subscribe", "params": {"channel": "executions", "token": ws_token}, "req_id": 4}
    )
    assert ack["result"] == {"channel": "executions", "maxratecount": 125, "snap_orders": True, "snap_trades": False}
    assert (ack["method"], ack["success"], ack["req_id"]) == ("subscribe", True, 4)
    snapshot = await receive(ws)
    assert (snapshot["channel"], snapshot["type"], snapshot["sequence"]) == ("executions", "snapshot", 1)


async def test_snapshot_open_orders_match_the_holds_balance_ex_reports(
    ws: ClientConnection, sim: Simulator, ws_token: str, http: httpx.AsyncClient, nonce: Nonces
) -> None:
    for _ in range(60):  # orders come and go; holds move with them
        await sim.step()
    _, snapshot = await subscribe(ws, ws_token, "executions")

    orders = snapshot["data"]
    assert [order["order_id"] for order in orders] == [order.order_id for order in sim.account.open_orders]
    assert holds_of(orders) == await rest_holds(http, sim, nonce)
    for order in orders:
        assert (order["order_type"], order["order_status"], order["time_in_force"]) == ("limit", "new", "GTC")
        assert order["symbol"] in PAIRS
        assert order["cum_qty"] == 0


async def updates_until_pong(ws: ClientConnection) -> list[Message]:
    """Every update queued so far: a ping's pong is queued after them, so read up to it."""
    await ws.send(json.dumps({"method": "ping"}))
    frames = []
    while (frame := await receive(ws)).get("method") != "pong":
        if frame.get("channel") != "heartbeat":
            frames.append(frame)
    return frames


async def test_updates_replay_to_the_open_orders_and_holds(
    ws: ClientConnection, sim: Simulator, ws_token: str, http: httpx.AsyncClient, nonce: Nonces
) -> None:
    _, snapshot = await subscribe(ws, ws_token, "executions")
    orders = {order["order_id"]: order for order in snapshot["data"]}
    for _ in range(300):
        await sim.step()
    updates = await updates_until_pong(ws)

    assert [frame["sequence"] for frame in updates] == list(range(2, len(updates) + 2))
    kinds: Counter[str] = Counter()
    for frame in updates:
        [report] = frame["data"]
        kinds[report["exec_type"]] += 1
        match report["exec_type"]:
            case "pending_new":
                orders[report["order_id"]] = report
            case "filled" | "canceled":
                del orders[report["order_id"]]
    assert kinds.keys() == {"pending_new", "new", "trade", "filled", "canceled"}
    assert kinds["pending_new"] == kinds["new"]
    assert kinds["trade"] == kinds["filled"]
    assert list(orders) == [order.order_id for order in sim.account.open_orders]
    resting = [order for order in orders.values() if order["order_type"] == "limit"]
    assert holds_of(resting) == await rest_holds(http, sim, nonce)


async def test_a_trade_report_matches_its_ledger_legs(ws: ClientConnection, sim: Simulator, ws_token: str) -> None:
    await subscribe(ws, ws_token, "executions", snap_orders=False)
    await request(ws, {"method": "subscribe", "params": {"channel": "balances", "token": ws_token, "snapshot": False}})
    while not any(entry.type == "trade" for entry in await sim.step()):
        pass
    frames = await updates_until_pong(ws)

    ledger = [frame["data"][0] for frame in frames if frame["channel"] == "balances"]
    trades = [frame["data"][0] for frame in frames if frame["channel"] == "executions"]
    trade = next(report for report in trades if report["exec_type"] == "trade")
    base, quote = [entry for entry in ledger if entry["ref_id"] == trade["exec_id"]]
    assert trade["symbol"] == f"{base['asset']}/{quote['asset']}"
    assert abs(base["amount"]) == trade["last_qty"]
    assert abs(quote["amount"]) == trade["cost"]
    assert trade["fees"] == [{"asset": quote["asset"], "qty": quote["fee"]}]
    assert (base["amount"] > 0) == (trade["side"] == "buy")
    assert isinstance(trade["trade_id"], int)
    assert trade["liquidity_ind"] in {"m", "t"}


async def test_order_status_false_leaves_out_pending_new(ws: ClientConnection, sim: Simulator, ws_token: str) -> None:
    await receive(ws)
    params = {"channel": "executions", "token": ws_token, "order_status": False, "snap_orders": False}
    ack = await request(ws, {"method": "subscribe", "params": params})
    assert ack["result"]["snap_orders"] is False
    for _ in range(100):
        await sim.step()
    updates = await updates_until_pong(ws)
    assert updates[0]["sequence"] == 1  # no snapshot was asked for
    kinds = {frame["data"][0]["exec_type"] for frame in updates}
    assert "new" in kinds
    assert "pending_new" not in kinds


async def test_snap_trades_lists_recent_fills_newest_first(ws: ClientConnection, sim: Simulator, ws_token: str) -> None:
    for _ in range(150):
        await sim.step()
    ack, snapshot = await subscribe(ws, ws_token, "executions", snap_orders=False, snap_trades=True)
    assert (ack["result"]["snap_orders"], ack["result"]["snap_trades"]) == (False, True)
    fills = sim.account.recent_fills
    assert len(fills) == 50
    assert [report["exec_id"] for report in snapshot["data"]] == [fill.fill.exec_id for fill in fills if fill.fill]
    assert {report["exec_type"] for report in snapshot["data"]} == {"trade"}
    times = [report["timestamp"] for report in snapshot["data"]]
    assert times == sorted(times, reverse=True)


async def test_refusals_name_the_channel(ws: ClientConnection, ws_token: str) -> None:
    await receive(ws)
    forged = await request(ws, {"method": "subscribe", "params": {"channel": "executions", "token": "forged"}})
    assert (forged["error"], forged["channel"], forged["success"]) == ("ESession:Invalid session", "executions", False)
    params = {"channel": "executions", "token": ws_token, "snap_orders": "yes"}
    invalid = await request(ws, {"method": "subscribe", "params": params})
    assert invalid["error"] == "Invalid snap_orders: expected a boolean"
