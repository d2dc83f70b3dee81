"""The one composition root: config -> exchange (built-in simulator or Kraken) + store + engine + feed.

The TUI, the headless commands and the tests all open a backend here; none wires the parts by hand.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import platformdirs

from balance_tui.config import APP_NAME, Config
from balance_tui.core import BalanceManager, Clock
from balance_tui.kraken.credentials import Credentials
from balance_tui.kraken.nonce import NonceSource, PersistentNonceSource
from balance_tui.kraken.rest import HTTP_TIMEOUT, KrakenRest
from balance_tui.kraken.stream import BalanceStream
from balance_tui.sim import Simulator
from balance_tui.store import sessions
from balance_tui.store.engine import create_store_engine
from balance_tui.store.migrate import upgrade
from balance_tui.store.tables import TradingSession


@dataclass(frozen=True, slots=True)
class Backend:
    config: Config
    manager: BalanceManager
    rest: KrakenRest
    stream: BalanceStream
    session: TradingSession | None  # None for observers (headless commands), which own no session
    resumed: bool
    exchange_label: str  # what the operator is looking at: "simulator (loopback)" or the REST host
    simulator: Simulator | None  # the built-in exchange, when that is what the config names


@asynccontextmanager
async def open_backend(
    config: Config,
    credentials: Credentials | None = None,
    *,
    clock: Clock | None = None,
    reconnect_delay: float = 1.0,
    own_session: bool = True,
) -> AsyncIterator[Backend]:
    """Start everything the config names; on exit close the trading session and stop what was started.

    Only an owner (the console an operator runs) opens or resumes the trading session and closes it on
    exit; an observer such as `status --once` must never close the session from under a running console.

    The feed is not started here: callers run `backend.stream.run()` where they want it (a TUI worker,
    a headless task), so cancelling it is theirs to do and to await.
    """
    async with AsyncExitStack() as stack:
        exchange = config.exchange
        simulator: Simulator | None = None
        if exchange.name == "sim":
            simulator = Simulator(seed=config.sim.seed, updates_per_second=config.sim.updates_per_second)
            await simulator.start()
            stack.push_async_callback(simulator.stop)
            rest_url, ws_url = simulator.rest_url, simulator.ws_private_url
            credentials = Credentials.of(simulator.api_key, simulator.api_secret)
            nonces = NonceSource()  # the simulator's key lives no longer than this process
            label, mode = "simulator (loopback)", "paper"
        else:
            if credentials is None:
                raise ValueError("exchange.name is 'kraken': credentials are required")
            rest_url, ws_url = exchange.rest_url, exchange.ws_private_url
            # Kraken keeps one nonce mark per API key: every process using the key shares this directory.
            nonce_dir = Path(platformdirs.user_state_dir(APP_NAME)) / "nonces"
            nonces = PersistentNonceSource(nonce_dir, credentials.api_key.get_secret_value())
            label, mode = httpx.URL(rest_url).host, "live"

        http = await stack.enter_async_context(httpx.AsyncClient(timeout=HTTP_TIMEOUT))
        manager = BalanceManager(clock)
        rest = KrakenRest(http, rest_url, credentials, nonces)
        stream = BalanceStream(
            manager, rest, ws_url, stale_after_s=config.feed.stale_after_s, reconnect_delay=reconnect_delay
        )

        engine = create_store_engine(config.database_url)
        stack.callback(engine.dispose)
        await asyncio.to_thread(upgrade, engine)
        session, resumed = None, False
        if own_session:
            opened = await asyncio.to_thread(
                sessions.resume_or_start, engine, exchange=exchange.name, mode=mode, now=manager.clock.now()
            )
            session, resumed = opened.session, opened.resumed
            stack.push_async_callback(
                lambda: asyncio.to_thread(sessions.close, engine, opened.session, now=manager.clock.now())
            )
        yield Backend(config, manager, rest, stream, session, resumed, label, simulator)
