import pytest

from balance_tui.kraken.assets import AssetName, asset_code, normalise


@pytest.mark.parametrize(
    ("rest_key", "expected"),
    [
        ("XXBT", AssetName("BTC", "spot", "main")),
        ("XBT", AssetName("BTC", "spot", "main")),
        ("ZUSD", AssetName("USD", "spot", "main")),
        ("ZEUR", AssetName("EUR", "spot", "main")),
        ("XXDG", AssetName("DOGE", "spot", "main")),
        ("XETH", AssetName("ETH", "spot", "main")),
        ("USDT", AssetName("USDT", "spot", "main")),
        ("DOT", AssetName("DOT", "spot", "main")),
        ("DOT.S", AssetName("DOT", "earn", "staked")),
        ("USDT.F", AssetName("USDT", "earn", "auto-earn")),
        ("XBT.M", AssetName("BTC", "earn", "opt-in-rewards")),
        ("ETH2.S", AssetName("ETH2", "earn", "staked")),
        ("USD.HOLD", AssetName("USD.HOLD", "spot", "main")),
        ("KFEE", AssetName("KFEE", "spot", "main")),
    ],
)
def test_rest_keys_map_to_ws_v2_names(rest_key: str, expected: AssetName) -> None:
    assert normalise(rest_key) == expected


@pytest.mark.parametrize(
    ("typed", "code"),
    [("BTC", "BTC"), ("btc", "BTC"), ("xbt", "BTC"), ("XXBT", "BTC"), (" Xbt ", "BTC"), ("xdg", "DOGE"),
     ("zusd", "USD"), ("link", "LINK"), ("dot.s", "DOT"), ("FOO", "FOO")],
)  # fmt: skip
def test_an_asset_as_typed_is_read_case_insensitively_with_altnames(typed: str, code: str) -> None:
    assert asset_code(typed) == code
