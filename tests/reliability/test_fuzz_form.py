"""Fuzzing the adjustment form: the real console on the default simulator config, hostile text in every field.

One console serves every example (starting one per example would cost a second each); the property per
input: the form either closes having written exactly the adjustment typed, or stays open with an error
and nothing is written; the console never crashes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from textual.pilot import Pilot
from textual.widgets import Input, RadioButton, Static

from balance_tui.kraken.assets import asset_code
from balance_tui.store import books
from balance_tui.store.money import parse_amount
from balance_tui.store.tables import AdjustmentKind
from balance_tui.tui.adjust_form import AdjustForm
from balance_tui.tui.app import BalanceApp
from tests import hostile_input as hostile
from tests.integration.conftest import eventually

amounts = st.one_of(
    st.decimals(min_value=Decimal("-500"), max_value=Decimal("500"), places=2).map(lambda d: f"{d:f}"),
    st.sampled_from(hostile.AMOUNTS),
    st.text(max_size=24),
)
assets = st.one_of(
    st.sampled_from(["USD", "usd", "xbt", "XXBT", "eth", "EUR", "dot.s", "LINK"]),
    st.sampled_from(hostile.TEXT),
    st.text(max_size=20),
)
reasons = st.one_of(st.just("counted by hand"), st.sampled_from(hostile.TEXT), st.text(max_size=40))


@pytest.fixture
async def console(make_config) -> AsyncIterator[tuple[BalanceApp, Pilot]]:
    app = BalanceApp(make_config())
    async with app.run_test(size=(120, 32)) as pilot:
        await eventually(lambda: app.backend is not None and app.backend.manager.has_snapshot, what="the console")
        yield app, pilot
        await pilot.press("q")


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(asset=assets, amount=amounts, reason=reasons, set_to=st.booleans())
@hostile.with_examples(hostile.ADJUSTMENTS)
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
    lines = [form.query_one(f"#{name}", Static) for name in ("error", "amount-check", "reason-check")]

    def refusal() -> str:
        """What the form says is wrong: a store refusal, or a field's check (the form checks as you type)."""
        return " ".join(str(line.content) for line in lines if line.id == "error" or line.has_class("invalid"))

    await pilot.press("ctrl+s")
    await eventually(
        lambda: not app.is_running or not isinstance(app.screen, AdjustForm) or bool(refusal().strip()),
        what="an answer",
    )
    after = books.adjustments(store)
    assert app.is_running, "the console stopped"
    if isinstance(app.screen, AdjustForm):  # refused: said why, wrote nothing
        assert after == before, f"refused ({refusal()}) yet written"
        assert not hostile.written_whatever_the_books_hold(asset, amount.strip(), reason, set_to), refusal()
        await pilot.press("escape")
        return
    assert not hostile.refused_whatever_the_books_hold(asset, amount.strip(), reason), (asset, amount, reason)
    (written,) = after[len(before) :]
    typed = parse_amount(amount.strip())
    assert (written.asset, written.reason) == (asset_code(asset), reason.strip())
    if set_to:
        assert (written.kind, written.after) == (AdjustmentKind.SET, typed)
    else:
        assert (written.kind, written.delta) == (AdjustmentKind.DELTA, typed)
    assert books.read_balance(store, session, written.asset).total == written.after
