"""Reading `sim --faults SPEC`: every item the grammar allows, and a clear error naming each one it does not."""

import pytest

from balance_tui.sim import Faults, FaultSpecError, RestFailure, SystemStatus


def test_an_empty_spec_injects_nothing() -> None:
    faults = Faults.parse("")
    assert vars(faults) == vars(Faults())
    assert faults.take_refusal() is None
    assert faults.take_rest_failure("BalanceEx") is None
    assert faults.take_rest_failure("GetWebSocketsToken") is None
    assert not faults.take_hang_up()
    assert faults.system_status is SystemStatus.ONLINE


def test_every_item() -> None:
    faults = Faults.parse(
        "drop-every=50, silence-every=7,oversize-every=3,garble-every=11,skip-every=13,replay-every=17,"
        "refuse=429x2,refuse=503,hang-up=2,spoil-tokens=2,offline=ADA,status=cancel_only,"
        "rest=rate-limit x2,rest=drip,rest=503,token=502x2,token=hang,many-assets=9000"
    )
    assert (faults.drop_every, faults.silence_every, faults.oversize_every) == (50, 7, 3)
    assert (faults.garble_every, faults.skip_every, faults.replay_every) == (11, 13, 17)
    assert faults.offline_asset == "ADA" and faults.many_assets == 9000
    assert faults.system_status is SystemStatus.CANCEL_ONLY
    assert [faults.take_refusal() for _ in range(4)] == [429, 429, 503, None]
    assert [faults.take_hang_up() for _ in range(3)] == [True, True, False]
    assert [faults.take_spoiled_token() for _ in range(3)] == [True, True, False]
    # Token calls take the token= failures first, then share the rest= ones; other calls take only those.
    calls = ["GetWebSocketsToken", "BalanceEx", "GetWebSocketsToken", "GetWebSocketsToken", "GetWebSocketsToken"]
    assert [faults.take_rest_failure(method) for method in [*calls, "Balance", "Balance", "GetWebSocketsToken"]] == [
        RestFailure.HTTP_502,
        RestFailure.RATE_LIMIT,
        RestFailure.HTTP_502,
        RestFailure.HANG,
        RestFailure.RATE_LIMIT,
        RestFailure.DRIP,
        RestFailure.HTTP_503,
        None,
    ]
    assert faults.fired == {
        "refuse": 3,
        "hang-up": 2,
        "spoil-token": 2,
        "rate-limit": 2,
        "drip": 1,
        "503": 1,
        "502": 2,
        "hang": 1,
    }


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("drop-every=0", "fault 1 'drop-every=0': expected a whole number >= 1, not '0'"),
        ("skip-every=2,drop-every=x", "fault 2 'drop-every=x': expected a whole number >= 1, not 'x'"),
        ("drop-every", "fault 1 'drop-every': expected name=value"),
        ("drop-every=5,drop-every=6", "fault 2 'drop-every=6': drop-every is given twice"),
        ("refuse=200", "fault 1 'refuse=200': expected an HTTP error status (400-599), not '200'"),
        ("refuse=429x0", "fault 1 'refuse=429x0': expected a whole number >= 1, not '0'"),
        ("spoil-tokens=0", "fault 1 'spoil-tokens=0': expected a whole number >= 1, not '0'"),
        ("spoil-tokens=1,spoil-tokens=2", "fault 2 'spoil-tokens=2': spoil-tokens is given twice"),
        ("offline=XBT", "fault 1 'offline=XBT': no asset 'XBT'; the simulator lists BTC, ETH, USD"),
        ("status=down", "fault 1 'status=down': expected one of online, maintenance, cancel_only, post_only"),
        ("rest=teapot", "fault 1 'rest=teapot': expected one of 500, 502, 503, 504, drip, hang, nonce"),
        ("replay-every=-1", "fault 1 'replay-every=-1': expected a whole number >= 1, not '-1'"),
        ("hang-up=0", "fault 1 'hang-up=0': expected a whole number >= 1, not '0'"),
        ("hang-up=1,hang-up=2", "fault 2 'hang-up=2': hang-up is given twice"),
        ("token=200", "fault 1 'token=200': expected one of 500, 502, 503, 504, drip, hang, nonce"),
        ("token=503x", "fault 1 'token=503x': expected a whole number >= 1, not ''"),
        ("many-assets=lots", "fault 1 'many-assets=lots': expected a whole number >= 1, not 'lots'"),
        ("many-assets=1,many-assets=2", "fault 2 'many-assets=2': many-assets is given twice"),
        ("jitter=5", "fault 1 'jitter=5': unknown fault 'jitter'; known: drop-every, silence-every"),
        ("drop-every=5,,skip-every=2", "fault 2 '': expected name=value"),
    ],
)
def test_errors_name_the_item_and_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(FaultSpecError) as error:
        Faults.parse(spec)
    assert str(error.value).startswith(message)


def test_scripted_faults_are_validated() -> None:
    with pytest.raises(ValueError, match="drop_every must be >= 0"):
        Faults(drop_every=-1)
    with pytest.raises(ValueError, match="no asset 'XBT'"):
        Faults(offline_asset="XBT")
    with pytest.raises(ValueError, match="count must be >= 1"):
        Faults().refuse_handshakes(0)
    with pytest.raises(ValueError, match="expected an HTTP error status"):
        Faults().refuse_handshakes(1, 101)
    with pytest.raises(ValueError, match="count must be >= 1"):
        Faults().spoil_tokens(0)
    with pytest.raises(ValueError, match="count must be >= 1"):
        Faults().hang_up(0)
    with pytest.raises(ValueError, match="count must be >= 1"):
        Faults().fail_tokens(RestFailure.HTTP_503, 0)
    with pytest.raises(ValueError, match="many_assets must be >= 0"):
        Faults(many_assets=-1)
    with pytest.raises(ValueError, match="replay_every must be >= 0"):
        Faults(replay_every=-1)


def test_replays_alternate_the_update_itself_and_the_frame_before_it() -> None:
    faults = Faults()
    assert [faults.replay(f"u{n}", f"b{n}") for n in range(4)] == ["u0", "b1", "u2", "b3"]
    assert (faults.fired["duplicate"], faults.fired["rewind"]) == (2, 2)


def test_drops_alternate_clean_closes_and_aborts() -> None:
    faults = Faults()
    assert [faults.next_drop() for _ in range(6)] == [1012, None, 1001, None, 1012, None]
    assert (faults.fired["close"], faults.fired["abort"]) == (3, 3)


def test_status_changes_reach_the_one_listener() -> None:
    faults, heard = Faults(), []
    faults.watch_status(heard.append)
    faults.set_system_status("maintenance")
    assert heard == [SystemStatus.MAINTENANCE] and faults.system_status is SystemStatus.MAINTENANCE
    with pytest.raises(RuntimeError, match="already belong"):
        faults.watch_status(heard.append)
    with pytest.raises(ValueError):
        faults.set_system_status("down")
