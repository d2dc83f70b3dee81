"""Kraken's REST API as the simulator serves it: the private balance calls, and the public calls that
clients make before them.

Every reply is HTTP 200 in Kraken's envelope, so clients must decide success from the `error` array as
they must on the real exchange; only injected faults (`Faults.fail_rest`) answer otherwise. Balances are
decimal strings at each asset's precision.
"""

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from http import HTTPStatus

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Route

from balance_tui.sim.account import DemoAccount, WalletKey
from balance_tui.sim.assets import (
    ASSETS,
    EARN_SUFFIXES,
    MAKER_FEE_PERCENT,
    PAIRS,
    TAKER_FEE_PERCENT,
    Asset,
    Pair,
    rest_key,
)
from balance_tui.sim.auth import TOKEN_LIFETIME_SECONDS, AuthError, RequestVerifier, TokenRegistry
from balance_tui.sim.faults import Faults, RestFailure
from balance_tui.sim.market import Ticker, Tickers
from balance_tui.sim.wire import dumps

_KRAKEN_ERRORS = {
    RestFailure.INVALID_NONCE: "EAPI:Invalid nonce",
    RestFailure.RATE_LIMIT: "EAPI:Rate limit exceeded",
    RestFailure.LOCKOUT: "EGeneral:Temporary lockout",
}

Params = Mapping[str, str]


class _Refused(Exception):
    """A public call's parameters name something the exchange does not list: its Kraken error string."""


class RestApi:
    """Routes for `/0/private/<Method>` (signed POST) and `/0/public/<Method>` (GET or POST)."""

    def __init__(
        self, account: DemoAccount, verifier: RequestVerifier, tokens: TokenRegistry, faults: Faults, tickers: Tickers
    ) -> None:
        self._account = account
        self._tickers = tickers
        self._verifier = verifier
        self._tokens = tokens
        self._faults = faults
        self._private: dict[str, Callable[[], dict[str, object]]] = {
            "Balance": self._balance,
            "BalanceEx": self._balance_ex,
            "GetWebSocketsToken": self._websockets_token,
        }
        self._public: dict[str, Callable[[Params], dict[str, object]]] = {
            "Time": _time,
            "SystemStatus": self._system_status,
            "Assets": self._assets,
            "AssetPairs": _asset_pairs,
            "Ticker": self._ticker,
        }
        self.routes = [
            Route("/0/private/{method}", self._handle_private, methods=["POST"]),
            Route("/0/public/{method}", self._handle_public, methods=["GET", "POST"]),
        ]

    async def _handle_private(self, request: Request) -> Response:
        failure = self._faults.take_rest_failure(request.path_params["method"])
        if failure is not None and failure is not RestFailure.DRIP:
            return await _fail(request, failure)
        envelope = await self._serve_private(request)
        if failure is RestFailure.DRIP:
            return _drip(envelope, self._faults.drip_interval)
        return _json(envelope)

    async def _serve_private(self, request: Request) -> str:
        handler = self._private.get(request.path_params["method"])
        if handler is None:
            return _error("EGeneral:Unknown method")
        try:
            self._verifier.verify(
                request.url.path,
                request.headers.get("API-Key"),
                request.headers.get("API-Sign"),
                await request.body(),
                request.headers.get("Content-Type", ""),
            )
        except AuthError as error:
            return _error(str(error))
        return _result(handler())

    async def _handle_public(self, request: Request) -> Response:
        handler = self._public.get(request.path_params["method"])
        if handler is None:
            return _json(_error("EGeneral:Unknown method"))
        try:
            return _json(_result(handler(request.query_params)))
        except _Refused as refused:
            return _json(_error(str(refused)))

    def _balance(self) -> dict[str, object]:
        """Each wallet's total under its REST key (earn wallets under a suffixed key, e.g. DOT.S)."""
        return {
            self._rest_key(wallet): self._text(wallet, amount) for wallet, amount in self._account.wallets().items()
        }

    def _balance_ex(self) -> dict[str, object]:
        """Each wallet's total and what open orders hold of it; only spot wallets hold anything."""
        holds = self._account.holds()
        return {
            self._rest_key(wallet): {
                "balance": self._text(wallet, amount),
                "hold_trade": self._text(wallet, holds[wallet.asset] if wallet.type == "spot" else Decimal(0)),
            }
            for wallet, amount in self._account.wallets().items()
        }

    def _rest_key(self, wallet: WalletKey) -> str:
        return rest_key(self._account.assets[wallet.asset], wallet.type, wallet.id)

    def _text(self, wallet: WalletKey, amount: Decimal) -> str:
        """A decimal string at the asset's full precision, as Kraken writes balances ("1.2000000000")."""
        return format(self._account.assets[wallet.asset].quantize(amount), "f")

    def _assets(self, params: Params) -> dict[str, object]:
        """Every asset the account can hold by REST ID, plus each earn product under its suffixed key (which is
        also its altname)."""
        listed = {asset.rest_id: _asset_info(asset, asset.altname) for asset in self._account.assets.values()}
        for name, wallet_id in EARN_SUFFIXES:
            key = rest_key(ASSETS[name], "earn", wallet_id)
            listed[key] = _asset_info(ASSETS[name], key)
        return _chosen(listed, params.get("asset"), "EQuery:Unknown asset")

    def _websockets_token(self) -> dict[str, object]:
        token = self._tokens.issue()
        if self._faults.take_spoiled_token():
            self._tokens.revoke(token)
        return {"token": token, "expires": TOKEN_LIFETIME_SECONDS}

    def _ticker(self, params: Params) -> dict[str, object]:
        """Level 1 of each pair asked for (every pair without `pair=`), the same figures the WS ticker shows."""
        pairs = {pair.key: pair for pair in PAIRS.values()}
        chosen = _chosen({key: {"altname": pair.altname} for key, pair in pairs.items()}, params.get("pair"), _NO_PAIR)
        return {key: _ticker_info(self._tickers[pairs[key].symbol]) for key in chosen}

    def _system_status(self, _params: Params) -> dict[str, object]:
        timestamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"status": str(self._faults.system_status), "timestamp": timestamp}


async def _fail(request: Request, failure: RestFailure) -> Response:
    """Answer as the failure says, without serving the call (so its nonce is not used up)."""
    if failure in _KRAKEN_ERRORS:
        return _json(_error(_KRAKEN_ERRORS[failure]))
    if failure is RestFailure.HANG:
        while (await request.receive())["type"] != "http.disconnect":
            pass  # the body; then nothing until the client gives up
        return Response(status_code=HTTPStatus.GATEWAY_TIMEOUT)  # never delivered: the client is gone
    status = HTTPStatus(int(failure))
    return HTMLResponse(f"<html><body><h1>{status.value} {status.phrase}</h1></body></html>", status.value)


def _drip(body: str, interval: float) -> StreamingResponse:
    """A reply one byte at a time: a client's per-read timeout never fires, only an overall deadline."""

    async def trickle() -> AsyncIterator[bytes]:
        for byte in body.encode():
            yield bytes((byte,))
            await asyncio.sleep(interval)

    return StreamingResponse(trickle(), media_type="application/json")


def _result(result: dict[str, object]) -> str:
    return dumps({"error": [], "result": result})


def _error(error: str) -> str:
    return dumps({"error": [error]})


def _json(envelope: str) -> Response:
    return Response(envelope, media_type="application/json")


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _time(_params: Params) -> dict[str, object]:
    """Server time; `rfc1123` in Kraken's own form with a two-digit year, e.g. "Sun, 21 Mar 21 14:23:14 +0000"
    (names spelled out here so the process locale cannot change them)."""
    now = datetime.now(UTC)
    rfc1123 = f"{_WEEKDAYS[now.weekday()]}, {now:%d} {_MONTHS[now.month - 1]} {now:%y %H:%M:%S} +0000"
    return {"unixtime": int(now.timestamp()), "rfc1123": rfc1123}


def _asset_info(asset: Asset, altname: str) -> dict[str, object]:
    return {
        "aclass": "currency",
        "altname": altname,
        "decimals": asset.decimals,
        "display_decimals": asset.display_decimals,
        "status": "enabled",
    }


_NO_PAIR = "EQuery:Unknown asset pair"


def _asset_pairs(params: Params) -> dict[str, object]:
    listed = {pair.key: _pair_info(pair) for pair in PAIRS.values()}
    return _chosen(listed, params.get("pair"), _NO_PAIR)


def _ticker_info(ticker: Ticker) -> dict[str, object]:
    """REST's ticker: arrays of decimal strings where WS v2 has named numbers. Ask and bid carry whole-lot and
    lot volume; today and the last 24 hours are one window here, and the last trade's volume is not kept."""
    ask, bid, last = (format(x, "f") for x in (ticker.ask, ticker.bid, ticker.last))
    volume, vwap, low, high = (format(x, "f") for x in (ticker.volume, ticker.vwap, ticker.low, ticker.high))
    return {
        "a": [ask, str(int(ticker.ask_qty)), format(ticker.ask_qty, "f")],
        "b": [bid, str(int(ticker.bid_qty)), format(ticker.bid_qty, "f")],
        "c": [last, "0"],
        "v": [volume, volume],
        "p": [vwap, vwap],
        "l": [low, low],
        "h": [high, high],
        "o": format(ticker.last - ticker.change, "f"),
    }


def _chosen(listed: dict[str, dict[str, object]], asked: str | None, unknown: str) -> dict[str, object]:
    """Kraken's `asset=` / `pair=` filter: a comma-separated list of keys or altnames (XXBT or XBT,
    XXBTZUSD or XBTUSD); a single name it does not list refuses the whole call."""
    if not asked:
        return dict(listed)
    by_name = {str(info["altname"]): key for key, info in listed.items()} | {key: key for key in listed}
    try:
        return {by_name[name]: listed[by_name[name]] for name in asked.split(",")}
    except KeyError:
        raise _Refused(unknown) from None


def _pair_info(pair: Pair) -> dict[str, object]:
    return {
        "altname": pair.altname,
        "wsname": pair.wsname,
        "aclass_base": "currency",
        "base": pair.base.rest_id,
        "aclass_quote": "currency",
        "quote": pair.quote.rest_id,
        "lot": "unit",
        "cost_decimals": pair.quote.decimals,
        "pair_decimals": pair.pair_decimals,
        "lot_decimals": pair.lot_decimals,
        "lot_multiplier": 1,
        "leverage_buy": [],
        "leverage_sell": [],
        "fees": [[0, TAKER_FEE_PERCENT]],
        "fees_maker": [[0, MAKER_FEE_PERCENT]],
        "fee_volume_currency": "ZUSD",
        "margin_call": 80,
        "margin_stop": 40,
        "ordermin": format(pair.ordermin, "f"),
        "costmin": format(pair.costmin, "f"),
        "tick_size": format(pair.tick, "f"),
        "status": "online",
    }
