"""Kraken REST: signed private calls (read-only allow-list) and the replies the console needs."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import httpx

from balance_tui.core.events import HoldAmounts, HoldsSnapshot
from balance_tui.kraken.assets import normalise
from balance_tui.kraken.credentials import Credentials
from balance_tui.kraken.nonce import NonceSource
from balance_tui.kraken.signing import sign

# A monitor never trades or withdraws: these are the only private endpoints it can sign at all.
READ_ONLY_ENDPOINTS = frozenset({"Balance", "BalanceEx", "GetWebSocketsToken", "Ledgers"})
CALL_DEADLINE_S = 15.0  # httpx's read timeout is per read; a dripping server needs an overall bound
HTTP_TIMEOUT = httpx.Timeout(connect=3.0, read=10.0, write=5.0, pool=2.0)


# Retrying these cannot help and repeats lead Kraken to lock the key out: show them and stop.
FATAL_ERRORS = ("EAPI:Invalid key", "EAPI:Invalid signature", "EGeneral:Permission denied")


class KrakenError(Exception):
    """Kraken answered with a non-empty `error` array, or not in its envelope at all."""

    def __init__(self, method: str, errors: list[str]) -> None:
        super().__init__(f"{method}: {', '.join(errors)}")
        self.method = method
        self.errors = errors

    @property
    def fatal(self) -> bool:
        return any(e.startswith(FATAL_ERRORS) for e in self.errors)


class KrakenRest:
    def __init__(self, http: httpx.AsyncClient, base_url: str, credentials: Credentials, nonces: NonceSource) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._credentials = credentials
        self._nonces = nonces

    async def private(self, method: str, **params: str) -> Any:
        if method not in READ_ONLY_ENDPOINTS:
            raise PermissionError(
                f"{method} is not a read-only endpoint; this console signs only {sorted(READ_ONLY_ENDPOINTS)}"
            )
        path = f"/0/private/{method}"
        nonce = self._nonces.next()
        body = urlencode({"nonce": nonce, **params})
        headers = {
            "API-Key": self._credentials.api_key.get_secret_value(),
            "API-Sign": sign(path, nonce, body, self._credentials.api_secret.get_secret_value()),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        return await self._call(method, "POST", path, content=body, headers=headers)

    async def websockets_token(self) -> str:
        result = await self.private("GetWebSocketsToken")
        token = result.get("token") if isinstance(result, dict) else None
        if not isinstance(token, str) or not token:
            raise KrakenError("GetWebSocketsToken", ["reply has no token"])
        return token

    async def balance_ex(self) -> HoldsSnapshot:
        """Per-asset holds, summed over REST keys that name the same asset (e.g. an earn wallet's key)."""
        result = await self.private("BalanceEx")
        if not isinstance(result, dict):
            raise KrakenError("BalanceEx", ["result is not an object"])
        totals: dict[str, HoldAmounts] = {}
        for key, entry in result.items():
            if not isinstance(entry, dict):
                raise KrakenError("BalanceEx", [f"{key}: expected an object, got {entry!r}"])
            hold = HoldAmounts(*(_amount(entry, name, key) for name in ("hold_trade", "credit", "credit_used")))
            asset = normalise(key).asset
            before = totals.get(asset, HoldAmounts())
            totals[asset] = HoldAmounts(
                before.hold_trade + hold.hold_trade,
                before.credit + hold.credit,
                before.credit_used + hold.credit_used,
            )
        return HoldsSnapshot(totals)

    async def _call(self, method: str, verb: str, path: str, **request: Any) -> Any:
        try:
            async with asyncio.timeout(CALL_DEADLINE_S):
                response = await self._http.request(verb, self._base_url + path, **request)
        except TimeoutError:
            raise KrakenError(method, [f"no complete reply within {CALL_DEADLINE_S:g} s"]) from None
        except httpx.HTTPError as exc:
            raise KrakenError(method, [f"{type(exc).__name__}: {exc}"]) from None
        try:
            envelope = json.loads(response.content, parse_float=Decimal)
        except ValueError:
            raise KrakenError(method, [f"HTTP {response.status_code}, reply is not JSON"]) from None
        if not isinstance(envelope, dict) or not isinstance(envelope.get("error"), list):
            raise KrakenError(method, [f"HTTP {response.status_code}, reply is not in Kraken's envelope"])
        if envelope["error"]:
            raise KrakenError(method, [str(e) for e in envelope["error"]])
        return envelope.get("result")


def _amount(entry: dict[str, Any], name: str, key: str) -> Decimal:
    """BalanceEx amounts arrive as strings (live API) or numbers (Kraken's published example)."""
    value = entry.get(name, "0")
    try:
        amount = Decimal(value) if isinstance(value, (str, int, Decimal)) and not isinstance(value, bool) else None
    except ArithmeticError:
        amount = None
    if amount is None or not amount.is_finite():
        raise KrakenError("BalanceEx", [f"{key}.{name}: expected a decimal amount, got {value!r}"])
    return amount
