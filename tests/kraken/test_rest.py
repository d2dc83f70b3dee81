"""The REST client against the real simulator: what it will sign, and how Kraken's answers are read."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest

from balance_tui.core.breaker import BreakerState
from balance_tui.kraken.credentials import Credentials
from balance_tui.kraken.nonce import NonceSource
from balance_tui.kraken.rest import READ_ONLY_ENDPOINTS, ErrorKind, KrakenError, KrakenRest
from balance_tui.sim import RestFailure, Simulator

# Kraken's private REST methods that move money or orders: a monitor must never be able to sign one.
TRADING_AND_FUNDING = [
    "AddOrder", "AddOrderBatch", "AmendOrder", "EditOrder", "CancelOrder", "CancelAll", "CancelAllOrdersAfter",
    "CancelOrderBatch", "Withdraw", "WithdrawCancel", "WalletTransfer", "DepositMethods", "DepositAddresses",
    "WithdrawMethods", "WithdrawAddresses", "Stake", "Unstake", "Earn/Allocate", "Earn/Deallocate",
    "CreateSubaccount", "AccountTransfer", "AddExport", "RemoveExport",
]  # fmt: skip


SECRET = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(seed=3, updates_per_second=0) as sim:
        yield sim


@pytest.fixture
async def requests_seen() -> list[httpx.Request]:
    return []


@pytest.fixture
async def rest(sim: Simulator, requests_seen: list[httpx.Request]) -> AsyncIterator[KrakenRest]:
    async def record(request: httpx.Request) -> None:
        requests_seen.append(request)

    async with httpx.AsyncClient(event_hooks={"request": [record]}) as http:
        yield KrakenRest(http, sim.rest_url, Credentials.of(sim.api_key, sim.api_secret), NonceSource())


@pytest.mark.parametrize("method", TRADING_AND_FUNDING)
async def test_a_trading_or_funding_endpoint_cannot_be_signed(
    rest: KrakenRest, requests_seen: list[httpx.Request], method: str
) -> None:
    with pytest.raises(PermissionError, match=f"{method} is not a read-only endpoint"):
        await rest.private(method)
    assert requests_seen == []


def test_the_allow_list_is_read_only() -> None:
    assert sorted(READ_ONLY_ENDPOINTS) == ["Balance", "BalanceEx", "GetWebSocketsToken", "Ledgers"]


async def test_a_wrong_key_is_fatal_and_not_retried(sim: Simulator, requests_seen: list[httpx.Request]) -> None:
    async def record(request: httpx.Request) -> None:
        requests_seen.append(request)

    async with httpx.AsyncClient(event_hooks={"request": [record]}) as http:
        rest = KrakenRest(http, sim.rest_url, Credentials.of("not-the-key", sim.api_secret), NonceSource())
        with pytest.raises(KrakenError) as caught:
            await rest.fetch_balances()
    assert caught.value.kind is ErrorKind.FATAL and caught.value.errors == ["EAPI:Invalid key"]
    assert len(requests_seen) == 1


async def test_nothing_listening_is_transient_and_retried(requests_seen: list[httpx.Request]) -> None:
    async def record(request: httpx.Request) -> None:
        requests_seen.append(request)

    async with httpx.AsyncClient(event_hooks={"request": [record]}) as http:
        secret = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="
        rest = KrakenRest(http, "http://127.0.0.1:9", Credentials.of("k", secret), NonceSource(), retry_delays=(0, 0))
        with pytest.raises(KrakenError) as caught:
            await rest.fetch_balances()
    assert caught.value.kind is ErrorKind.TRANSIENT
    assert len(requests_seen) == 3  # the first try and two retries
    nonces = [r.content.decode().split("nonce=")[1] for r in requests_seen]
    assert len(set(nonces)) == 3  # every retry is signed anew, never replayed


@pytest.mark.parametrize(
    ("errors", "kind"),
    [
        (["EAPI:Invalid key"], ErrorKind.FATAL),
        (["EAPI:Invalid signature"], ErrorKind.FATAL),
        (["EGeneral:Permission denied"], ErrorKind.FATAL),
        (["EAPI:Invalid nonce"], ErrorKind.NONCE),
        (["EAPI:Rate limit exceeded"], ErrorKind.RATE_LIMIT),
        (["EGeneral:Temporary lockout"], ErrorKind.RATE_LIMIT),
        (["EService: Throttled: 1700000000"], ErrorKind.RATE_LIMIT),
        (["EService:Unavailable"], ErrorKind.TRANSIENT),
        (["EService:Busy"], ErrorKind.TRANSIENT),
        (["EQuery:Unknown asset"], ErrorKind.OTHER),
    ],
)
def test_krakens_error_strings_are_classed(errors: list[str], kind: ErrorKind) -> None:
    assert KrakenError("BalanceEx", errors).kind is kind


def test_permission_denied_names_the_missing_permission() -> None:
    assert "'Query Funds' permission" in str(KrakenError("BalanceEx", ["EGeneral:Permission denied"]))
    assert "'WebSocket interface' permission" in str(KrakenError("GetWebSocketsToken", ["EGeneral:Permission denied"]))


def kraken(sim: Simulator, http: httpx.AsyncClient, **options: object) -> KrakenRest:
    return KrakenRest(http, sim.rest_url, Credentials.of(sim.api_key, sim.api_secret), NonceSource(), **options)


async def test_a_5xx_page_is_retried_and_the_call_succeeds(sim: Simulator) -> None:
    sim.faults.fail_rest(RestFailure.HTTP_503, 2)
    async with httpx.AsyncClient() as http:
        rest = kraken(sim, http, retry_delays=(0, 0))
        reply = await rest.fetch_balances()
    assert {a.asset: a.balance for a in reply.balances.assets} == sim.account.totals()
    assert rest.calls == 3 and rest.breaker.state is BreakerState.CLOSED


async def test_a_failed_token_fetch_is_left_to_the_feed_to_retry_and_to_the_breaker_to_ignore(sim: Simulator) -> None:
    """Every token fetch is part of a reconnect, which the feed's budget spaces: retried here as well, a token
    outage would treble those fetches and, counted in the breaker, pause the REST polling it leaves to show."""
    sim.faults.fail_tokens(RestFailure.HTTP_503, 6)
    async with httpx.AsyncClient() as http:
        rest = kraken(sim, http, retry_delays=(0, 0))
        for _ in range(6):
            with pytest.raises(KrakenError, match="GetWebSocketsToken: HTTP 503") as caught:
                await rest.websockets_token()
            assert caught.value.kind is ErrorKind.TRANSIENT
        assert rest.calls == 6 and rest.breaker.state is BreakerState.CLOSED  # 5 in a row open it otherwise
        await rest.fetch_balances()
        sim.faults.fail_tokens(RestFailure.RATE_LIMIT)
        with pytest.raises(KrakenError):
            await rest.websockets_token()
    assert rest.breaker.state is BreakerState.OPEN  # a rate limit is the whole key's: it still counts


async def test_an_invalid_nonce_gets_exactly_one_re_signed_retry(sim: Simulator) -> None:
    sim.faults.fail_rest(RestFailure.INVALID_NONCE, 2)
    async with httpx.AsyncClient() as http:
        rest = kraken(sim, http, retry_delays=(0, 0))
        with pytest.raises(KrakenError) as caught:
            await rest.fetch_balances()
    assert caught.value.kind is ErrorKind.NONCE and rest.calls == 2


@pytest.mark.parametrize("failure", [RestFailure.RATE_LIMIT, RestFailure.LOCKOUT])
async def test_rate_limits_open_the_breaker_for_a_minute_without_retrying(sim: Simulator, failure: RestFailure) -> None:
    sim.faults.fail_rest(failure, 1)
    async with httpx.AsyncClient() as http:
        rest = kraken(sim, http, retry_delays=(0, 0))
        with pytest.raises(KrakenError) as caught:
            await rest.fetch_balances()
        assert caught.value.kind is ErrorKind.RATE_LIMIT and rest.calls == 1
        assert rest.breaker.state is BreakerState.OPEN and rest.breaker.retry_in >= 59
        with pytest.raises(KrakenError) as paused:
            await rest.fetch_balances()  # nothing is sent while the breaker is open
    assert paused.value.kind is ErrorKind.PAUSED and rest.calls == 1


@pytest.mark.parametrize("failure", [RestFailure.DRIP, RestFailure.HANG])
async def test_a_dripping_or_hanging_reply_is_cut_at_the_deadline(sim: Simulator, failure: RestFailure) -> None:
    sim.faults.fail_rest(failure, 1)
    async with httpx.AsyncClient() as http:
        rest = kraken(sim, http, retry_delays=(), deadline_s=1.0)
        began = asyncio.get_running_loop().time()
        with pytest.raises(KrakenError, match="no complete reply within 1 s") as caught:
            await rest.fetch_balances()
        took = asyncio.get_running_loop().time() - began
    assert caught.value.kind is ErrorKind.TRANSIENT
    assert 0.9 <= took < 3.0


@pytest.mark.parametrize(
    "reply",
    [
        # Kraken's published example writes numbers; the live API writes strings.
        '{"error":[],"result":{"ZUSD":{"balance":25435.21,"hold_trade":8249.76},"XXBT":{"balance":1.24350000,"hold_trade":0.84230000}}}',
        '{"error":[],"result":{"ZUSD":{"balance":"25435.21","hold_trade":"8249.76"},"XXBT":{"balance":"1.24350000","hold_trade":"0.84230000"}}}',
    ],
)
async def test_balance_ex_is_read_with_strings_or_numbers(reply: str) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, text=reply))  # Kraken's reply, verbatim
    async with httpx.AsyncClient(transport=transport) as http:
        reply_read = await KrakenRest(
            http, "https://api.kraken.com", Credentials.of("k", SECRET), NonceSource()
        ).fetch_balances()
    assert {a.asset: a.balance for a in reply_read.balances.assets} == {
        "USD": Decimal("25435.21"),
        "BTC": Decimal("1.2435"),
    }
    assert reply_read.holds.holds["BTC"].hold_trade == Decimal("0.8423")


PAIRS_REPLY = (
    '{"error":[],"result":{"XXBTZUSD":{"altname":"XBTUSD","base":"XXBT","quote":"ZUSD"},'
    '"XBTUSD.d":{"altname":"XBTUSD.d","base":"XXBT","quote":"ZUSD"},'
    '"SOLUSD":{"altname":"SOLUSD","base":"SOL","quote":"ZUSD"}}}'
)
# Kraken's published Ticker example, verbatim.
TICKER_BTC = (
    '"XXBTZUSD":{"a":["30300.10000","1","1.000"],"b":["30300.00000","1","1.000"],"c":["30303.20000","0.00067643"],'
    '"v":["4083.67001100","4412.73601799"],"p":["30706.77771","30689.13205"],"t":[34619,38907],'
    '"l":["29868.30000","29868.30000"],"h":["31631.00000","31631.00000"],"o":"30502.80000"}'
)


def kraken_public(ticker_reply: str, asked: list[str]) -> httpx.MockTransport:
    """Kraken's public replies, verbatim: AssetPairs, then `ticker_reply` for Ticker (noting the pairs asked)."""

    def reply(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/0/public/AssetPairs":
            return httpx.Response(200, text=PAIRS_REPLY)
        asked.append(request.url.params["pair"])
        return httpx.Response(200, text=ticker_reply)

    return httpx.MockTransport(reply)


async def test_rest_tickers_are_read_exactly_under_their_ws_symbols() -> None:
    asked: list[str] = []
    reply = '{"error":[],"result":{' + TICKER_BTC + "}}"
    async with httpx.AsyncClient(transport=kraken_public(reply, asked)) as http:
        rest = KrakenRest(http, "https://api.kraken.com", Credentials.of("k", SECRET), NonceSource())
        (btc,) = await rest.tickers(["BTC/USD", "NOPE/USD"])  # a pair Kraken does not list is not asked for
        assert (btc.symbol, btc.last, btc.bid, btc.ask) == (
            "BTC/USD", Decimal("30303.2"), Decimal("30300"), Decimal("30300.1")
        )  # fmt: skip
        assert asked == ["XXBTZUSD"] and rest.calls == 2 and rest.rate.counter == 0  # public calls cost no budget
        assert await rest.tickers(["NOPE/USD"]) == [] and rest.calls == 2  # AssetPairs is read once


@pytest.mark.parametrize(
    ("entry", "error"),
    [
        (TICKER_BTC.replace('"30303.20000"', '"3e4"'), "Ticker: XXBTZUSD.c: expected [price, ...], got ['3e4'"),
        (TICKER_BTC.replace('["30300.00000","1","1.000"]', "[]"), "Ticker: XXBTZUSD.b: expected [price, ...], got []"),
        (TICKER_BTC.replace('"30300.10000"', '"-1"'), "Ticker: XXBTZUSD.a: expected"),
        (TICKER_BTC.replace('"XXBTZUSD"', '"SOLUSD"'), "Ticker: SOLUSD: a pair not asked for"),
        ('"XXBTZUSD":"30303.2"', "Ticker: XXBTZUSD: expected an object, got '30303.2'"),
    ],
)
async def test_a_rest_ticker_reply_outside_krakens_shape_names_the_field(entry: str, error: str) -> None:
    async with httpx.AsyncClient(transport=kraken_public('{"error":[],"result":{' + entry + "}}", [])) as http:
        rest = KrakenRest(http, "https://api.kraken.com", Credentials.of("k", SECRET), NonceSource())
        with pytest.raises(KrakenError, match=re.escape(error)):
            await rest.tickers(["BTC/USD"])
