"""The adjustment form: an operator changes one balance of the session, with a reason.

Nothing is written until Save. Whatever the store refuses (a bad amount, an empty reason, a change someone
else made since the figure shown here) is shown in the form, which stays open: the operator corrects it,
or reads the fresh figure and saves again to confirm.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Static

from balance_tui.core import Balance
from balance_tui.kraken.assets import asset_code
from balance_tui.store.books import BalanceView
from balance_tui.store.errors import StoreError
from balance_tui.store.money import AmountError, parse_amount
from balance_tui.store.tables import AdjustmentKind
from balance_tui.tui.formatting import amount as shown


@dataclass(frozen=True, slots=True)
class AdjustRequest:
    asset: str
    amount: Decimal
    kind: AdjustmentKind
    reason: str
    seen: BalanceView  # what the operator confirmed against: a change since then is a conflict


@dataclass(frozen=True, slots=True)
class Figures:
    """An asset's two figures: the books' (what the bot tracks, and what this form changes) and the exchange's."""

    books: BalanceView
    exchange: Balance | None  # None: the exchange has not reported this asset


Lookup = Callable[[str], Awaitable[Figures]]
Submit = Callable[[AdjustRequest], Awaitable[str | None]]  # an error to show, or None once written


class AdjustForm(ModalScreen[str | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="adjust.cancel"),
        Binding("ctrl+s", "save", "Save", priority=True, id="adjust.save"),
    ]

    def __init__(self, lookup: Lookup, submit: Submit, asset: str = "") -> None:
        super().__init__()
        self._lookup = lookup
        self._submit = submit
        self._asset = asset
        self._seen: BalanceView | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="form"):
            yield Label("Adjust the bot's tracked balance (the books) in this session")
            yield Static("The books are the bot's own figures, apart from the exchange's.", classes="hint")
            yield Input(self._asset, placeholder="asset, e.g. USD", max_length=16, id="asset")
            yield Static("", id="current", markup=False)
            with RadioSet(id="kind"):
                yield RadioButton("add (delta)", value=True, id="delta")
                yield RadioButton("set to", id="set")
            yield Input(placeholder="amount, e.g. 250 or -0.5", id="amount")
            yield Input(placeholder="reason (required; recorded with your user, SSH origin and terminal)", id="reason")
            yield Static("", id="error", markup=False)
            with Horizontal(id="buttons"):
                yield Button("Save  ctrl+s", variant="primary", id="save")
                yield Button("Cancel  esc", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#amount" if self._asset else "#asset", Input).focus()
        if self._asset:
            self._show_current(self._asset)

    @on(Input.Changed, "#asset")
    def _asset_changed(self, event: Input.Changed) -> None:
        self._seen = None
        self._show_current(asset_code(event.value))

    @work(exclusive=True, group="adjust-lookup", exit_on_error=False)
    async def _show_current(self, asset: str) -> None:
        current = self.query_one("#current", Static)
        if not asset:
            current.update("")
            return
        try:
            figures = await self._lookup(asset)
        except StoreError as exc:  # not an asset name, or the store cannot be read now
            current.update(f"books    {exc}")
            return
        seen = self._seen = figures.books
        by = f", last by {seen.updated_by}" if seen.updated_by else ""
        exchange = figures.exchange
        current.update(
            f"books    {shown(seen.total)} {asset} (version {seen.version}{by})\n"
            + ("exchange not reported" if exchange is None else f"exchange {shown(exchange.total)} {asset}")
        )

    @on(Button.Pressed, "#save")
    async def action_save(self) -> None:
        asset = asset_code(self.query_one("#asset", Input).value)
        reason = self.query_one("#reason", Input).value.strip()
        try:
            amount = parse_amount(self.query_one("#amount", Input).value.strip())
        except AmountError as exc:
            return self._error(f"amount: {exc}")
        if not asset:
            return self._error("asset: name the asset to adjust, e.g. USD")
        if not reason:
            return self._error("reason: say why; it is recorded with the change")
        seen = self._seen
        if seen is None or seen.asset != asset:
            try:
                seen = (await self._lookup(asset)).books
            except StoreError as exc:
                return self._error(f"asset: {exc}")
        kind = AdjustmentKind.SET if self.query_one("#set", RadioButton).value else AdjustmentKind.DELTA
        error = await self._submit(AdjustRequest(asset, amount, kind, reason, seen))
        if error is None:
            self.dismiss(f"{asset} adjusted")
            return None
        self._error(error)
        self._show_current(asset)  # a conflict: show the fresh figure; Save again confirms against it
        return None

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    def _error(self, message: str) -> None:
        self.query_one("#error", Static).update(message)
