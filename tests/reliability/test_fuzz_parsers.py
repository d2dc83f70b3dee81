"""Fuzzing the wire parsers: WebSocket frames (private and public) and REST replies.

Contract, per input: a typed value, or the project's own error (`ParseError` for frames, `KrakenError` for
REST replies) with a message; no other exception. Beyond not crashing, numbers are held to what the console
promises: an amount that is parsed is exactly the number sent and within the bounds of an amount, and a plain
decimal within those bounds is never refused. Runs are derandomized, so CI sees the same inputs every time;
the classic hostile inputs are listed as explicit examples.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from balance_tui.core import redaction
from balance_tui.core.events import BalancesSnapshot, BalancesUpdate
from balance_tui.kraken import rest as rest_module
from balance_tui.kraken.credentials import Credentials
from balance_tui.kraken.frames import MAX_FRAME_BYTES, ParseError, is_amount, parse
from balance_tui.kraken.nonce import NonceSource
from balance_tui.kraken.rest import KrakenError, KrakenRest
from balance_tui.kraken.ticker import TickerFrame, parse_public

FUZZ = settings(max_examples=1000, deadline=None, derandomize=True, database=None)
SLOWER = settings(FUZZ, max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])

DEEP_ARRAY = "[" * 10_000 + "]" * 10_000
DEEP_OBJECT = '{"a":' * 10_000 + "1" + "}" * 10_000
# Numbers every parser here must refuse, or take exactly: the classics of numeric input.
CLASSIC_NUMBERS = [
    "1e400", "-1e400", "1E1000000000000000000", "0e77777777777777777777", "-1e-99999999999999999", "NaN",
    "Infinity", "-Infinity", "-0", "-0.0", "0." + "1" * 30, "1" * 30, "1" * 31, "9" * 5000, "1e30", "0.1e-18",
]  # fmt: skip
PLAIN = re.compile(r"-?[0-9]+(\.[0-9]+)?")  # how Kraken writes every amount

# JSON number tokens (the grammar of RFC 8259), some far outside any amount, plus the classics.
number_tokens = st.one_of(
    st.from_regex(r"-?(0|[1-9][0-9]{0,34})(\.[0-9]{1,34})?([eE][-+]?[0-9]{1,21})?", fullmatch=True),
    st.decimals(allow_nan=False, allow_infinity=False, places=10, max_value=10**11, min_value=-(10**11)).map(
        lambda d: f"{d:f}"
    ),
    st.sampled_from(CLASSIC_NUMBERS),
)


SNAPSHOT = (
    '{"channel":"balances","type":"snapshot","sequence":1,"data":[{"asset":"BTC","balance":NUMBER,'
    '"wallets":[{"type":"spot","id":"main","balance":NUMBER}]}]}'
)
UPDATE = (
    '{"channel":"balances","type":"update","sequence":2,"data":[{"ledger_id":"L1","ref_id":"R1",'
    '"timestamp":"2026-01-01T00:00:00Z","type":"deposit","asset":"BTC","wallet_type":"spot",'
    '"wallet_id":"main","amount":NUMBER,"fee":0,"balance":1}]}'
)
TICKER = '{"channel":"ticker","type":"update","data":[{"symbol":"BTC/USD","bid":1.5,"ask":2.5,"last":NUMBER}]}'


def balance_snapshot(number: str) -> str:
    return SNAPSHOT.replace("NUMBER", number)


def balance_update(number: str) -> str:
    return UPDATE.replace("NUMBER", number)


def ticker(number: str) -> str:
    return TICKER.replace("NUMBER", number)


def amounts_in(value: object) -> Iterator[Decimal]:
    """Every Decimal a parsed frame or reply holds, however deep."""
    if isinstance(value, Decimal):
        yield value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for item in dataclasses.fields(value):
            yield from amounts_in(getattr(value, item.name))
    elif isinstance(value, tuple | list):
        for item in value:
            yield from amounts_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from amounts_in(item)


def exact(token: str) -> Decimal | None:
    """The number a JSON token means, exactly, or None if Decimal cannot even hold it."""
    try:
        return Decimal(token)
    except (InvalidOperation, ValueError):
        return None


def outcome(parser: Any, raw: str | bytes) -> tuple[str, object]:
    try:
        return "ok", parser(raw)
    except ParseError as exc:
        assert str(exc), "a ParseError must say what is wrong"
        return "refused", None


# --- WebSocket frames: private (frames.parse) and public (ticker.parse_public) ------------------------------


@FUZZ
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300)))
@example(b"\xff\xfe\xfd")
@example(b'{"channel":"heartbeat"}\xff')
@example(b'{"channel":"balances","type":"snapshot","sequence":1,"data":[{"asset":"\xc3\x28"}]}')
@example(DEEP_ARRAY)
@example(DEEP_OBJECT)
@example(DEEP_ARRAY.encode())
@example("\x00")
@example('{"channel":"heartbeat"}\x00')
@example('{"channel":"status","data":[{"system":"online","connection_id":1e400}]}')
@example("x" * (MAX_FRAME_BYTES + 1))
@example("")
def test_any_input_to_either_frame_parser_is_a_frame_or_a_parse_error(raw: str | bytes) -> None:
    for parser in (parse, parse_public):
        result, frame = outcome(parser, raw)
        if result == "ok":
            assert all(is_amount(amount) for amount in amounts_in(frame)), frame


@FUZZ
@given(st.text(max_size=200))
@example('{"channel":"balances","type":"snapshot","sequence":1,"data":[]}')
@example('{"channel":"ticker","type":"update","data":[{"symbol":"BTC/USD","last":1}]}')
@example('{"channel":"heartbeat","x":"\u0661\u0662\u0663"}')
def test_a_frame_means_the_same_as_text_or_as_utf8_bytes(text: str) -> None:
    for parser in (parse, parse_public):
        assert outcome(parser, text) == outcome(parser, text.encode())


@FUZZ
@given(number_tokens)
@example("12345678.1234567891")
@example("0.000000000000000001")
def test_a_balance_is_exactly_the_number_sent_or_refused(token: str) -> None:
    expected = exact(token)
    for frame_text in (balance_snapshot(token), balance_update(token)):
        result, frame = outcome(parse, frame_text)
        if result == "ok":
            if isinstance(frame, BalancesSnapshot):
                parsed = [frame.assets[0].balance, frame.assets[0].wallets[0].balance]
            else:
                assert isinstance(frame, BalancesUpdate)
                parsed = [frame.entries[0].amount]
            assert expected is not None and all(p == expected and is_amount(p) for p in parsed), (token, parsed)
        elif PLAIN.fullmatch(token) and expected is not None and is_amount(expected):
            pytest.fail(f"the plain amount {token} was refused")


@FUZZ
@given(number_tokens)
def test_a_price_is_exactly_the_number_sent_or_refused(token: str) -> None:
    expected = exact(token)
    result, frame = outcome(parse_public, ticker(token))
    if result == "ok":
        assert isinstance(frame, TickerFrame)
        last = frame.tickers[0].last
        assert last == expected and last is not None and is_amount(last) and last > 0, (token, last)
    elif PLAIN.fullmatch(token) and expected is not None and is_amount(expected) and expected > 0:
        pytest.fail(f"the plain price {token} was refused")


@pytest.mark.parametrize("text", ['"\u0661\u0662\u0663"', '"\uff11\uff12"', '"12"', "true", "null", '"NaN"'])
def test_a_balance_that_is_not_a_json_number_is_refused(text: str) -> None:
    with pytest.raises(ParseError, match=r"balances\.data\[0\]\.(wallets\[0\]\.)?balance: expected a decimal"):
        parse(balance_snapshot(text))


# --- REST replies --------------------------------------------------------------------------------------------

SECRET = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="


@pytest.fixture
def own_secret_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tokens from fuzzed replies are registered as secrets; keep them out of the process-wide registry,
    where they would mask text in every later test's log lines."""
    registry = redaction.SecretRegistry()
    monkeypatch.setattr(rest_module, "SECRETS", registry)


def reply(status: int, body: bytes, method: str) -> object:
    """One call of `method` answered by `body`: the whole client path from HTTP response to typed value."""

    async def call() -> object:
        transport = httpx.MockTransport(lambda request: httpx.Response(status, content=body))  # Kraken, verbatim
        async with httpx.AsyncClient(transport=transport) as http:
            client = KrakenRest(
                http, "https://api.kraken.com", Credentials.of("key", SECRET), NonceSource(), retry_delays=()
            )
            return await getattr(client, method)()

    return asyncio.run(call())


METHODS = ("fetch_balances", "asset_decimals", "websockets_token")


def raw_json(value: object) -> str:
    """JSON text in which a `Token` is written as it stands: numbers no serialiser would write."""
    if isinstance(value, Token):
        return value.text
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{raw_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(raw_json(v) for v in value) + "]"
    return json.dumps(value)


@dataclasses.dataclass(frozen=True)
class Token:
    text: str


hostile_strings = st.sampled_from(["\u0661\u0662\u0663", "\uff11\uff12", " 12 ", "1_000", "NaN", "1e5", "", "\x00"])
json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=12), hostile_strings, number_tokens.map(Token)
)
json_values = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=16,
)
asset_keys = st.one_of(
    st.sampled_from(["XXBT", "ZUSD", "DOT.S", "ETH.F", "", ".S", "\x00", "A\nB"]), st.text(max_size=10)
)
balance_entries = st.dictionaries(
    st.sampled_from(["balance", "hold_trade", "credit", "credit_used", "other"]),
    st.one_of(number_tokens.map(Token), number_tokens, hostile_strings, json_values),
    max_size=5,
)
envelopes = st.one_of(
    st.fixed_dictionaries(
        {
            "error": st.just([]),
            "result": st.dictionaries(asset_keys, st.one_of(balance_entries, json_values), max_size=4),
        }
    ),
    st.fixed_dictionaries(
        {"error": st.just([]), "result": st.dictionaries(asset_keys, st.dictionaries(st.just("decimals"), json_values))}
    ),
    st.fixed_dictionaries({"error": st.lists(json_values, max_size=3), "result": json_values}),
    st.dictionaries(st.sampled_from(["error", "result", "x"]), json_values, max_size=3),
    json_values,
).map(raw_json)


@SLOWER
@given(
    status=st.sampled_from([200, 200, 400, 429, 500, 503]),
    body=st.one_of(envelopes.map(str.encode), st.binary(max_size=200), st.text(max_size=200).map(str.encode)),
)
@example(200, b"\xff\xfe")
@example(200, DEEP_ARRAY.encode())
@example(200, ('{"error":[],"result":' + DEEP_ARRAY + "}").encode())
@example(200, b'{"error":[],"result":{"XXBT":{"balance":1E1000000000000000000}}}')
@example(200, b'{"error":[],"result":{"XXBT":{"decimals":1e400}}}')
@example(200, b'{"error":[],"result":{"XXBT":{"balance":NaN},"token":Infinity}}')
@example(200, b'{"error":[],"result":{"":{"balance":"1","decimals":8}}}')
@example(200, b'{"error":[],"result":{"\\u0000":{"balance":"1","decimals":8}}}')
@example(200, '{"error":[],"result":{"XXBT":{"balance":"\u0661\u0662\u0663"}}}'.encode())
@example(200, b'{"error":[],"result":{"XXBT":{"balance":"' + b"1" * 100_000 + b'"}}}')
@example(200, b'{"error":[' + b"[" * 900 + b"]" * 900 + b'],"result":null}')
@example(200, b'{"error":[],"result":{"token":"\x00"}}')
@example(503, b"")
def test_any_rest_reply_is_a_typed_value_or_a_kraken_error(own_secret_registry: None, status: int, body: bytes) -> None:
    for method in METHODS:
        try:
            value = reply(status, body, method)
        except KrakenError as exc:
            assert str(exc).startswith(f"{exc.method}: ") and exc.errors
            continue
        assert all(is_amount(amount) for amount in amounts_in(value)), (method, value)
        if method == "fetch_balances":
            assert all(asset.asset and asset.asset.isprintable() for asset in value.balances.assets)  # type: ignore[attr-defined]
        elif method == "asset_decimals":
            assert all(name and 0 <= places <= 18 for name, places in value.items())  # type: ignore[attr-defined]
        else:
            assert isinstance(value, str) and value


@SLOWER
@given(st.one_of(number_tokens.map(Token), number_tokens, hostile_strings))
@example(Token("1e400"))
@example("-0")
@example("0." + "1" * 30)
@example("\u0661\u0662\u0663")
@example(" 12 ")
@example("1_000")
@example("1e5")
def test_a_rest_balance_is_exactly_the_amount_sent_or_refused(own_secret_registry: None, amount: str | Token) -> None:
    """Kraken writes BalanceEx amounts as strings ("1.2500") and, in its published example, as numbers; either
    way it is a plain decimal. A string in any other shape ("١٢٣", " 12 ", "1_000") is refused, though
    Decimal() would take it."""
    body = raw_json({"error": [], "result": {"XXBT": {"balance": amount, "hold_trade": "0"}}}).encode()
    text = amount.text if isinstance(amount, Token) else amount
    expected = exact(text)
    try:
        value = reply(200, body, "fetch_balances")
    except KrakenError as exc:
        assert exc.method == "BalanceEx"
        plain = PLAIN.fullmatch(text) and expected is not None and is_amount(expected)
        assert not plain, f"the plain amount {text!r} was refused: {exc}"
        return
    (asset,) = value.balances.assets  # type: ignore[attr-defined]
    assert asset.asset == "BTC" and asset.balance == expected and is_amount(asset.balance), (text, asset.balance)
    if isinstance(amount, str):
        assert PLAIN.fullmatch(text), f"the string {text!r} is not how Kraken writes an amount, yet it was taken"
