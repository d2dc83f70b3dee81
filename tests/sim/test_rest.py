"""REST: Kraken's auth rules and envelope, and balances that match the account's ground truth exactly."""

import base64
import re
from decimal import Decimal

import httpx
import pytest

from balance_tui.kraken.signing import sign
from balance_tui.sim import Simulator
from balance_tui.sim.assets import ASSETS, PAIRS

from .clients import Nonces, call_private


async def test_unknown_key_is_rejected(http: httpx.AsyncClient, sim: Simulator, nonce: Nonces) -> None:
    reply = await call_private(http, sim, "Balance", nonce(), api_key="not-a-key")
    assert reply == {"error": ["EAPI:Invalid key"]}


async def test_wrong_signature_is_rejected(http: httpx.AsyncClient, sim: Simulator, nonce: Nonces) -> None:
    other_secret = base64.b64encode(b"x" * 64).decode()
    reply = await call_private(http, sim, "Balance", nonce(), secret=other_secret)
    assert reply == {"error": ["EAPI:Invalid signature"]}


async def test_signature_covers_the_body_as_sent(http: httpx.AsyncClient, sim: Simulator, nonce: Nonces) -> None:
    value = nonce()
    signed = sign("/0/private/Balance", value, f"nonce={value}", sim.api_secret)
    response = await http.post(
        "/0/private/Balance",
        content=f"nonce={value}&extra=1",
        headers={
            "API-Key": sim.api_key,
            "API-Sign": signed,
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert response.json() == {"error": ["EAPI:Invalid signature"]}


async def test_repeated_or_lower_nonce_is_rejected(http: httpx.AsyncClient, sim: Simulator, nonce: Nonces) -> None:
    value = nonce()
    assert (await call_private(http, sim, "Balance", value))["error"] == []
    assert await call_private(http, sim, "Balance", value) == {"error": ["EAPI:Invalid nonce"]}
    assert await call_private(http, sim, "Balance", str(int(value) - 1)) == {"error": ["EAPI:Invalid nonce"]}
    assert (await call_private(http, sim, "Balance", nonce()))["error"] == []


async def test_missing_nonce_is_rejected(http: httpx.AsyncClient, sim: Simulator) -> None:
    headers = {"API-Key": sim.api_key, "API-Sign": sign("/0/private/Balance", "", "", sim.api_secret)}
    response = await http.post("/0/private/Balance", content=b"", headers=headers)
    assert response.json() == {"error": ["EAPI:Invalid nonce"]}


async def test_balance_matches_the_account(http: httpx.AsyncClient, sim: Simulator, nonce: Nonces) -> None:
    assert "LINK" not in (await call_private(http, sim, "Balance", nonce()))["result"]  # no wallet, not listed
    for _ in range(50):
        await sim.step()
    await sim.deposit("LINK", Decimal("2.5"))
    reply = await call_private(http, sim, "Balance", nonce())

    wallets = sim.account.wallets()
    spot = {key.asset: amount for key, amount in wallets.items() if key.type == "spot"}
    expected = {ASSETS[asset].rest_id: amount for asset, amount in spot.items()}
    expected["DOT.S"] = wallets[("DOT", "earn", "bonded")]
    assert reply["error"] == []
    assert reply["result"] == {key: format(amount, "f") for key, amount in expected.items()}
    assert reply["result"]["XXBT"] == format(spot["BTC"], "f")
    assert "LINK" in reply["result"]
    assert re.fullmatch(r"\d+\.\d{10}", reply["result"]["XXBT"])  # strings at the asset's 10 decimals
    assert re.fullmatch(r"\d+\.\d{4}", reply["result"]["ZUSD"])


async def test_balance_ex_reports_holds(http: httpx.AsyncClient, sim: Simulator, nonce: Nonces) -> None:
    reply = await call_private(http, sim, "BalanceEx", nonce())

    result = reply["result"]
    holds = sim.account.holds()
    assert result["XXBT"] == {
        "balance": format(sim.account.totals()["BTC"], "f"),
        "hold_trade": "0.2500000000",
    }
    assert Decimal(result["ZUSD"]["hold_trade"]) == holds["USD"] > 0
    assert result["DOT.S"]["hold_trade"] == "0.0000000000"
    for entry in result.values():
        assert Decimal(entry["hold_trade"]) <= Decimal(entry["balance"])


async def test_json_bodies_are_accepted(http: httpx.AsyncClient, sim: Simulator, nonce: Nonces) -> None:
    reply = await call_private(http, sim, "BalanceEx", nonce(), as_json=True)
    assert reply["error"] == []
    assert "XXBT" in reply["result"]


async def test_websockets_token(http: httpx.AsyncClient, sim: Simulator, nonce: Nonces) -> None:
    reply = await call_private(http, sim, "GetWebSocketsToken", nonce())
    assert reply["error"] == []
    assert reply["result"]["expires"] == 900
    assert len(reply["result"]["token"]) >= 32


async def test_unknown_private_method(http: httpx.AsyncClient, sim: Simulator, nonce: Nonces) -> None:
    assert await call_private(http, sim, "AddOrder", nonce()) == {"error": ["EGeneral:Unknown method"]}


@pytest.mark.parametrize("verb", ["GET", "POST"])
async def test_public_time_and_status(http: httpx.AsyncClient, verb: str) -> None:
    time = (await http.request(verb, "/0/public/Time")).json()
    assert time["error"] == []
    assert isinstance(time["result"]["unixtime"], int)
    assert re.fullmatch(r"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d \+0000", time["result"]["rfc1123"])

    status = (await http.request(verb, "/0/public/SystemStatus")).json()
    assert status["result"]["status"] == "online"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", status["result"]["timestamp"])


async def test_public_assets(http: httpx.AsyncClient) -> None:
    assets = (await http.get("/0/public/Assets")).json(parse_float=Decimal)["result"]
    assert assets["XXBT"] == {
        "aclass": "currency",
        "altname": "XBT",
        "decimals": 10,
        "display_decimals": 5,
        "status": "enabled",
    }
    assert assets["ZUSD"]["altname"] == "USD"
    assert assets["XXDG"]["altname"] == "XDG"
    assert assets["USDT"]["decimals"] == 8
    assert assets["DOT.S"]["altname"] == "DOT.S"


async def test_public_asset_pairs(http: httpx.AsyncClient) -> None:
    pairs = (await http.get("/0/public/AssetPairs")).json(parse_float=Decimal)["result"]
    btc_usd = pairs["XXBTZUSD"]
    assert (btc_usd["base"], btc_usd["quote"], btc_usd["wsname"]) == ("XXBT", "ZUSD", "XBT/USD")
    assert btc_usd["fees"] == [[0, Decimal("0.40")]]
    assert {"XETHZUSD", "XETHXXBT", "SOLUSD", "XXRPZEUR"} <= pairs.keys()


@pytest.mark.parametrize(
    ("call", "error", "keys"),
    [
        ("Assets?asset=XBT,ZUSD", None, ["XXBT", "ZUSD"]),  # by altname or by key, in the order asked
        ("Assets?asset=DOT.S", None, ["DOT.S"]),
        ("AssetPairs?pair=XBTUSD,XETHXXBT", None, ["XXBTZUSD", "XETHXXBT"]),
        ("Assets?asset=XBT,NOPE", "EQuery:Unknown asset", None),
        ("AssetPairs?pair=NOPEUSD", "EQuery:Unknown asset pair", None),
    ],
)
async def test_public_lists_take_kraken_filters(
    http: httpx.AsyncClient, call: str, error: str | None, keys: list[str] | None
) -> None:
    reply = (await http.get(f"/0/public/{call}")).json()
    if error is None:
        assert reply["error"] == [] and list(reply["result"]) == keys
    else:
        assert reply == {"error": [error]}


async def test_unknown_public_method(http: httpx.AsyncClient) -> None:
    assert (await http.get("/0/public/Nope")).json() == {"error": ["EGeneral:Unknown method"]}


async def test_a_nonce_window_tolerates_requests_that_overtake_each_other() -> None:
    async with (
        Simulator(updates_per_second=0, nonce_window=5000) as sim,
        httpx.AsyncClient(base_url=sim.rest_url) as http,
    ):
        assert (await call_private(http, sim, "Balance", "1700000010000"))["error"] == []
        assert (await call_private(http, sim, "Balance", "1700000009000"))["error"] == []  # 1 s behind: within
        assert (await call_private(http, sim, "Balance", "1700000010000"))["error"] == []  # a repeat, as on Kraken
        late = await call_private(http, sim, "Balance", "1700000005000")
        assert late == {"error": ["EAPI:Invalid nonce"]}
    with pytest.raises(ValueError, match="nonce_window"):
        Simulator(nonce_window=-1)


async def test_public_ticker_is_the_ws_tickers_figures_as_rest_writes_them(
    http: httpx.AsyncClient, sim: Simulator
) -> None:
    await sim.step()  # the market has moved since the start
    reply = (await http.get("/0/public/Ticker", params={"pair": "XBTUSD,XETHXXBT"})).json()
    assert reply["error"] == [] and list(reply["result"]) == ["XXBTZUSD", "XETHXXBT"]
    btc = reply["result"]["XXBTZUSD"]
    price = sim.account.market.price(PAIRS["BTC/USD"])
    assert btc["c"][0] == format(price, "f") and all(isinstance(x, str) for x in btc["a"] + btc["b"] + btc["c"])
    assert Decimal(btc["b"][0]) < price < Decimal(btc["a"][0])
    everything = (await http.get("/0/public/Ticker")).json()["result"]
    assert everything.keys() == {pair.key for pair in PAIRS.values()}
    assert (await http.get("/0/public/Ticker?pair=NOPEUSD")).json() == {"error": ["EQuery:Unknown asset pair"]}
