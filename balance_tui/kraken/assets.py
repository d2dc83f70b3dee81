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
# Staked (.S), opt-in rewards (.M), yield-bearing (.B), auto-earn (.F), tokenized (.T), parachain (.P).
EARN_SUFFIXES = frozenset({"S", "M", "B", "F", "T", "P"})


class AssetName(NamedTuple):
    asset: str
    wallet_type: str  # "spot" or "earn"


def normalise(rest_key: str) -> AssetName:
    """Map a REST balance key to the WS v2 asset and the kind of wallet it sits in."""
    base, dot, suffix = rest_key.partition(".")
    if dot and suffix in EARN_SUFFIXES:
        return AssetName(_LEGACY_IDS.get(base, base), "earn")
    return AssetName(_LEGACY_IDS.get(rest_key, rest_key), "spot")
