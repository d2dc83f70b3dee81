"""Exact money: typed amounts parse strictly, and every backend stores and returns them bit for bit."""

import random
import warnings
from decimal import Decimal

import pytest
import sqlalchemy as sa
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from balance_tui.core.exact import EXACT
from balance_tui.store.money import AmountError, canonical, parse_amount, places, quantize_to
from balance_tui.store.types import Money

REJECTED = [
    "NaN",
    "nan",
    "sNaN",
    "Infinity",
    "-inf",
    "inf",
    "1e5",
    "1E5",
    "1_000",
    " 1.5",
    "1.5 ",
    "\t1",
    "1\n",
    "0x10",
    "\u0661\u0662\u0663",  # Arabic-Indic digits: Decimal() takes them
    "\uff11\uff12",  # fullwidth digits
    "",
    "+",
    "-",
    ".5",
    "1.",
    "1.2.3",
    "1,5",
    "--1",
    "+-1",
    "1" * 21,  # 21 integer digits: more than NUMERIC(38, 18) holds
    "0." + "1" * 19,  # 19 places
]


@pytest.mark.parametrize("text", REJECTED)
def test_operator_amounts_that_decimal_would_take_are_rejected(text: str) -> None:
    with pytest.raises(AmountError, match="is not an amount: expected digits"):
        parse_amount(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [("0", "0"), ("12.34", "12.34"), ("-0.5", "-0.5"), ("+7", "7"), ("1" * 20, "1" * 20), ("0." + "1" * 18, None)],
)
def test_well_formed_amounts_parse_exactly(text: str, value: str | None) -> None:
    assert parse_amount(text) == Decimal(value or text)


@settings(max_examples=1000, deadline=None)
@given(st.text(max_size=40))
@example("1e400")
@example("0e7777")
def test_any_text_is_an_exact_amount_or_a_clear_error(text: str) -> None:
    try:
        value = parse_amount(text)
    except AmountError as exc:
        assert "is not an amount" in str(exc)
        return
    assert set(text) <= set("0123456789+-.")  # plain ASCII only: no spaces, exponents or other digits
    assert value.is_finite() and value == Decimal(text)  # what was typed, not a rounding of it


def test_canonical_text_is_plain_fixed_point_without_trailing_zeros() -> None:
    assert canonical(Decimal("1E+2")) == "100"  # not normalize()'s 1E+2
    assert canonical(Decimal("-0.000")) == "0"
    assert canonical(Decimal("1.2300")) == "1.23"
    assert places(Decimal("1.50")) == 1
    assert canonical(Decimal("12345678901234567890.123456789012345678")) == "12345678901234567890.123456789012345678"
    for bad in (Decimal("NaN"), Decimal("Infinity"), Decimal("1E+20"), Decimal("1E-19"), 0.1):
        with pytest.raises(ValueError):
            canonical(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("decimals", [0, 2, 8, 18])
def test_a_product_of_the_largest_amounts_is_exact_and_rounds_once_by_the_rule(decimals: int) -> None:
    """The store's arithmetic (core's EXACT) keeps every digit of what it holds; only `quantize_to` rounds.
    Expected figures come from Python ints: even `-x` and `scaleb` round in the default 28-digit context."""
    units = 10**38 - 1  # the largest amount NUMERIC(38, 18) holds, in units of 10^-18
    largest = Decimal(f"{units}E-18")
    product = EXACT.multiply(largest, EXACT.minus(largest))
    assert product == Decimal(f"-{units**2}E-36")  # all 76 digits
    step = 10 ** (36 - decimals)
    quotient, remainder = divmod(units**2, step)
    quotient += 2 * remainder > step or (2 * remainder == step and quotient % 2 == 1)  # half-even
    assert quantize_to(product, decimals) == Decimal(f"-{quotient}E-{decimals}")


def seeded_amounts(n: int, seed: int = 20261120) -> list[Decimal]:
    """Every place count 0..18, integer parts up to 20 digits, both signs, and the awkward edges."""
    rng = random.Random(seed)
    values = [Decimal("0"), Decimal("0.000000000000000001"), Decimal("-99999999999999999999.999999999999999999")]
    values.append(Decimal("12345678.12345678"))  # drifted through REAL in the reliability notes
    while len(values) < n:
        integer_digits, place_count = rng.randint(1, 20), rng.randint(0, 18)
        text = "".join(rng.choice("0123456789") for _ in range(integer_digits))
        if place_count:
            text += "." + "".join(rng.choice("0123456789") for _ in range(place_count))
        values.append(Decimal(rng.choice("-+") + text))
    return values


def probe_table(column_type: sa.types.TypeEngine) -> sa.Table:
    return sa.Table(
        "money_probe",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("amount", column_type, nullable=False),
    )


def round_trip(engine: Engine, table: sa.Table, values: list[Decimal]) -> list[Decimal]:
    table.create(engine)
    try:
        with engine.begin() as conn:
            conn.execute(table.insert(), [{"id": i, "amount": v} for i, v in enumerate(values)])
        with engine.connect() as conn:
            return list(conn.execute(sa.select(table.c.amount).order_by(table.c.id)).scalars())
    finally:
        table.drop(engine)


def test_ten_thousand_amounts_round_trip_exactly(engine: Engine) -> None:
    values = seeded_amounts(10_000)
    back = round_trip(engine, probe_table(Money()), values)
    assert [canonical(v) for v in back] == [canonical(v) for v in values]
    assert all(isinstance(v, Decimal) for v in back)


def test_negative_control_numeric_on_sqlite_drifts(tmp_path) -> None:
    """Why `Money` exists: SQLAlchemy's Numeric on SQLite goes through a float and loses digits."""
    from balance_tui.store.engine import create_store_engine

    engine = create_store_engine(f"sqlite:///{tmp_path / 'numeric.db'}")
    values = seeded_amounts(1_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sa.exc.SAWarning)  # "does *not* support Decimal objects natively"
        back = round_trip(engine, probe_table(sa.Numeric(38, 18)), values)
    engine.dispose()
    drifted = [v for v, b in zip(values, back, strict=True) if b != v]
    assert len(drifted) > len(values) // 2
    assert Decimal("12345678.12345678") in drifted


def test_money_refuses_floats_and_what_numeric_38_18_cannot_hold(engine: Engine) -> None:
    table = probe_table(Money())
    for bad in (0.1, Decimal("NaN"), Decimal("1E+20"), Decimal("0.0000000000000000001")):
        with pytest.raises(sa.exc.StatementError, match="amount"):
            round_trip(engine, table, [bad])  # type: ignore[list-item]
