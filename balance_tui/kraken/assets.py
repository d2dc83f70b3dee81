"""Kraken asset names, normalised once: REST asset IDs (XXBT, ZUSD, DOT.S) to WS v2 names (BTC, USD, DOT)."""

from __future__ import annotations

from typing import NamedTuple

_LEGACY_IDS = {
    "XXBT": "BTC",
    "XBT": "BTC",
    "XXDG": "DOGE",
    "XDG": "DOGE",
    "XETH": "ETH",
    "XXRP": "XRP",
    "XLTC": "LTC",
    "XXLM": "XLM",
    "XXMR": "XMR",
    "XZEC": "ZEC",
    "XETC": "ETC",
    "XMLN": "MLN",
    "ZUSD": "USD",
    "ZEUR": "EUR",
    "ZGBP": "GBP",
    "ZCAD": "CAD",
    "ZJPY": "JPY",
    "ZAUD": "AUD",
}
# REST balance-key suffixes for earn products, named for what Kraken says each is. Kraken does not document
# which WS v2 wallet id each becomes, so these names are ours; only "earn vs spot" is certain.
EARN_SUFFIXES = {
    "S": "staked",
    "M": "opt-in-rewards",
    "B": "yield-bearing",
    "F": "auto-earn",
    "T": "tokenized",
    "P": "parachain",
}


class AssetName(NamedTuple):
    asset: str
    wallet_type: str  # "spot" or "earn"
    wallet_id: str  # "main" for spot; the product for earn


def normalise(rest_key: str) -> AssetName:
    """Map a REST balance key to the WS v2 asset and the wallet it sits in."""
    base, dot, suffix = rest_key.partition(".")
    if dot and suffix in EARN_SUFFIXES:
        return AssetName(_LEGACY_IDS.get(base, base), "earn", EARN_SUFFIXES[suffix])
    return AssetName(_LEGACY_IDS.get(rest_key, rest_key), "spot", "main")


def asset_code(typed: str) -> str:
    """The WS v2 code of an asset as a person types it: any case, Kraken asset IDs and altnames too
    (btc, xbt, XXBT -> BTC; zusd -> USD). An earn key names its base asset (dot.s -> DOT)."""
    return normalise(typed.strip().upper()).asset
