"""What the simulated exchange lists: assets under their REST and WS v2 names, and the pairs it trades.

REST keys assets by Kraken asset ID (XXBT, ZUSD, plain SOL), WS v2 by modern code (BTC, USD), and earn
wallets appear on REST under a suffixed key (DOT.S). Keeping all three spellings in one table means the
REST and WS sides of the simulator can never disagree about which asset is which.
"""

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal


@dataclass(frozen=True)
class Asset:
    """One asset as Kraken lists it."""

    name: str  # WS v2 code, e.g. "BTC"
    rest_id: str  # REST asset ID, e.g. "XXBT"
    altname: str  # /0/public/Assets altname, e.g. "XBT"
    decimals: int  # ledger precision
    display_decimals: int
    withdrawal_fee: Decimal

    def quantize(self, amount: Decimal, rounding: str = ROUND_DOWN) -> Decimal:
        """The amount at this asset's ledger precision (rounded down unless told otherwise)."""
        return amount.quantize(Decimal(1).scaleb(-self.decimals), rounding=rounding)


@dataclass(frozen=True)
class Pair:
    """One spot pair as /0/public/AssetPairs lists it."""

    key: str  # REST pair name, e.g. "XXBTZUSD"
    altname: str  # e.g. "XBTUSD"
    base: Asset
    quote: Asset
    pair_decimals: int  # price precision
    lot_decimals: int  # volume precision
    ordermin: Decimal  # smallest volume, in base units
    costmin: Decimal  # smallest cost, in quote units

    @property
    def symbol(self) -> str:
        """WS v2 symbol, e.g. "BTC/USD"."""
        return f"{self.base.name}/{self.quote.name}"

    @property
    def wsname(self) -> str:
        """The legacy name REST still reports, e.g. "XBT/USD"."""
        return f"{self.base.altname}/{self.quote.altname}"

    @property
    def tick(self) -> Decimal:
        """The smallest price step."""
        return Decimal(1).scaleb(-self.pair_decimals)

    def quantize_price(self, price: Decimal, rounding: str = ROUND_HALF_EVEN) -> Decimal:
        return price.quantize(self.tick, rounding=rounding)

    def quantize_volume(self, volume: Decimal) -> Decimal:
        return volume.quantize(Decimal(1).scaleb(-self.lot_decimals), rounding=ROUND_DOWN)


def _asset(name: str, rest_id: str, altname: str, decimals: int, display: int, fee: str) -> Asset:
    return Asset(name, rest_id, altname, decimals, display, Decimal(fee))


ASSETS: dict[str, Asset] = {
    asset.name: asset
    for asset in (
        _asset("BTC", "XXBT", "XBT", 10, 5, "0.00015"),
        _asset("ETH", "XETH", "ETH", 10, 5, "0.0025"),
        _asset("USD", "ZUSD", "USD", 4, 2, "5"),
        _asset("EUR", "ZEUR", "EUR", 4, 2, "0.09"),
        _asset("USDT", "USDT", "USDT", 8, 4, "2.5"),
        _asset("USDC", "USDC", "USDC", 8, 4, "2.5"),
        _asset("SOL", "SOL", "SOL", 10, 5, "0.01"),
        _asset("DOT", "DOT", "DOT", 10, 8, "0.05"),
        _asset("XRP", "XXRP", "XRP", 8, 5, "0.2"),
        _asset("LTC", "XLTC", "LTC", 10, 5, "0.001"),
        _asset("DOGE", "XXDG", "XDG", 8, 2, "4"),
        _asset("ADA", "ADA", "ADA", 8, 6, "1"),
        _asset("LINK", "LINK", "LINK", 10, 5, "0.5"),
    )
}


def dormant_assets(count: int) -> dict[str, Asset]:
    """`count` assets an account can hold without ever trading them (the many-assets fault): D00001, D00002, ...
    Unlisted on any pair, they only ever appear in balances."""
    names = (f"D{index:05d}" for index in range(1, count + 1))
    return {name: _asset(name, name, name, 8, 4, "0.0001") for name in names}


# Earn wallets the exchange offers, (asset, wallet id) -> REST key suffix: bonded DOT is "DOT.S".
EARN_SUFFIXES: dict[tuple[str, str], str] = {("DOT", "bonded"): ".S"}


def rest_key(asset: Asset, wallet_type: str, wallet_id: str) -> str:
    """The key REST Balance/BalanceEx use for a wallet: the asset ID for spot, altname + suffix for earn."""
    if wallet_type == "spot":
        return asset.rest_id
    return asset.altname + EARN_SUFFIXES[asset.name, wallet_id]


def _pair(key: str, altname: str, base: str, quote: str, pair_decimals: int, ordermin: str, costmin: str) -> Pair:
    lot_decimals = min(8, ASSETS[base].decimals)  # a volume finer than the base's ledger could not be booked
    return Pair(
        key,
        altname,
        ASSETS[base],
        ASSETS[quote],
        pair_decimals,
        lot_decimals,
        Decimal(ordermin),
        Decimal(costmin),
    )


# The pairs the seeded demo account trades: its random activity picks from these, in this order.
TRADED_PAIRS: dict[str, Pair] = {
    pair.symbol: pair
    for pair in (
        _pair("XXBTZUSD", "XBTUSD", "BTC", "USD", 1, "0.00005", "0.5"),
        _pair("XETHZUSD", "ETHUSD", "ETH", "USD", 2, "0.002", "0.5"),
        _pair("XETHXXBT", "ETHXBT", "ETH", "BTC", 5, "0.002", "0.00002"),
        _pair("SOLUSD", "SOLUSD", "SOL", "USD", 2, "0.02", "0.5"),
        _pair("XXRPZEUR", "XRPEUR", "XRP", "EUR", 5, "2", "0.45"),
        _pair("DOTUSD", "DOTUSD", "DOT", "USD", 4, "0.6", "0.5"),
        _pair("XLTCZUSD", "LTCUSD", "LTC", "USD", 2, "0.05", "0.5"),
        _pair("XDGUSD", "XDGUSD", "DOGE", "USD", 7, "30", "0.5"),
        _pair("ADAEUR", "ADAEUR", "ADA", "EUR", 6, "10", "0.45"),
        _pair("USDTZUSD", "USDTUSD", "USDT", "USD", 4, "5", "0.5"),
        _pair("USDCEUR", "USDCEUR", "USDC", "EUR", 4, "5", "0.45"),
        _pair("LINKUSD", "LINKUSD", "LINK", "USD", 5, "0.2", "0.5"),
        _pair("ZEURZUSD", "EURUSD", "EUR", "USD", 5, "0.5", "0.5"),
    )
}
# Every pair the exchange lists. XRP, ADA and USDC have USD pairs on Kraken too, so the demo values every asset
# it holds directly; the account does not trade them, which keeps every seed's activity as it was (tests and
# the README follow seed 7's).
PAIRS: dict[str, Pair] = TRADED_PAIRS | {
    pair.symbol: pair
    for pair in (
        _pair("XXRPZUSD", "XRPUSD", "XRP", "USD", 5, "2", "0.5"),
        _pair("ADAUSD", "ADAUSD", "ADA", "USD", 6, "10", "0.5"),
        _pair("USDCUSD", "USDCUSD", "USDC", "USD", 4, "5", "0.5"),
    )
}

# Fee schedule (percent of cost) for the lowest volume tier, as AssetPairs reports it.
TAKER_FEE_PERCENT = Decimal("0.40")
MAKER_FEE_PERCENT = Decimal("0.25")
