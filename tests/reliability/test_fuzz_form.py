"""Fuzzing the adjustment form: the real console on the default simulator config, hostile text in every field.

One console serves every example (starting one per example would cost a second each); the property per
input: the form either closes having written exactly the adjustment typed, or stays open with an error
and nothing is written; the console never crashes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from textual.pilot import Pilot
from textual.widgets import Input, RadioButton, Static

from balance_tui.kraken.assets import asset_code
from balance_tui.store import books
from balance_tui.store.errors import InvalidInput
from balance_tui.store.money import AmountError, parse_amount
from balance_tui.store.tables import AdjustmentKind
from balance_tui.tui.adjust_form import AdjustForm
from balance_tui.tui.app import BalanceApp
from tests.integration.conftest import eventually

NUL = "\x00"
HOSTILE_AMOUNTS = [
    "1e400", "NaN", "Infinity", "-Infinity", "-0", "\u0661\u0662\u0663", "\uff11\uff12", "0." + "1" * 30,
    "1" * 30, "1\x00", "1_000", " 1.5e3", "0x10", "+", ".", "",
]  # fmt: skip
HOSTILE_TEXT = ["US" + NUL + "D", "\u0661\u0662\u0663", "   ", "", "x" * 100_000, "a" + NUL + "b", "line\nbreak", "\t"]
KNOWN_ASSETS = ["USD", "usd", "xbt", "XXBT", "eth", "EUR", "dot.s", "LINK"]

amounts = st.one_of(
    st.decimals(min_value=Decimal("-500"), max_value=Decimal("500"), places=2).map(lambda d: f"{d:f}"),
    st.sampled_from(HOSTILE_AMOUNTS),
    st.text(max_size=24),
)
assets = st.one_of(st.sampled_from(KNOWN_ASSETS), st.sampled_from(HOSTILE_TEXT), st.text(max_size=20))
reasons = st.one_of(st.just("counted by hand"), st.sampled_from(HOSTILE_TEXT), st.text(max_size=40))


@pytest.fixture
async def console(make_config) -> AsyncIterator[tuple[BalanceApp, Pilot]]:
    app = BalanceApp(make_config())
    async with app.run_test(size=(120, 32)) as pilot:
        await eventually(lambda: app.backend is not None and app.backend.manager.has_snapshot, what="the console")
        yield app, pilot
        await pilot.press("q")


def expected_to_be_written(asset: str, amount: str, reason: str, set_to: bool) -> bool:
    """Input no rule refuses: a listed asset, a positive delta of at most two places, a reason."""
    try:
        typed = parse_amount(amount.strip())
        books.require_reason(reason)
    except (AmountError, InvalidInput):
        return False
    places = -typed.as_tuple().exponent  # type: ignore[operator]
    return asset_code(asset) in ("USD", "BTC", "ETH", "EUR", "LINK") and typed > 0 and places <= 2 and not set_to


def expected_to_be_refused(asset: str, amount: str, reason: str) -> bool:
    """Input the form must refuse whatever the books hold (other refusals depend on the balance)."""
    try:
        parse_amount(amount.strip())
        books.require_asset(asset_code(asset))
        books.require_reason(reason)
    except (AmountError, InvalidInput):
        return True
    return False


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(asset=assets, amount=amounts, reason=reasons, set_to=st.booleans())
@example(asset="USD", amount="12.5", reason="counted by hand", set_to=False)  # the control: this one is written
@example(asset="US" + NUL + "D", amount="1", reason="counted by hand", set_to=False)
@example(asset="USD", amount="1e400", reason="x", set_to=False)
@example(asset="USD", amount="NaN", reason="x", set_to=True)
@example(asset="USD", amount="Infinity", reason="x", set_to=False)
@example(asset="USD", amount="-0", reason="x", set_to=False)
@example(asset="USD", amount="\u0661\u0662\u0663", reason="x", set_to=False)
@example(asset="USD", amount="\uff11\uff12", reason="x", set_to=True)
@example(asset="USD", amount="0." + "1" * 30, reason="x", set_to=False)
@example(asset="USD", amount="1", reason="x" * 100_000, set_to=False)
@example(asset="USD", amount="1", reason="a" + NUL + "b", set_to=False)
@example(asset="\u0661\u0662\u0663", amount="1", reason="x", set_to=False)
@example(asset="BTC", amount="0.123456789", reason="more places than BTC has", set_to=False)
@example(asset="EUR", amount="-99999999", reason="below zero", set_to=False)
async def test_the_form_writes_what_was_typed_or_shows_why_not_and_writes_nothing(
    console: tuple[BalanceApp, Pilot], asset: str, amount: str, reason: str, set_to: bool
) -> None:
    app, pilot = console
    assert app.backend is not None and app.backend.session is not None
    store, session = app.backend.store, app.backend.session.id
    before = books.adjustments(store)
    await pilot.press("a")
    await eventually(lambda: isinstance(app.screen, AdjustForm) or not app.is_running, what="the form")
    assert app.is_running, "the console stopped"
    form = app.screen
    form.query_one("#asset", Input).value = asset
    form.query_one("#amount", Input).value = amount
    form.query_one("#reason", Input).value = reason
    form.query_one("#set", RadioButton).value = set_to
    error = form.query_one("#error", Static)
    await pilot.press("ctrl+s")
    await eventually(
        lambda: not app.is_running or not isinstance(app.screen, AdjustForm) or bool(str(error.content)),
        what="an answer",
    )
    after = books.adjustments(store)
    assert app.is_running, "the console stopped"
    if isinstance(app.screen, AdjustForm):  # refused: said why, wrote nothing
        assert after == before, f"refused ({error.content}) yet written"
        assert not expected_to_be_written(asset, amount, reason, set_to), f"refused: {error.content}"
        await pilot.press("escape")
        return
    assert not expected_to_be_refused(asset, amount, reason), f"accepted {asset!r} {amount!r} {reason!r}"
    (written,) = after[len(before) :]
    typed = parse_amount(amount.strip())
    assert (written.asset, written.reason) == (asset_code(asset), reason.strip())
    if set_to:
        assert (written.kind, written.after) == (AdjustmentKind.SET, typed)
    else:
        assert (written.kind, written.delta) == (AdjustmentKind.DELTA, typed)
    assert books.read_balance(store, session, written.asset).total == written.after
