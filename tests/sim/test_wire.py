"""The exact JSON encoder: Decimals keep their digits, floats are refused."""

import json
from decimal import Decimal

import pytest

from balance_tui.sim.wire import dumps


def test_decimals_are_written_with_their_exact_digits() -> None:
    text = dumps({"a": Decimal("12345678.1234567891"), "b": [Decimal("0E-10"), Decimal("-0.5")], "c": None})
    assert text == '{"a":12345678.1234567891,"b":[0.0000000000,-0.5],"c":null}'
    assert json.loads(text, parse_float=Decimal)["a"] == Decimal("12345678.1234567891")


def test_other_json_values() -> None:
    assert dumps({"s": 'quote " and \u00e9', "t": True, "f": False, "i": 2**64}) == (
        '{"s":"quote \\" and \\u00e9","t":true,"f":false,"i":18446744073709551616}'
    )


@pytest.mark.parametrize("value", [1.5, {"x": 0.1}, Decimal("NaN"), {1: "non-string key"}, b"bytes"])
def test_refuses_what_json_or_exactness_cannot_carry(value: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        dumps(value)
