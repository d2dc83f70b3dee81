"""Kraken's private WebSocket v2 endpoint as the simulator serves it: status, ping and the balances channel.

Every client has its own bounded outbox drained by its own writer task, so publishing a ledger entry never
waits on a socket. A client that falls too far behind is disconnected with 1008 instead of being allowed to
stall the exchange or grow its queue without limit.
"""

import asyncio
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from balance_tui.core.events import LedgerEntry
from balance_tui.sim.account import DemoAccount
from balance_tui.sim.auth import TokenRegistry
from balance_tui.sim.tasks import cancel_and_wait
from balance_tui.sim.wire import dumps, rfc3339

_HEARTBEAT = dumps({"channel": "heartbeat"})
_PUBLIC_CHANNELS = frozenset({"book", "instrument", "ohlc", "ticker", "trade"})
_PUBLIC_ON_PRIVATE = "Public market data subscriptions are unavailable on this endpoint. Try ws.kraken.com"
_TOO_SLOW = "client too slow: outgoing queue overflowed"

Message = dict[str, Any]


class _Refused(Exception):
    """A request answered with an error reply; the message is the reply's `error`."""


@dataclass(frozen=True)
class _Close:
    """Outbox marker: close the socket with this code and reason instead of sending anything more."""

    code: int
    reason: str


class _Client:
    """One connection: its bounded outbox, the loop that writes it out, and its balances subscription."""

    def __init__(self, websocket: WebSocket, outbox_size: int, heartbeat_interval: float) -> None:
        self._websocket = websocket
        self._outbox: asyncio.Queue[str | _Close] = asyncio.Queue(outbox_size)
        self._heartbeat_interval = heartbeat_interval
        self._closing = False
        self.sequence: int | None = None  # last balances sequence sent; None while not subscribed

    def send(self, message: Message) -> bool:
        """Queue a message without waiting. False if it was dropped: the client is being disconnected,
        either already or now, because its outbox is full."""
        if self._closing:
            return False
        try:
            self._outbox.put_nowait(dumps(message))
        except asyncio.QueueFull:
            self.close(1008, _TOO_SLOW)
            return False
        return True

    def send_balances(self, kind: str, data: list[Message]) -> bool:
        """Queue a balances frame under this subscription's next sequence number."""
        assert self.sequence is not None, "not subscribed to balances"
        self.sequence += 1
        return self.send({"channel": "balances", "type": kind, "data": data, "sequence": self.sequence})

    def close(self, code: int, reason: str) -> None:
        """Drop whatever is still queued and have the writer close the socket next."""
        if self._closing:
            return
        self._closing = True
        while not self._outbox.empty():
            self._outbox.get_nowait()
        self._outbox.put_nowait(_Close(code, reason))

    async def write(self) -> None:
        """Drain the outbox onto the socket, sending a heartbeat whenever a subscribed client has had
        nothing for a heartbeat interval."""
        try:
            while True:
                try:
                    async with asyncio.timeout(self._heartbeat_interval):
                        item = await self._outbox.get()
                except TimeoutError:
                    if self.sequence is not None:
                        await self._websocket.send_text(_HEARTBEAT)
                    continue
                if isinstance(item, _Close):
                    await self._websocket.close(item.code, item.reason)
                    return
                await self._websocket.send_text(item)
        except WebSocketDisconnect:
            return


class PrivateFeed:
    """The `/v2` endpoint: answers requests and streams the account's ledger entries to subscribers."""

    def __init__(
        self, account: DemoAccount, tokens: TokenRegistry, *, heartbeat_interval: float, outbox_size: int
    ) -> None:
        self._account = account
        self._tokens = tokens
        self._heartbeat_interval = heartbeat_interval
        self._outbox_size = outbox_size
        self._clients: set[_Client] = set()
        self._subscribers: set[_Client] = set()
        self.route = WebSocketRoute("/v2", self._serve)

    def publish(self, entries: Iterable[LedgerEntry]) -> int:
        """Queue each entry as its own update frame for every subscriber; returns the frames queued."""
        queued = 0
        for entry in entries:
            data = [_update(entry)]
            queued += sum(client.send_balances("update", data) for client in self._subscribers)
        return queued

    def drop_clients(self) -> int:
        """Disconnect every client as a network drop would (1001 going away); returns how many.

        Nothing more is queued to them from this call on, so activity after it is what they missed."""
        for client in self._clients:
            client.close(1001, "going away")
        return len(self._clients)

    async def _serve(self, websocket: WebSocket) -> None:
        await websocket.accept()
        client = _Client(websocket, self._outbox_size, self._heartbeat_interval)
        client.send(_status())
        writer = asyncio.create_task(client.write(), name="sim-ws-writer")
        self._clients.add(client)
        try:
            while (message := await websocket.receive())["type"] == "websocket.receive":
                self._handle(client, message.get("text"), datetime.now(UTC))
        finally:
            self._clients.discard(client)
            self._subscribers.discard(client)
            await cancel_and_wait(writer)

    def _handle(self, client: _Client, text: str | None, time_in: datetime) -> None:
        try:
            request = json.loads(text, parse_float=Decimal) if text is not None else None
        except ValueError:
            request = None
        if not isinstance(request, dict):
            client.send(_error({}, time_in, "Malformed request: expected a JSON object in a text frame"))
            return
        try:
            match request.get("method"):
                case "ping":
                    client.send(_reply(request, time_in, method="pong"))
                case "subscribe":
                    self._subscribe(client, request, time_in)
                case "unsubscribe":
                    self._unsubscribe(client, request, time_in)
                case method:
                    raise _Refused(f"Method not found: {method}")
        except _Refused as refusal:
            client.send(_error(request, time_in, str(refusal)))

    def _subscribe(self, client: _Client, request: Message, time_in: datetime) -> None:
        snapshot = self._balances_params(request).get("snapshot", True)
        if not isinstance(snapshot, bool):
            raise _Refused("Invalid snapshot: expected a boolean")
        if client.sequence is not None:
            raise _Refused("Already subscribed")
        # The ack carries valid subscribe params only: clients replay it verbatim to resubscribe.
        client.send(_reply(request, time_in, result={"channel": "balances", "snapshot": snapshot}, success=True))
        client.sequence = 0
        if snapshot:
            client.send_balances("snapshot", self._snapshot())
        self._subscribers.add(client)

    def _unsubscribe(self, client: _Client, request: Message, time_in: datetime) -> None:
        self._balances_params(request)
        if client.sequence is None:
            raise _Refused("Subscription Not Found")
        self._subscribers.discard(client)
        client.sequence = None
        client.send(_reply(request, time_in, result={"channel": "balances"}, success=True))

    def _balances_params(self, request: Message) -> Message:
        """The request's params, provided they name the balances channel and carry a valid token."""
        params = request.get("params")
        if not isinstance(params, dict):
            raise _Refused("Invalid params: expected an object")
        channel = params.get("channel")
        if channel in _PUBLIC_CHANNELS:
            raise _Refused(_PUBLIC_ON_PRIVATE)
        if channel != "balances":
            raise _Refused(f"Channel not supported: {channel}")
        if not self._tokens.redeem(params.get("token")):
            raise _Refused("ESession:Invalid session")
        return params

    def _snapshot(self) -> list[Message]:
        """One element per asset: its total and each wallet's balance."""
        wallets: dict[str, list[Message]] = {}
        for wallet, amount in self._account.wallets().items():
            wallets.setdefault(wallet.asset, []).append({"type": wallet.type, "id": wallet.id, "balance": amount})
        totals = self._account.totals()
        return [
            {"asset": asset, "asset_class": "currency", "balance": totals[asset], "wallets": held}
            for asset, held in wallets.items()
        ]


def _status() -> Message:
    connection_id = 2**63 + 1 + secrets.randbelow(2**63 - 1)  # real ids exceed 2**63: clients need big ints
    data = {"api_version": "v2", "connection_id": connection_id, "system": "online", "version": "2.0.0"}
    return {"channel": "status", "type": "update", "data": [data]}


def _update(entry: LedgerEntry) -> Message:
    return {
        "ledger_id": entry.ledger_id,
        "ref_id": entry.ref_id,
        "timestamp": rfc3339(entry.timestamp),
        "type": entry.type,
        "category": entry.category,
        "asset": entry.asset,
        "asset_class": "currency",
        "wallet_type": entry.wallet_type,
        "wallet_id": entry.wallet_id,
        "amount": entry.amount,
        "fee": entry.fee,
        "balance": entry.balance,
    }


def _reply(request: Message, time_in: datetime, **fields: object) -> Message:
    """A method response: echoes the method (unless `fields` rename it) and req_id (only if one was sent)."""
    reply: Message = {"method": request["method"]} if "method" in request else {}
    reply |= fields
    reply |= {"time_in": rfc3339(time_in), "time_out": rfc3339(datetime.now(UTC))}
    if "req_id" in request:
        reply["req_id"] = request["req_id"]
    return reply


def _error(request: Message, time_in: datetime, message: str) -> Message:
    return _reply(request, time_in, error=message, status="error", success=False)
