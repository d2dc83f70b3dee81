"""Reading `sim --faults SPEC`: every item the grammar allows, and a clear error naming each one it does not."""

import pytest

from balance_tui.sim import Faults, FaultSpecError, RestFailure, SystemStatus


def test_an_empty_spec_injects_nothing() -> None:
    faults = Faults.parse("")
    assert vars(faults) == vars(Faults())
    assert faults.take_refusal() is None
    assert faults.take_rest_failure() is None
    assert faults.system_status is SystemStatus.ONLINE


def test_every_item() -> None:
    faults = Faults.parse(
        "drop-every=50, silence-every=7,oversize-every=3,garble-every=11,skip-every=13,"
        "refuse=429x2,refuse=503,spoil-tokens=2,offline=ADA,status=cancel_only,rest=rate-limit x2,rest=drip,rest=503"
    )
    assert (faults.drop_every, faults.silence_every, faults.oversize_every) == (50, 7, 3)
    assert (faults.garble_every, faults.skip_every) == (11, 13)
    assert faults.offline_asset == "ADA"
    assert faults.system_status is SystemStatus.CANCEL_ONLY
    assert [faults.take_refusal() for _ in range(4)] == [429, 429, 503, None]
    assert [faults.take_spoiled_token() for _ in range(3)] == [True, True, False]
    assert [faults.take_rest_failure() for _ in range(5)] == [
        RestFailure.RATE_LIMIT,
        RestFailure.RATE_LIMIT,
        RestFailure.DRIP,
        RestFailure.HTTP_503,
        None,
    ]
    assert faults.fired == {"refuse": 3, "spoil-token": 2, "rate-limit": 2, "drip": 1, "503": 1}


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
