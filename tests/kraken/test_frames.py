import contextlib
import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from balance_tui.core.events import BalancesSnapshot, BalancesUpdate
from balance_tui.kraken.frames import Heartbeat, MethodReply, OtherChannel, ParseError, SystemStatus, parse

SNAPSHOT = (
    '{"channel":"balances","type":"snapshot","sequence":1,"data":['
    '{"asset":"BTC","asset_class":"currency","balance":12345678.1234567891,'
    '"wallets":[{"type":"spot","id":"main","balance":12345678.1234567891}]},'
    '{"asset":"DOT","asset_class":"currency","balance":500,'
    '"wallets":[{"type":"spot","id":"main","balance":300},{"type":"earn","id":"bonded","balance":200}]}]}'
)
UPDATE = (
    '{"channel":"balances","type":"update","sequence":2,"data":[{"ledger_id":"ADKKFF-WEA5A-CNUBHG",'
    '"ref_id":"AGBWUJRU-LAREZ-W3UFAN","timestamp":"2023-09-22T10:23:42.925034Z","type":"deposit",'
    '"asset":"BTC","asset_class":"currency","category":"deposit","wallet_type":"spot","wallet_id":"main",'
    '"amount":0.01,"fee":0.0,"balance":0.02}]}'
)


def test_a_number_longer_than_a_float_holds_survives_exactly() -> None:
    frame = parse(SNAPSHOT)
    assert isinstance(frame, BalancesSnapshot)
    btc = frame.assets[0]
    assert btc.balance == Decimal("12345678.1234567891")
    assert str(btc.balance) == "12345678.1234567891"
    assert float(str(btc.balance)) != btc.balance  # a float could not have carried it


def test_snapshot_keeps_every_wallet() -> None:
    frame = parse(SNAPSHOT)
    assert isinstance(frame, BalancesSnapshot)
    dot = frame.assets[1]
    assert dot.balance == 500
    assert [(w.type, w.id, w.balance) for w in dot.wallets] == [("spot", "main", 300), ("earn", "bonded", 200)]


def test_update_is_one_ledger_entry_per_item() -> None:
    frame = parse(UPDATE)
    assert isinstance(frame, BalancesUpdate)
    assert frame.sequence == 2
    (entry,) = frame.entries
    assert (entry.ledger_id, entry.asset, entry.amount, entry.balance) == (
        "ADKKFF-WEA5A-CNUBHG",
        "BTC",
        Decimal("0.01"),
        Decimal("0.02"),
    )
    assert entry.timestamp.utcoffset() is not None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"channel":"heartbeat"}', Heartbeat()),
        (
            '{"channel":"status","type":"update","data":[{"api_version":"v2","connection_id":18125794168470749634,'
            '"system":"online","version":"2.0.0"}]}',
            SystemStatus("online", 18125794168470749634),
        ),
        ('{"method":"pong","req_id":101,"time_in":"x","time_out":"y"}', MethodReply("pong", True, req_id=101)),
        ('{"channel":"ticker","type":"update","data":[]}', OtherChannel("ticker")),
    ],
)
def test_control_frames(raw: str, expected: object) -> None:
    assert parse(raw) == expected


def test_subscribe_error_carries_krakens_text() -> None:
    raw = '{"error":"ESession:Invalid session","method":"subscribe","status":"error","success":false,"req_id":7}'
    assert parse(raw) == MethodReply("subscribe", False, "ESession:Invalid session", 7)


@pytest.mark.parametrize(
    ("raw", "names"),
    [
        (
            '{"channel":"balances","type":"snapshot","sequence":1,"data":[{"asset":"BTC","balance":"1","wallets":[]}]}',
            "balances.data[0].balance",
        ),
        ('{"channel":"balances","type":"update","sequence":"2","data":[]}', "balances.sequence"),
        ('{"channel":"balances","type":"update","sequence":2,"data":[{"ledger_id":"a"}]}', "balances.data[0].ref_id"),
        ('{"channel":"balances","type":"partial","sequence":2,"data":[]}', "balances.type"),
        (UPDATE.replace('"2023-09-22T10:23:42.925034Z"', '"yesterday"'), "balances.data[0].timestamp"),
        (
            '{"channel":"balances","type":"snapshot","sequence":1,"data":[{"asset":"BTC","balance":NaN,"wallets":[]}]}',
            "NaN",
        ),
        (
            '{"channel":"balances","type":"snapshot","sequence":1,"data":[{"asset":"BTC","balance":1E1000000000000000000,"wallets":[]}]}',
            "number",
        ),
        ("[1, 2", "not valid JSON"),
        ('"just a string"', "expected an object"),
        ('{"method":"subscribe","success":"yes"}', "subscribe.success"),
    ],
)
def test_bad_frames_raise_parse_error_naming_the_field(raw: str, names: str) -> None:
    with pytest.raises(ParseError, match=names.replace("[", r"\[").replace("]", r"\]")):
        parse(raw)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=8)
    | st.decimals(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=1000, deadline=None)
@given(st.dictionaries(st.sampled_from(["channel", "type", "sequence", "data", "method", "success"]), JSON_VALUES))
def test_any_frame_parses_or_raises_parse_error(message: dict) -> None:
    with contextlib.suppress(ParseError):
        parse(json.dumps(message, default=str))


@settings(max_examples=1000, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_parse_or_raise_parse_error(raw: bytes) -> None:
    with contextlib.suppress(ParseError):
        parse(raw)


def _mutations(frame: object) -> st.SearchStrategy[object]:
    """A real frame with one value replaced or one key dropped, anywhere in it."""
    if isinstance(frame, dict) and frame:
        return st.sampled_from(sorted(frame)).flatmap(
            lambda key: st.one_of(
                st.just({k: v for k, v in frame.items() if k != key}),
                JSON_VALUES.map(lambda value: {**frame, key: value}),
                _mutations(frame[key]).map(lambda inner: {**frame, key: inner}),
            )
        )
    if isinstance(frame, list) and frame:
        return st.integers(0, len(frame) - 1).flatmap(
            lambda i: _mutations(frame[i]).map(lambda inner: [*frame[:i], inner, *frame[i + 1 :]])
        )
    return JSON_VALUES


@settings(max_examples=1000, deadline=None)
@given(st.sampled_from([SNAPSHOT, UPDATE]).flatmap(lambda raw: _mutations(json.loads(raw, parse_float=Decimal))))
def test_mutated_real_frames_parse_or_raise_parse_error(frame: object) -> None:
    with contextlib.suppress(ParseError):
        parse(json.dumps(frame, default=str))


@pytest.mark.parametrize(
    "number",
    ["1E1000000000000000000", "0e77777777777777777777", "-1e-99999999999999999", "1e30", "0.0000000000000000001"],
)
def test_numbers_no_balance_can_be_are_parse_errors(number: str) -> None:
    with pytest.raises(ParseError):
        parse(SNAPSHOT.replace("12345678.1234567891", number, 1))


LEDGER_FIELDS = (
    "ledger_id", "ref_id", "timestamp", "type", "asset", "wallet_type", "wallet_id",
    "amount", "fee", "balance", "category", "subtype",
)  # fmt: skip


@pytest.mark.parametrize("field", LEDGER_FIELDS)
@pytest.mark.parametrize("wrong", [None, True, [], {}, "0.5"])
def test_every_ledger_field_of_the_wrong_type_is_named(field: str, wrong: object) -> None:
    entry = json.loads(UPDATE)["data"][0]
    if isinstance(wrong, str) and field not in ("amount", "fee", "balance"):
        wrong = 7  # any string is a string: a number is what a text field must refuse
    frame = json.loads(UPDATE) | {"data": [entry | {field: wrong}]}
    with pytest.raises(ParseError, match=rf"balances\.data\[0\]\.{field}:"):
        parse(json.dumps(frame))


@pytest.mark.parametrize("field", ["ledger_id", "timestamp", "amount", "balance"])
def test_a_missing_ledger_field_is_named_in_any_entry(field: str) -> None:
    good = json.loads(UPDATE)["data"][0]
    bad = {k: v for k, v in good.items() if k != field}
    frame = json.loads(UPDATE) | {"data": [good, good, bad]}
    with pytest.raises(ParseError, match=rf"balances\.data\[2\]\.{field}:"):
        parse(json.dumps(frame))


def test_a_timestamp_without_a_zone_is_refused() -> None:
    with pytest.raises(ParseError, match=r"balances\.data\[0\]\.timestamp: expected a time with a zone"):
        parse(UPDATE.replace("10:23:42.925034Z", "10:23:42.925034"))


@pytest.mark.parametrize(("number", "fee"), [("0", Decimal(0)), ("-3", Decimal(-3)), ("9" * 30, Decimal("9" * 30))])
def test_an_integer_amount_is_an_exact_decimal(number: str, fee: Decimal) -> None:
    frame = parse(UPDATE.replace('"fee":0.0', f'"fee":{number}'))
    assert isinstance(frame, BalancesUpdate)
    assert type(frame.entries[0].fee) is Decimal and frame.entries[0].fee == fee


def test_an_integer_amount_past_the_digit_bound_is_refused() -> None:
    with pytest.raises(ParseError, match=r"balances\.data\[0\]\.fee: expected a decimal number"):
        parse(UPDATE.replace('"fee":0.0', f'"fee":{"1" + "0" * 30}'))


@pytest.mark.parametrize("around", [(" ", ""), ("", "\n"), ("\r\n\t", "  ")])
def test_whitespace_around_a_frame_is_json_too(around: tuple[str, str]) -> None:
    before, after = around
    assert parse(before + UPDATE + after) == parse(UPDATE)


@pytest.mark.parametrize("raw", [UPDATE + "{}", UPDATE + " x", UPDATE[:-1], " " + UPDATE[1:]])
def test_a_frame_with_more_or_less_than_one_value_is_not_json(raw: str) -> None:
    with pytest.raises(ParseError, match="not valid JSON"):
        parse(raw)
