"""The simulator as a running server: REST and both WS v2 endpoints on one loopback port, plus the activity
that feeds them and the faults that disturb them.

It runs inside the caller's event loop (the console's, or a test's), so it must leave process-wide state
alone: no signal handlers, no root logging setup, nothing left running after `stop()`.
"""

import asyncio
import base64
import contextlib
import math
import secrets
import socket
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from types import TracebackType
from typing import Any, Self

import uvicorn
from starlette.applications import Starlette
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from balance_tui.core.events import LedgerEntry
from balance_tui.sim.account import Activity, DemoAccount
from balance_tui.sim.auth import RequestVerifier, TokenRegistry
from balance_tui.sim.channels import BalancesChannel, ExecutionsChannel, TickerChannel
from balance_tui.sim.faults import Faults, Fired, SystemStatus
from balance_tui.sim.market import Tickers
from balance_tui.sim.rest import RestApi
from balance_tui.sim.tasks import cancel_and_wait
from balance_tui.sim.ws import PRIVATE_CHANNELS, PRIVATE_ON_PUBLIC, PUBLIC_CHANNELS, PUBLIC_ON_PRIVATE, Endpoint

_HOST = "127.0.0.1"
_PRIVATE_PATH, _PUBLIC_PATH = "/v2", "/public/v2"  # ws-auth.kraken.com/v2 and ws.kraken.com/v2
_SHUTDOWN_GRACE_SECONDS = 0.5  # then stop waiting for clients that will not finish closing


class _QuietDenials(WebSocketsSansIOProtocol):
    """uvicorn's websockets-sansio protocol, except that a handshake refused with a denial response (the 429s
    and 503s of `Faults.refuse_handshakes`) counts as complete, as in uvicorn's wsproto protocol. Without
    this, uvicorn (0.54) logs "ASGI callable returned without completing handshake." at ERROR for every
    refusal, into the console's log; the fix upstream is uvicorn PR #3138, open at the time of writing."""

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.http.response.body" and not message.get("more_body", False):
            self.handshake_complete = True


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server for someone else's event loop: the host app owns SIGINT/SIGTERM, `listening` tells
    when connections are being accepted, and `exit()` starts the shutdown at once rather than at uvicorn's
    next 0.1 s tick (tests start and stop a simulator each)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = asyncio.Event()
        self._exiting = asyncio.Event()

    def exit(self) -> None:
        self.should_exit = True
        self._exiting.set()

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000  # uvicorn's own tick arithmetic: headers refresh every 10 ticks
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.1):
                    await self._exiting.wait()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self.listening.set()


class Simulator:
    """A Kraken-compatible exchange on loopback, serving one seeded demo account.

    Real clients connect to `rest_url`, `ws_private_url` (balances, executions) and `ws_public_url` (ticker)
    unchanged and sign with `api_key`/`api_secret`. `step()` makes one round of account activity and streams
    it to every subscriber; a background task does so `updates_per_second` times a second (0: only when
    `step()` is called). `updates_sent` counts the balances update frames queued so far, one per ledger entry
    per subscriber. `requests` counts the WS requests received on either path, by method (`ping`,
    `subscribe`, ...). `faults` says what goes wrong on purpose, and counts what did. `nonce_window` is the
    API key's nonce window, in nonce ticks (0: nonces must strictly increase). `clock` stamps the account's
    ledger entries and orders (the console passes its own, so a frozen clock in a test freezes them too;
    default: the wall clock, UTC).
    """

    def __init__(
        self,
        seed: int = 7,
        port: int = 0,
        api_key: str | None = None,
        api_secret: str | None = None,
        updates_per_second: float = 2.0,
        *,
        heartbeat_interval: float = 1.0,
        outbox_size: int = 4096,
        nonce_window: int = 0,
        faults: Faults | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if not (math.isfinite(updates_per_second) and updates_per_second >= 0):  # nan would sleep(nan), inf spin
            raise ValueError(f"updates_per_second must be a finite number >= 0, not {updates_per_second}")
        self.api_key = api_key or base64.b64encode(secrets.token_bytes(42)).decode()
        self.api_secret = api_secret or base64.b64encode(secrets.token_bytes(64)).decode()
        self.faults = Faults() if faults is None else faults
        dormant = self.faults.many_assets
        self.account = (
            DemoAccount(seed, dormant=dormant) if clock is None else DemoAccount(seed, clock=clock, dormant=dormant)
        )
        self.updates_sent = 0
        self.requests: Counter[str] = Counter()
        self._requested_port = port
        self._updates_per_second = updates_per_second
        self._tickers = Tickers(self.account.market, seed)
        self._tokens = tokens = TokenRegistry()
        self._balances = BalancesChannel(self.account, tokens, self.faults, self._balances_unwatched)
        self._executions = ExecutionsChannel(self.account, tokens, self.faults)
        self._ticker = TickerChannel(self._tickers)
        self._endpoints = tuple(
            Endpoint(
                path,
                channels,
                foreign,
                self.faults,
                self.requests,
                heartbeat_interval=heartbeat_interval,
                outbox_size=outbox_size,
            )
            for path, channels, foreign in (
                (_PRIVATE_PATH, (self._balances, self._executions), (PUBLIC_CHANNELS, PUBLIC_ON_PRIVATE)),
                (_PUBLIC_PATH, (self._ticker,), (PRIVATE_CHANNELS, PRIVATE_ON_PUBLIC)),
            )
        )
        verifier = RequestVerifier({self.api_key: self.api_secret}, nonce_window=nonce_window)
        rest = RestApi(self.account, verifier, tokens, self.faults, self._tickers)
        self._app = Starlette(routes=[*rest.routes, *(endpoint.route for endpoint in self._endpoints)])
        self.faults.watch_status(self._status_changed)
        self._port: int | None = None
        self._server: _EmbeddedServer | None = None
        self._serving: asyncio.Task[None] | None = None
        self._activity: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the simulator is not running; await start() first")
        return self._port

    @property
    def rest_url(self) -> str:
        return f"http://{_HOST}:{self.port}"

    @property
    def ws_private_url(self) -> str:
        return f"ws://{_HOST}:{self.port}{_PRIVATE_PATH}"

    @property
    def ws_public_url(self) -> str:
        return f"ws://{_HOST}:{self.port}{_PUBLIC_PATH}"

    async def start(self) -> None:
        """Bind 127.0.0.1:port (0 picks a free port) and return once connections are accepted."""
        if self._serving is not None:
            raise RuntimeError("the simulator is already running")
        # An explicit IPPROTO_TCP, or asyncio will not set TCP_NODELAY on accepted connections, and every
        # keep-alive request would wait out the peer's delayed ACK (~40 ms).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((_HOST, self._requested_port))
        except OSError:
            sock.close()
            raise
        config = uvicorn.Config(
            self._app,
            lifespan="off",
            http="h11",
            ws=_QuietDenials,
            log_config=None,
            log_level="warning",
            access_log=False,
        )
        server = _EmbeddedServer(config)
        serving = asyncio.create_task(server.serve(sockets=[sock]), name="sim-server")
        listening = asyncio.create_task(server.listening.wait(), name="sim-server-listening")
        try:
            await asyncio.wait({serving, listening}, return_when=asyncio.FIRST_COMPLETED)
            if not server.listening.is_set():
                serving.result()  # raises why the server could not start
                raise RuntimeError("the simulator's server stopped while starting")
        except BaseException:
            await cancel_and_wait(serving)
            sock.close()
            raise
        finally:
            await cancel_and_wait(listening)
        self._server, self._serving = server, serving
        self._port = sock.getsockname()[1]
        if self._updates_per_second:
            self._activity = asyncio.create_task(self._run_activity(), name="sim-activity")

    async def step(self) -> list[LedgerEntry]:
        """One round of account activity and market moves; returns its ledger entries.

        Subscribers get one balances update per ledger entry, one executions update per execution report
        and one ticker update per symbol. It never waits for clients: frames are queued, and a subscriber
        too slow to take them is disconnected rather than allowed to hold the exchange back.
        """
        offline = self.faults.offline_asset
        activity = self.account.step(untouched=() if offline is None else (offline,))
        self._tickers.update()
        self._ticker.publish()
        return self._publish(activity)

    async def deposit(self, asset: str, amount: Decimal) -> list[LedgerEntry]:
        """Credit a scripted deposit to the asset's spot wallet and stream it like any other activity."""
        return self._publish(Activity(tuple(self.account.deposit(asset, amount))))

    async def withdraw(self, asset: str, amount: Decimal) -> list[LedgerEntry]:
        """Debit a scripted withdrawal from the asset's spot wallet and stream it like any other activity."""
        return self._publish(Activity(tuple(self.account.withdraw(asset, amount))))

    async def drop_clients(self) -> int:
        """Fault injection: cut every WS client off (both endpoints) as a network drop would (1001 going
        away); returns how many.

        Activity from now on is what they miss until they reconnect and resubscribe."""
        return sum(endpoint.drop_clients() for endpoint in self._endpoints)

    async def stop(self) -> None:
        """Stop the activity, close every client and the listening socket. Safe to call more than once."""
        activity, server, serving = self._activity, self._server, self._serving
        self._activity = self._server = self._serving = self._port = None
        try:
            if activity is not None:
                await cancel_and_wait(activity)
        finally:
            if server is not None and serving is not None:
                await self._shut_down(server, serving)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.stop()

    @staticmethod
    async def _shut_down(server: _EmbeddedServer, serving: asyncio.Task[None]) -> None:
        """uvicorn sends every client a close frame and waits for the sockets to finish closing; a peer
        that stopped reading would keep it waiting forever, so after a grace period such peers are cut off."""
        server.exit()
        done, _ = await asyncio.wait({serving}, timeout=_SHUTDOWN_GRACE_SECONDS)
        if not done:
            server.force_exit = True
            for connection in list(server.server_state.connections):
                connection.transport.abort()  # drop the unflushed close frame rather than leak the socket
        await serving

    def _publish(self, activity: Activity) -> list[LedgerEntry]:
        self.updates_sent += self._balances.publish(activity.ledger)
        self._executions.publish(activity.executions)
        return list(activity.ledger)

    def _status_changed(self, status: SystemStatus) -> None:
        """Tell every client; maintenance also makes every token stale, as it does on Kraken."""
        if status is SystemStatus.MAINTENANCE:
            self._tokens.revoke_all()
        for endpoint in self._endpoints:
            endpoint.push_status()

    def _balances_unwatched(self) -> None:
        """The last balances subscriber went. Once this turn of the loop is over (it may have been called
        while a frame was being published), move the offline asset, if nobody has subscribed meanwhile."""
        if self.faults.offline_asset is not None:
            asyncio.get_running_loop().call_soon(self._move_offline_asset)

    def _move_offline_asset(self) -> None:
        asset = self.faults.offline_asset
        if asset is None or self._balances.subscribed:
            return
        for _ in range(self.faults.offline_changes):
            self.faults.fired[Fired.OFFLINE] += 1
            self._publish(Activity(tuple(self.account.fund(asset))))

    async def _run_activity(self) -> None:
        interval = 1 / self._updates_per_second
        while True:
            await asyncio.sleep(interval)
            await self.step()
