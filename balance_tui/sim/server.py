"""The simulator as a running server: REST and WS v2 on one loopback port, plus the activity that feeds it.

It runs inside the caller's event loop (the console's, or a test's), so it must leave process-wide state
alone: no signal handlers, no root logging setup, nothing left running after `stop()`.
"""

import asyncio
import base64
import contextlib
import secrets
import socket
from collections.abc import Iterator
from decimal import Decimal
from types import TracebackType
from typing import Self

import uvicorn
from starlette.applications import Starlette

from balance_tui.core.events import LedgerEntry
from balance_tui.sim.account import DemoAccount
from balance_tui.sim.auth import RequestVerifier, TokenRegistry
from balance_tui.sim.rest import RestApi
from balance_tui.sim.tasks import cancel_and_wait
from balance_tui.sim.ws import PrivateFeed

_HOST = "127.0.0.1"
_SHUTDOWN_GRACE_SECONDS = 0.5  # then stop waiting for clients that will not finish closing


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server for someone else's event loop: the host app owns SIGINT/SIGTERM, and `listening`
    tells when connections are being accepted."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self.listening.set()


class Simulator:
    """A Kraken-compatible exchange on loopback, serving one seeded demo account.

    Real clients connect to `rest_url` and `ws_private_url` unchanged and sign with `api_key`/`api_secret`.
    `step()` makes one round of account activity and streams it to every `balances` subscriber; a background
    task does so `updates_per_second` times a second (0: only when `step()` is called). `updates_sent`
    counts the update frames queued so far, one per ledger entry per subscriber.
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
    ) -> None:
        if updates_per_second < 0:
            raise ValueError("updates_per_second must be >= 0")
        self.api_key = api_key or base64.b64encode(secrets.token_bytes(42)).decode()
        self.api_secret = api_secret or base64.b64encode(secrets.token_bytes(64)).decode()
        self.account = DemoAccount(seed)
        self.updates_sent = 0
        self._requested_port = port
        self._updates_per_second = updates_per_second
        tokens = TokenRegistry()
        rest = RestApi(self.account, RequestVerifier({self.api_key: self.api_secret}), tokens)
        self._feed = PrivateFeed(self.account, tokens, heartbeat_interval=heartbeat_interval, outbox_size=outbox_size)
        self._app = Starlette(routes=[*rest.routes, self._feed.route])
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
        return f"ws://{_HOST}:{self.port}/v2"

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
            ws="websockets-sansio",
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
        """One round of account activity, queued to every subscriber as one update frame per ledger entry.

        It never waits for clients: frames are queued, and a subscriber too slow to take them is
        disconnected rather than allowed to hold the exchange back.
        """
        return self._publish(self.account.step())

    async def deposit(self, asset: str, amount: Decimal) -> list[LedgerEntry]:
        """Credit a scripted deposit to the asset's spot wallet and stream it like any other activity."""
        return self._publish(self.account.deposit(asset, amount))

    async def drop_clients(self) -> int:
        """Fault injection: cut every WS client off as a network drop would; returns how many.

        Activity from now on is what they miss until they reconnect and resubscribe."""
        return self._feed.drop_clients()

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
        server.should_exit = True
        done, _ = await asyncio.wait({serving}, timeout=_SHUTDOWN_GRACE_SECONDS)
        if not done:
            server.force_exit = True
            for connection in list(server.server_state.connections):
                connection.transport.abort()  # drop the unflushed close frame rather than leak the socket
        await serving

    def _publish(self, entries: list[LedgerEntry]) -> list[LedgerEntry]:
        self.updates_sent += self._feed.publish(entries)
        return entries

    async def _run_activity(self) -> None:
        interval = 1 / self._updates_per_second
        while True:
            await asyncio.sleep(interval)
            await self.step()
