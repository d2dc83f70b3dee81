import pytest

from balance_tui.kraken.assets import AssetName, normalise


@pytest.mark.parametrize(
    ("rest_key", "expected"),
    [
        ("XXBT", AssetName("BTC", "spot")),
        ("XBT", AssetName("BTC", "spot")),
        ("ZUSD", AssetName("USD", "spot")),
        ("ZEUR", AssetName("EUR", "spot")),
        ("XXDG", AssetName("DOGE", "spot")),
        ("XETH", AssetName("ETH", "spot")),
        ("USDT", AssetName("USDT", "spot")),
        ("DOT", AssetName("DOT", "spot")),
        ("DOT.S", AssetName("DOT", "earn")),
        ("USDT.F", AssetName("USDT", "earn")),
        ("XBT.M", AssetName("BTC", "earn")),
        ("ETH2.S", AssetName("ETH2", "earn")),
        ("USD.HOLD", AssetName("USD.HOLD", "spot")),
        ("KFEE", AssetName("KFEE", "spot")),
    ],
)
def test_rest_keys_map_to_ws_v2_names(rest_key: str, expected: AssetName) -> None:
    assert normalise(rest_key) == expected
