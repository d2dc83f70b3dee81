"""Kraken REST: signed private calls (read-only allow-list), public calls, and the replies the console needs."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from decimal import Decimal
from enum import StrEnum
from typing import Any, NamedTuple
from urllib.parse import urlencode

import httpx

from balance_tui.core.breaker import BreakerOpen, CircuitBreaker
from balance_tui.core.budgets import RestRateCounter
from balance_tui.core.events import (
    AssetSnapshot,
    BalancesSnapshot,
    HoldAmounts,
    HoldsSnapshot,
    Source,
    WalletBalance,
)
from balance_tui.core.exact import EXACT, total
from balance_tui.core.redaction import SECRETS
from balance_tui.kraken.assets import AssetName, normalise
from balance_tui.kraken.credentials import Credentials
from balance_tui.kraken.frames import is_amount
from balance_tui.kraken.nonce import NonceSource
from balance_tui.kraken.signing import sign
from balance_tui.kraken.ticker import Ticker

log = logging.getLogger(__name__)

# A monitor never trades or withdraws: these are the only private endpoints it can sign at all.
READ_ONLY_ENDPOINTS = frozenset({"Balance", "BalanceEx", "GetWebSocketsToken", "Ledgers"})
MAX_BUDGET_WAIT_S = 10.0  # wait this long for the rate budget; longer, and the call is refused
RATE_LIMIT_PAUSE_S = 60.0  # Kraken restricts a key "for a few seconds, longer if you keep calling"
CALL_DEADLINE_S = 15.0  # httpx's read timeout is per read; a dripping server needs an overall bound
HTTP_TIMEOUT = httpx.Timeout(connect=3.0, read=10.0, write=5.0, pool=2.0)
# Every token fetch belongs to a (re)connection, and the feed's reconnect budget spaces those (no faster than
# 0.1/s sustained). Retrying a failed fetch here as well would treble that, and the fetches would then eat the
# REST rate budget the fallback polling needs while the feed is down; counted in the breaker, they would
# pause that polling too. So a failed token fetch is left to the budget: not retried here, not counted there.
RETRIED_BY_THE_FEED = frozenset({"GetWebSocketsToken"})


class ErrorKind(StrEnum):
    """How the console reacts to a failed call, from Kraken's error strings (and the transport's)."""

    FATAL = "fatal"  # bad key, signature or permission: retrying cannot help and risks a lockout
    NONCE = "nonce"  # one retry with a fresh nonce; never replay a signed request
    RATE_LIMIT = "rate_limit"  # back off for at least a minute (the breaker opens)
    TRANSIENT = "transient"  # exchange busy, 5xx, timeout, connection: retry with backoff
    PAUSED = "paused"  # the console itself holds off: breaker open or local rate budget spent
    OTHER = "other"


_KINDS = (
    (("EAPI:Invalid key", "EAPI:Invalid signature", "EGeneral:Permission denied"), ErrorKind.FATAL),
    (("EAPI:Invalid nonce",), ErrorKind.NONCE),
    (("EAPI:Rate limit exceeded", "EGeneral:Temporary lockout", "EService: Throttled"), ErrorKind.RATE_LIMIT),
    (("EService:Unavailable", "EService:Busy", "EGeneral:Internal error"), ErrorKind.TRANSIENT),
)
# Which key permission each endpoint needs, to say so when Kraken answers "Permission denied".
_PERMISSIONS = {
    "Balance": "Query Funds",
    "BalanceEx": "Query Funds",
    "GetWebSocketsToken": "WebSocket interface",
    "Ledgers": "Query Ledger Entries",
}


class ExtendedBalances(NamedTuple):
    """One `BalanceEx` reply: totals as a snapshot tagged `rest`, and what open orders hold."""

    balances: BalancesSnapshot
    holds: HoldsSnapshot


class KrakenError(Exception):
    """Kraken answered with a non-empty `error` array, or the call failed before Kraken could answer."""

    def __init__(self, method: str, errors: list[str], kind: ErrorKind | None = None) -> None:
        message = f"{method}: {', '.join(errors)}"
        if any(e.startswith("EGeneral:Permission denied") for e in errors) and method in _PERMISSIONS:
            message += f" (the API key needs the '{_PERMISSIONS[method]}' permission)"
        super().__init__(message)
        self.method = method
        self.errors = errors
        self.kind = kind or next(
            (k for prefixes, k in _KINDS if any(e.startswith(prefixes) for e in errors)), ErrorKind.OTHER
        )

    @property
    def fatal(self) -> bool:
        return self.kind is ErrorKind.FATAL


def counts_against_breaker(exc: Exception) -> bool:
    """The breaker opens on the exchange failing, not on our own key or request being wrong, nor on a call the
    feed's reconnect budget already spaces (a rate limit still counts: it is the whole key's)."""
    if not isinstance(exc, KrakenError):
        return False
    if exc.method in RETRIED_BY_THE_FEED:
        return exc.kind is ErrorKind.RATE_LIMIT
    return exc.kind in (ErrorKind.TRANSIENT, ErrorKind.RATE_LIMIT)


class KrakenRest:
    """Every call but the start-up `Assets` passes the local rate budget and the circuit breaker, whoever
    makes it."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        credentials: Credentials,
        nonces: NonceSource,
        *,
        breaker: CircuitBreaker | None = None,
        rate: RestRateCounter | None = None,
        retry_delays: tuple[float, ...] = (0.5, 2.0),
        deadline_s: float = CALL_DEADLINE_S,
    ) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._credentials = credentials
        self._nonces = nonces
        self.breaker = breaker or CircuitBreaker("rest", is_failure=counts_against_breaker)
        self.rate = rate or RestRateCounter()
        self._retry_delays = retry_delays  # for transient failures; the last failure is raised
        self._deadline_s = deadline_s
        self.calls = 0  # requests sent, retries included
        self._pairs: dict[str, str] | None = None  # WS v2 symbol -> REST pair name, from AssetPairs once

    async def private(self, method: str, **params: str) -> Any:
        """Sign and send; retry an invalid nonce once (re-signed) and transient failures with backoff (except for
        the calls RETRIED_BY_THE_FEED)."""
        if method not in READ_ONLY_ENDPOINTS:
            raise PermissionError(
                f"{method} is not a read-only endpoint; this console signs only {sorted(READ_ONLY_ENDPOINTS)}"
            )
        return await self._guarded(method, lambda: self._signed(method, params))

    async def public(self, method: str, **params: str) -> Any:
        """A public call (no key), through the same breaker, retried as a private one. It waits for the rate
        budget, so it yields to the private calls, but is not counted in it: Kraken counts only those."""
        return await self._guarded(method, lambda: self._unsigned(method, params))

    async def _guarded(self, method: str, send: Callable[[], Awaitable[Any]]) -> Any:
        delays = iter(() if method in RETRIED_BY_THE_FEED else self._retry_delays)
        nonce_retried = False
        while True:
            try:
                await self._within_budget(method)
                return await self.breaker.call(send)
            except BreakerOpen as exc:
                message = f"REST paused after repeated failures; next try in {exc.retry_in:.0f} s"
                raise KrakenError(method, [message], ErrorKind.PAUSED) from None
            except KrakenError as exc:
                if exc.kind is ErrorKind.RATE_LIMIT:
                    self.rate.mark_exhausted()
                    self.breaker.trip(RATE_LIMIT_PAUSE_S)
                if exc.kind is ErrorKind.NONCE and not nonce_retried:
                    nonce_retried = True
                    continue
                delay = next(delays, None) if exc.kind is ErrorKind.TRANSIENT else None
                if delay is None:
                    raise
                log.warning("%s; retrying in %g s", exc, delay)
                await asyncio.sleep(delay)

    async def _within_budget(self, method: str) -> None:
        wait = self.rate.wait_time(method)
        if wait > MAX_BUDGET_WAIT_S:
            raise KrakenError(method, [f"rate budget spent; next call allowed in {wait:.0f} s"], ErrorKind.PAUSED)
        if wait > 0:
            await asyncio.sleep(wait)

    async def _signed(self, method: str, params: dict[str, str]) -> Any:
        self.rate.record(method)
        self.calls += 1
        path = f"/0/private/{method}"
        nonce = self._nonces.next()
        body = urlencode({"nonce": nonce, **params})
        headers = {
            "API-Key": self._credentials.api_key.get_secret_value(),
            "API-Sign": sign(path, nonce, body, self._credentials.api_secret.get_secret_value()),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        return await self._call(method, "POST", path, content=body, headers=headers)

    async def _unsigned(self, method: str, params: dict[str, str]) -> Any:
        self.calls += 1
        return await self._call(method, "GET", f"/0/public/{method}", params=params)

    async def asset_decimals(self) -> dict[str, int]:
        """Each asset's record-keeping precision, from the public `Assets` call (no key needed)."""
        result = await self._call("Assets", "GET", "/0/public/Assets")
        if not isinstance(result, dict):
            raise KrakenError("Assets", ["result is not an object"])
        decimals = {}
        for key, info in result.items():
            places = info.get("decimals") if isinstance(info, dict) else None
            if not isinstance(places, int) or isinstance(places, bool) or not 0 <= places <= 18:
                raise KrakenError("Assets", [f"{_shown(key)}.decimals: expected a whole number 0-18, got {places!r}"])
            decimals[_asset(key, "Assets").asset] = places
        return decimals

    async def websockets_token(self) -> str:
        """A token to subscribe with. A transient failure is raised at once: the feed's next reconnect retries."""
        result = await self.private("GetWebSocketsToken")
        token = result.get("token") if isinstance(result, dict) else None
        if not isinstance(token, str) or not token:
            raise KrakenError("GetWebSocketsToken", ["reply has no token"])
        SECRETS.add(token)
        return token

    async def fetch_balances(self) -> ExtendedBalances:
        """Every asset's total (wallets by REST key, earn suffixes folded into their asset) and its holds."""
        result = await self.private("BalanceEx")
        if not isinstance(result, dict):
            raise KrakenError("BalanceEx", ["result is not an object"])
        wallets: dict[str, list[WalletBalance]] = {}
        holds: dict[str, HoldAmounts] = {}
        for key, entry in result.items():
            if not isinstance(entry, dict):
                raise KrakenError("BalanceEx", [f"{_shown(key)}: expected an object, got {entry!r:.60}"])
            name = _asset(key, "BalanceEx")
            amount = _amount(entry, "balance", key)
            wallets.setdefault(name.asset, []).append(WalletBalance(name.wallet_type, name.wallet_id, amount))
            hold = HoldAmounts(*(_amount(entry, field, key) for field in ("hold_trade", "credit", "credit_used")))
            before = holds.get(name.asset, HoldAmounts())
            holds[name.asset] = HoldAmounts(
                EXACT.add(before.hold_trade, hold.hold_trade),
                EXACT.add(before.credit, hold.credit),
                EXACT.add(before.credit_used, hold.credit_used),
            )
        assets = tuple(
            AssetSnapshot(asset, total(w.balance for w in held), tuple(held)) for asset, held in sorted(wallets.items())
        )
        return ExtendedBalances(BalancesSnapshot(assets, sequence=0, source=Source.REST), HoldsSnapshot(holds))

    async def tickers(self, symbols: Iterable[str]) -> list[Ticker]:
        """The level-1 ticker of each WS v2 symbol ("BTC/USD") that Kraken lists, from the public `Ticker` call.
        REST names pairs its own way (XXBTZUSD): the names come from `AssetPairs`, read once."""
        if self._pairs is None:
            self._pairs = await self._pair_names()
        asked = {self._pairs[symbol]: symbol for symbol in symbols if symbol in self._pairs}
        if not asked:
            return []
        result = await self.public("Ticker", pair=",".join(asked))
        if not isinstance(result, dict):
            raise KrakenError("Ticker", ["result is not an object"])
        return [_ticker(key, entry, asked) for key, entry in result.items()]

    async def _pair_names(self) -> dict[str, str]:
        result = await self.public("AssetPairs")
        if not isinstance(result, dict):
            raise KrakenError("AssetPairs", ["result is not an object"])
        names: dict[str, str] = {}
        for key, info in result.items():
            base, quote = (info.get(side) if isinstance(info, dict) else None for side in ("base", "quote"))
            if isinstance(base, str) and isinstance(quote, str) and "." not in key:  # not a dark pool's ".d"
                names.setdefault(f"{normalise(base).asset}/{normalise(quote).asset}", key)
        return names

    async def _call(self, method: str, verb: str, path: str, **request: Any) -> Any:
        try:
            async with asyncio.timeout(self._deadline_s):
                response = await self._http.request(verb, self._base_url + path, **request)
        except TimeoutError:
            raise KrakenError(
                method, [f"no complete reply within {self._deadline_s:g} s"], ErrorKind.TRANSIENT
            ) from None
        except httpx.HTTPError as exc:
            raise KrakenError(method, [f"{type(exc).__name__}: {exc}"], ErrorKind.TRANSIENT) from None
        # A 5xx without Kraken's envelope is the edge (CDN, load balancer) failing: transient.
        failed = ErrorKind.TRANSIENT if response.status_code >= 500 else ErrorKind.OTHER
        try:
            envelope = json.loads(response.content, parse_float=Decimal)
        except (ValueError, ArithmeticError, RecursionError) as exc:
            raise KrakenError(method, [f"HTTP {response.status_code}, reply {_undecodable(exc)}"], failed) from None
        if not isinstance(envelope, dict) or not isinstance(envelope.get("error"), list):
            raise KrakenError(method, [f"HTTP {response.status_code}, reply is not in Kraken's envelope"], failed)
        if envelope["error"]:
            raise KrakenError(method, [str(e) for e in envelope["error"]])
        return envelope.get("result")


def _undecodable(exc: Exception) -> str:
    """Why a reply could not be decoded, for the message."""
    if isinstance(exc, ArithmeticError):  # Decimal refuses a number such as 1E1000000000000000000
        return "holds a number beyond any amount"
    if isinstance(exc, RecursionError):
        return "is nested too deeply to be Kraken's"
    return "is not JSON"  # not JSON, not UTF-8, or an integer too long to convert


def _asset(key: str, method: str) -> AssetName:
    """A balance or asset key as the books name it; one that names nothing (empty, control characters) is
    refused, since the store keys balances by it."""
    name = normalise(key)
    if not (name.asset and key.isprintable()):
        raise KrakenError(method, [f"{_shown(key)}: not an asset name"])
    return name


def _shown(key: str) -> str:
    """A key from a reply as a message shows it: quoted where it is odd, and never more than 40 characters."""
    return key if key.isprintable() and len(key) <= 40 else repr(key[:40])


# What Kraken writes for an amount in a string: plain ASCII decimals. Decimal() also takes spaces,
# underscores, exponents, NaN and other scripts' digits ("١٢٣" is 123 to it); none of those is Kraken's.
_AMOUNT_TEXT = re.compile(r"-?[0-9]{1,40}(?:\.[0-9]{1,40})?")


def _decimal(value: object) -> Decimal | None:
    """An amount as Kraken writes one, in a string (live API) or a number (its published examples); else None."""
    if isinstance(value, str):
        amount = Decimal(value) if _AMOUNT_TEXT.fullmatch(value) else None
    elif isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        amount = Decimal(value)
    else:
        amount = None
    return amount if amount is not None and is_amount(amount) else None


def _amount(entry: dict[str, Any], name: str, key: str) -> Decimal:
    value = entry.get(name, "0")
    if (amount := _decimal(value)) is None:
        raise KrakenError("BalanceEx", [f"{_shown(key)}.{name}: expected a decimal amount, got {value!r:.60}"])
    return amount


def _ticker(key: str, entry: object, asked: dict[str, str]) -> Ticker:
    """One pair of a `Ticker` reply: `c` is the last trade, `b` and `a` the best bid and ask, each an array
    whose first item is the price."""
    if key not in asked:
        raise KrakenError("Ticker", [f"{_shown(key)}: a pair not asked for"])
    if not isinstance(entry, dict):
        raise KrakenError("Ticker", [f"{_shown(key)}: expected an object, got {entry!r:.60}"])
    prices = []
    for field in ("c", "b", "a"):
        value = entry.get(field)
        price = _decimal(value[0]) if isinstance(value, list) and value else None
        if price is None or price <= 0:
            raise KrakenError("Ticker", [f"{_shown(key)}.{field}: expected [price, ...], got {value!r:.60}"])
        prices.append(price)
    last, bid, ask = prices
    return Ticker(asked[key], bid=bid, ask=ask, last=last)
