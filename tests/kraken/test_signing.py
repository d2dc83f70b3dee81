from balance_tui.kraken.signing import sign


def test_signature_matches_krakens_published_example() -> None:
    # The worked example on Kraken's "Spot REST Authentication" page.
    secret = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="
    body = "nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25"
    expected = "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ=="
    assert sign("/0/private/AddOrder", "1616492376594", body, secret) == expected


def test_signature_depends_on_path_nonce_and_body() -> None:
    secret = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="
    base = sign("/0/private/Balance", "1", "nonce=1", secret)
    assert base != sign("/0/private/BalanceEx", "1", "nonce=1", secret)
    assert base != sign("/0/private/Balance", "2", "nonce=1", secret)
    assert base != sign("/0/private/Balance", "1", "nonce=2", secret)
