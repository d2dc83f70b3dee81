"""Kraken's WebSocket v2 endpoints as the simulator serves them: connections, requests, status and heartbeats.

An `Endpoint` is one URL path with the channels it serves; it refuses the other host's channels with Kraken's
own wrong-endpoint text. Every connection has its own bounded outbox drained by its own writer task, so
publishing never waits on a socket: a client that falls too far behind is disconnected with 1008 instead of
being allowed to stall the exchange or grow its queue without limit. The writer is also where the
connection faults (drop, silence, oversize) strike, after the data frame that triggers them; a hang-up strikes
right after the handshake, before any frame.
"""

import asyncio
import json
import secrets
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

from starlette.responses import PlainTextResponse
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from balance_tui.sim.faults import Faults, Fired
from balance_tui.sim.tasks import cancel_and_wait
from balance_tui.sim.wire import dumps, rfc3339

PRIVATE_ON_PUBLIC = "Private data and trading are unavailable on this endpoint. Try ws-auth.kraken.com"
PUBLIC_ON_PRIVATE = "Public market data subscriptions are unavailable on this endpoint. Try ws.kraken.com"
PUBLIC_CHANNELS = frozenset({"book", "instrument", "level3", "ohlc", "ticker", "trade"})
PRIVATE_CHANNELS = frozenset({"balances", "executions"})

_HEARTBEAT = dumps({"channel": "heartbeat"})
_TOO_SLOW = "client too slow: outgoing queue overflowed"

Message = dict[str, Any]


class Refused(Exception):
    """A request answered with an error reply: `error` is its message, `fields` extra keys (e.g. symbol)."""

    def __init__(self, error: str, **fields: object) -> None:
        super().__init__(error)
        self.error = error
        self.fields = fields


@dataclass(frozen=True)
class _Close:
    """Outbox marker: close the socket with this code and reason instead of sending anything more."""

    code: int
    reason: str


class _Abort:
    """Outbox marker: end the connection without a close frame (the client sees 1006)."""


@dataclass(frozen=True)
class _Frame:
    text: str
    data: bool  # a channel snapshot or update: what the connection faults count


class Connection:
    """One client: its bounded outbox, the loop that writes it out, and whether it gets heartbeats."""

    def __init__(
        self,
        websocket: WebSocket,
        faults: Faults,
        on_closing: Callable[["Connection"], None],
        *,
        outbox_size: int,
        heartbeat_interval: float,
    ) -> None:
        self._websocket = websocket
        self._faults = faults
        self._on_closing = on_closing
        self._outbox: asyncio.Queue[_Frame | _Close | _Abort] = asyncio.Queue(outbox_size)
        self._heartbeat_interval = heartbeat_interval
        self._closing = False
        self._silent = False
        self._data_frames = 0
        self.connection_id = 2**63 + 1 + secrets.randbelow(2**63 - 1)  # real ids exceed 2**63
        self.heartbeats = False  # once subscribed to something, as on Kraken

    def send(self, frame: Message | str, *, data: bool = False) -> bool:
        """Queue a frame without waiting; `data` marks a channel snapshot or update. False if it was
        dropped: the client is being disconnected, either already or now, because its outbox is full."""
        if self._closing:
            return False
        try:
            self._outbox.put_nowait(_Frame(frame if isinstance(frame, str) else dumps(frame), data))
        except asyncio.QueueFull:
            self.close(1008, _TOO_SLOW)
            return False
        return True

    def close(self, code: int, reason: str) -> None:
        """Drop whatever is still queued and have the writer close the socket next."""
        self._end(_Close(code, reason))

    def abort(self) -> None:
        """Drop whatever is still queued and have the writer end the connection without a close frame."""
        self._end(_Abort())

    def _end(self, marker: _Close | _Abort) -> None:
        if self._closing:
            return
        self._closing = True
        while not self._outbox.empty():
            self._outbox.get_nowait()
        self._outbox.put_nowait(marker)
        self._on_closing(self)

    async def write(self) -> None:
        """Drain the outbox onto the socket, sending a heartbeat whenever a subscribed client has had
        nothing for a heartbeat interval. Returns once the connection is closed or aborted."""
        try:
            while True:
                try:
                    async with asyncio.timeout(self._heartbeat_interval):
                        item = await self._outbox.get()
                except TimeoutError:
                    if self.heartbeats and not self._silent:
                        await self._websocket.send_text(_HEARTBEAT)
                    continue
                match item:
                    case _Close(code, reason):
                        await self._websocket.close(code, reason)
                        return
                    case _Abort():
                        return
                    case _Frame(text, data) if not self._silent:
                        await self._websocket.send_text(text)
                        if data:
                            await self._after_data_frame()
        except WebSocketDisconnect:
            return

    async def _after_data_frame(self) -> None:
        """Apply the connection faults whose turn this data frame is: oversize, then silence, then drop."""
        self._data_frames += 1
        faults, count = self._faults, self._data_frames
        if faults.oversize_every and count % faults.oversize_every == 0:
            faults.fired[Fired.OVERSIZE] += 1
            await self._websocket.send_text(faults.oversized_frame())
        if faults.silence_every and count % faults.silence_every == 0:
            faults.fired[Fired.SILENCE] += 1
            self._silent = True
        if faults.drop_every and count % faults.drop_every == 0:
            code = faults.next_drop()
            if code is None:
                self.abort()
            else:
                self.close(code, "")


class Channel(Protocol):
    """A channel an endpoint serves; it keeps its own subscriptions, keyed by connection."""

    name: str

    def subscribe(self, connection: Connection, request: Message, time_in: datetime) -> None: ...

    def unsubscribe(self, connection: Connection, request: Message, time_in: datetime) -> None: ...

    def has(self, connection: Connection) -> bool: ...

    def forget(self, connection: Connection) -> None: ...


class Endpoint:
    """One WS v2 path: status on connect and on change, ping, heartbeats, and its channels' requests.
    `foreign` is the other host's channels and Kraken's text refusing them here; `requests` counts the
    requests received, by method."""

    def __init__(
        self,
        path: str,
        channels: Iterable[Channel],
        foreign: tuple[frozenset[str], str],
        faults: Faults,
        requests: Counter[str],
        *,
        heartbeat_interval: float,
        outbox_size: int,
    ) -> None:
        self._channels = {channel.name: channel for channel in channels}
        self._foreign_channels, self._foreign_error = foreign
        self._faults = faults
        self._requests = requests
        self._heartbeat_interval = heartbeat_interval
        self._outbox_size = outbox_size
        self._connections: set[Connection] = set()
        self.route = WebSocketRoute(path, self._serve)

    def push_status(self) -> None:
        """Tell every client the system status (Kraken pushes it whenever the engine state changes)."""
        for connection in list(self._connections):
            connection.send(self._status(connection))

    def drop_clients(self) -> int:
        """Disconnect every client as a network drop would (1001 going away); returns how many.

        Nothing more is queued to them from this call on, so activity after it is what they missed."""
        connections = list(self._connections)
        for connection in connections:
            connection.close(1001, "going away")
        return len(connections)

    async def _serve(self, websocket: WebSocket) -> None:
        if (status := self._faults.take_refusal()) is not None:
            await websocket.send_denial_response(_denial(status))
            return
        await websocket.accept()
        if self._faults.take_hang_up():
            await websocket.close(1012)
            return
        connection = Connection(
            websocket,
            self._faults,
            self._forget,
            outbox_size=self._outbox_size,
            heartbeat_interval=self._heartbeat_interval,
        )
        self._connections.add(connection)
        connection.send(self._status(connection))
        writer = asyncio.create_task(connection.write(), name="sim-ws-writer")
        reader = asyncio.create_task(self._read(connection, websocket), name="sim-ws-reader")
        try:
            # The writer ends on a close or abort, the reader when the client goes: either ends the session.
            await asyncio.wait({writer, reader}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._forget(connection)
            await cancel_and_wait(reader)
            await cancel_and_wait(writer)

    async def _read(self, connection: Connection, websocket: WebSocket) -> None:
        """Answer requests until the client goes. It never stops reading, even on a silent connection, so
        WebSocket protocol pings keep being answered."""
        while (message := await websocket.receive())["type"] == "websocket.receive":
            self._handle(connection, message.get("text"), datetime.now(UTC))

    def _forget(self, connection: Connection) -> None:
        """The connection is going: no channel sends it anything more."""
        self._connections.discard(connection)
        for channel in self._channels.values():
            channel.forget(connection)

    def _handle(self, connection: Connection, text: str | None, time_in: datetime) -> None:
        try:
            request = json.loads(text, parse_float=Decimal) if text is not None else None
        except ValueError:
            request = None
        if not isinstance(request, dict):
            connection.send(error_reply({}, time_in, "Malformed request: expected a JSON object in a text frame"))
            return
        self._requests[str(request.get("method"))] += 1
        try:
            match request.get("method"):
                case "ping":
                    connection.send(reply(request, time_in, method="pong"))
                case "subscribe":
                    self._channel(request).subscribe(connection, request, time_in)
                case "unsubscribe":
                    self._channel(request).unsubscribe(connection, request, time_in)
                case method:
                    raise Refused(f"Method not found: {method}")
        except Refused as refusal:
            connection.send(error_reply(request, time_in, refusal.error, **refusal.fields))
        connection.heartbeats = any(channel.has(connection) for channel in self._channels.values())

    def _channel(self, request: Message) -> Channel:
        params = request.get("params")
        if not isinstance(params, dict):
            raise Refused("Invalid params: expected an object")
        name = params.get("channel")
        if name in self._foreign_channels:
            raise Refused(self._foreign_error)
        if not isinstance(name, str) or name not in self._channels:
            raise Refused(f"Channel not supported: {name}")
        return self._channels[name]

    def _status(self, connection: Connection) -> Message:
        data = {
            "api_version": "v2",
            "connection_id": connection.connection_id,
            "system": str(self._faults.system_status),
            "version": "2.0.0",
        }
        return {"channel": "status", "type": "update", "data": [data]}


def reply(request: Message, time_in: datetime, **fields: object) -> Message:
    """A method response: echoes the method (unless `fields` rename it) and req_id (only if one was sent)."""
    answer: Message = {"method": request["method"]} if "method" in request else {}
    answer |= fields
    answer |= {"time_in": rfc3339(time_in), "time_out": rfc3339(datetime.now(UTC))}
    if "req_id" in request:
        answer["req_id"] = request["req_id"]
    return answer


def error_reply(request: Message, time_in: datetime, error: str, **fields: object) -> Message:
    return reply(request, time_in, error=error, status="error", success=False, **fields)


def _denial(status: int) -> PlainTextResponse:
    """What an overloaded edge answers a handshake with: a plain HTTP error, Retry-After on a 429."""
    headers = {"Retry-After": "1"} if status == 429 else None
    return PlainTextResponse(f"{status} refused by the simulator's fault injection", status, headers)
