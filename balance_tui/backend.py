"""The one composition root: config -> exchange (built-in simulator or Kraken) + store + engine + feed.

The TUI, the headless commands and the tests all open a backend here; none wires the parts by hand.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import platformdirs
from sqlalchemy import Engine

from balance_tui.config import APP_NAME, Config
from balance_tui.core import Balance, BalanceManager, Clock, SystemClock
from balance_tui.core.breaker import CircuitBreaker
from balance_tui.core.budgets import RATE_TIERS, ReconnectBudget, RestRateCounter
from balance_tui.core.cache import BalanceCache
from balance_tui.core.guard import TradeGuard
from balance_tui.core.history import BalanceHistory
from balance_tui.core.orders import OpenOrders
from balance_tui.core.prices import PriceBook, symbols_for
from balance_tui.core.validator import BalanceValidator, Rule, Severity, ValidatorConfig
from balance_tui.kraken.credentials import Credentials
from balance_tui.kraken.nonce import NonceSource, PersistentNonceSource
from balance_tui.kraken.rest import HTTP_TIMEOUT, KrakenError, KrakenRest, counts_against_breaker
from balance_tui.kraken.rest_ticker import RestTicker
from balance_tui.kraken.stream import BalanceStream
from balance_tui.kraken.ticker import TickerStream
from balance_tui.store import books, sessions
from balance_tui.store.engine import database_url, is_read_only
from balance_tui.store.history import HistoryWriter
from balance_tui.store.migrate import open_store
from balance_tui.store.sessions import OpenedSession
from balance_tui.store.tables import SessionStatus, TradingSession

if TYPE_CHECKING:
    from balance_tui.sim import Simulator

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Backend:
    config: Config
    manager: BalanceManager
    rest: KrakenRest
    stream: BalanceStream
    store: Engine
    opened: OpenedSession | None  # the trading session this console owns; None for observers and read-only
    exchange_label: str  # what the operator is looking at: "simulator (loopback)" or the REST host
    simulator: Simulator | None  # the built-in exchange, when that is what the config names
    history_writer: HistoryWriter | None  # balance samples and ledger entries on their way to the store
    prices: PriceBook  # from the public ticker, to value every balance in [engine] value_in
    public_url: str
    listed_symbols: list[str] | None  # pairs the exchange lists, when known (else refusals prune)
    session_lost: bool = False  # another console took the session over (its owner stopped heartbeating)
    ticker: TickerStream | None = None  # started once the first snapshot says which assets are held
    rest_prices: RestTicker | None = None  # the prices once the ticker feed has failed for good
    ending: SessionStatus = SessionStatus.CLOSED  # how the owned session ends when the backend closes

    @property
    def session(self) -> TradingSession | None:
        return None if self.opened is None else self.opened.session

    @property
    def read_only(self) -> bool:
        return is_read_only(self.store)

    async def run(self) -> None:
        """The feed, the engine's supervisor (REST fallback, validation) and the session's heartbeat, until
        cancelled or until the feed stops for good (its health says why). Cancelled, all stop at once: a quit
        waits out one close handshake (the balances and the ticker feeds close side by side), not each in turn."""
        feed = asyncio.create_task(self.stream.run(), name="balances-feed")
        tasks = [
            feed,
            asyncio.create_task(self.manager.run(), name="engine-supervisor"),
            asyncio.create_task(self._follow_prices(), name="ticker"),
        ]
        if self.opened is not None and self.opened.owned:
            tasks.append(asyncio.create_task(self._heartbeat(self.opened.session), name="session-heartbeat"))
        try:
            await asyncio.wait([feed])  # a cancel lands here, leaving the feed to the finally below
            feed.result()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _follow_prices(self) -> None:
        """Keep the ticker on the pairs that value what the account holds, as new assets come; runs until
        cancelled. An asset dropping to zero keeps its pairs: it may come back, and they may bridge others.
        A ticker feed that fails for good hands its pairs to REST `Ticker`, polled slowly from then on."""
        await self.manager.wait_for_snapshot()
        quote, listed = self.config.engine.value_in, self.listed_symbols
        held = {asset for asset, balance in self.manager.get_all_balances().items() if balance.total}
        self.ticker = ticker = TickerStream(self.prices, self.public_url, symbols_for(sorted(held), quote, listed))

        def on_balance(balance: Balance) -> None:
            # On the feed's hot path: a set lookup, and the ticker's own task does the subscribing.
            if balance.total and balance.asset not in held:
                held.add(balance.asset)
                ticker.watch(symbols_for([balance.asset], quote, listed))

        self.manager.register_callback("balance_update", on_balance)
        await ticker.run()  # returns only once the feed has failed for good
        self.rest_prices = RestTicker(self.prices, self.rest, lambda: ticker.symbols)
        log.warning(
            "ticker feed failed (%s): prices from REST Ticker every %g s", ticker.health.error, self.rest_prices.every_s
        )
        await self.rest_prices.run()

    async def _heartbeat(self, session: TradingSession) -> None:
        """Tell other consoles this session's owner is alive; stop if one of them has taken it over."""
        every = self.config.store.session_lease_s / 3
        while True:
            await asyncio.sleep(every)
            if not await asyncio.to_thread(sessions.heartbeat, self.store, session, now=self.manager.clock.now()):
                self.session_lost = True
                log.error("session %s was taken over by another console", session.id)
                return


@asynccontextmanager
async def open_backend(
    config: Config,
    credentials: Credentials | None = None,
    *,
    clock: Clock | None = None,
    reconnect_budget: ReconnectBudget | None = None,
    rest_rate: RestRateCounter | None = None,
    own_session: bool = True,
) -> AsyncIterator[Backend]:
    """Start everything the config names; on exit close the trading session and stop what was started.

    Only an owner (the console an operator runs) opens or resumes the trading session and closes it on
    exit; an observer such as `status --once` must never close the session from under a running console.

    The feed is not started here: callers run `backend.run()` where they want it (a TUI worker, a
    headless task), so cancelling it is theirs to do and to await. `reconnect_budget` and `rest_rate`
    replace the ones the config implies (tests relax them to drive hundreds of reconnects).
    """
    async with AsyncExitStack() as stack:
        # The store opens in a thread (a new one is migrated: the longest step of a start after the imports)
        # while the exchange side starts and says which assets it lists. One that cannot be opened
        # (StoreUnavailable) still stops the start before the feed, the history writer or a session run.
        opening = asyncio.create_task(
            asyncio.to_thread(open_store, database_url(config.database_url), read_only=config.store.read_only)
        )
        stack.push_async_callback(_dispose_when_open, opening)
        exchange = config.exchange
        simulator: Simulator | None = None
        clock = clock or SystemClock()
        if exchange.name == "sim":
            from balance_tui.sim import Simulator  # its server (uvicorn) only when it is the exchange
            from balance_tui.sim.assets import PAIRS

            # On the console's clock: the ledger entries it makes are stamped as the engine sees time pass.
            simulator = Simulator(
                seed=config.sim.seed, updates_per_second=config.sim.updates_per_second, clock=clock.now
            )
            await simulator.start()
            stack.push_async_callback(simulator.stop)
            rest_url, ws_url = simulator.rest_url, simulator.ws_private_url
            credentials = Credentials.of(simulator.api_key, simulator.api_secret)
            nonces = NonceSource()  # the simulator's key lives no longer than this process
            label, mode = "simulator (loopback)", "paper"
            public_url, listed = simulator.ws_public_url, list(PAIRS)
        else:
            if credentials is None:
                raise ValueError("exchange.name is 'kraken': credentials are required")
            rest_url, ws_url = exchange.rest_url, exchange.ws_private_url
            # Kraken keeps one nonce mark per API key: every process using the key shares this directory.
            nonce_dir = Path(platformdirs.user_state_dir(APP_NAME)) / "nonces"
            nonces = PersistentNonceSource(nonce_dir, credentials.api_key.get_secret_value())
            label, mode = httpx.URL(rest_url).host, "live"
            public_url, listed = exchange.ws_public_url, None

        # In a thread: the client loads the CA bundle for TLS, ~0.1 s the loop would otherwise stand still.
        http = await stack.enter_async_context(await asyncio.to_thread(httpx.AsyncClient, timeout=HTTP_TIMEOUT))
        breaker = CircuitBreaker("rest", is_failure=counts_against_breaker, clock=clock)
        rate = rest_rate or RestRateCounter(RATE_TIERS[config.rest.tier], clock=clock)
        rest = KrakenRest(http, rest_url, credentials, nonces, breaker=breaker, rate=rate)
        decimals = await _asset_decimals(rest)
        manager = build_manager(config, clock, rest, breaker, rate, decimals)
        stream = BalanceStream(manager, rest, ws_url, stale_after_s=config.feed.stale_after_s, budget=reconnect_budget)
        store = await opening

        opened, writer = None, None
        if own_session and not config.store.read_only:
            writer = HistoryWriter(
                store, retention=timedelta(hours=config.store.history_retention_hours), clock=clock.now
            )
            writer.start()
            stack.callback(writer.close)  # registered after dispose, so it runs first: the last batch is written
            manager.register_callback("balance_update", writer.record_balance)
            manager.register_callback("ledger_entry", writer.record_ledger)
            await asyncio.to_thread(_remember_assets, store, decimals)
            starting = asyncio.ensure_future(
                asyncio.to_thread(
                    sessions.resume_or_start,
                    store,
                    exchange=exchange.name,
                    mode=mode,
                    now=clock.now(),
                    rules=sessions.SessionRules.of(config.store),
                )
            )
            try:
                opened = await asyncio.shield(starting)
            except asyncio.CancelledError:
                # A quit during start-up: the thread commits the session all the same, so close it here.
                started = await starting
                if started.owned:
                    await asyncio.to_thread(sessions.close, store, started.session, now=clock.now())
                raise
            log.info("%s", opened.describe())
        backend = Backend(
            config, manager, rest, stream, store, opened, label, simulator, writer, PriceBook(clock), public_url, listed
        )
        if opened is not None and opened.owned:
            owned = opened.session
            stack.push_async_callback(
                lambda: asyncio.to_thread(sessions.close, store, owned, now=clock.now(), status=backend.ending)
            )
        yield backend


def build_manager(
    config: Config,
    clock: Clock,
    rest: KrakenRest,
    breaker: CircuitBreaker,
    rate: RestRateCounter,
    decimals: dict[str, int],
) -> BalanceManager:
    """The engine with every component tuned from the config; `decimals` per asset (Kraken's Assets) feed
    the precision rule and round what open buy orders hold."""
    return BalanceManager(
        clock,
        source=rest,
        breaker=breaker,
        rate=rate,
        cache=BalanceCache(ttl=config.cache.ttl_s, max_entries=config.cache.max_entries, clock=clock),
        history=BalanceHistory(
            max_entries_per_asset=config.history.max_entries_per_asset,
            retention=timedelta(hours=config.history.retention_hours),
            change_threshold=config.engine.change_threshold,
            clock=clock,
        ),
        validator=_validator(config, decimals),
        orders=OpenOrders(decimals),
        guard=TradeGuard(
            minimums=config.guard.minimums,
            safety_buffer=config.guard.safety_buffer,
            max_position_share=config.guard.max_position_share,
            max_age=timedelta(seconds=config.guard.max_data_age_s),
        ),
        stale_after=timedelta(seconds=config.feed.stale_after_s),
        fallback_poll=timedelta(seconds=config.engine.fallback_poll_s),
    )


def _validator(config: Config, decimals: dict[str, int]) -> BalanceValidator:
    rules = config.validation
    thresholds = {
        Rule.SOURCE_INCONSISTENCY: {
            "relative_threshold": rules.inconsistency_threshold,
            "fresh_within": timedelta(seconds=rules.inconsistency_fresh_s),
        },
        Rule.UNREALISTIC_BALANCE: {"default_ceiling": rules.ceiling, "ceilings": rules.ceilings},
        Rule.STALE_DATA: {"max_age": timedelta(seconds=rules.stale_after_s)},
        Rule.PRECISION_OVERFLOW: {"decimals": decimals},
        Rule.LOW_BALANCE: {"floors": rules.low_balance},
    }
    defaults = ValidatorConfig()
    tuned = {
        rule.value: replace(
            defaults.rule(rule),
            enabled=rule.value not in rules.disabled,
            severity=Severity(rules.severity.get(rule.value, defaults.rule(rule).severity)),
            **thresholds.get(rule, {}),
        )
        for rule in Rule
    }
    return BalanceValidator(ValidatorConfig(**tuned))


def _remember_assets(store: Engine, decimals: dict[str, int]) -> None:
    """Keep the exchange's asset list in the store: the books (and `balance-tui adjust`, with no console
    asking the exchange) then know every asset it lists. Names too long for the books are left out."""
    fits = {asset: places for asset, places in decimals.items() if len(asset) <= books.MAX_ASSET}
    if skipped := sorted(decimals.keys() - fits.keys()):
        log.warning("assets with names over %d characters are not in the books: %s", books.MAX_ASSET, skipped)
    books.register_assets(store, fits)


async def _dispose_when_open(opening: asyncio.Task[Engine]) -> None:
    """On the way out, close the store if it opened; if it did not, the start has already failed with why."""
    await asyncio.wait([opening])
    if not opening.cancelled() and opening.exception() is None:
        opening.result().dispose()


async def _asset_decimals(rest: KrakenRest) -> dict[str, int]:
    """Kraken's precision per asset, for the precision rule; without it that one rule stays idle."""
    try:
        return await rest.asset_decimals()
    except KrakenError as exc:
        log.warning("asset precision unavailable, precision_overflow checks are off: %s", exc)
        return {}
