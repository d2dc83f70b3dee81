"""The adjustment form: an operator changes one balance of the session, with a reason.

Nothing is written until Save. As the operator types, the form checks what the store would check (the
amount's form, the asset's decimals, a balance taken below zero or below its reserve) and shows the
balance the change would leave ("books 0.5 -> 0.75 BTC"); Save stays disabled while anything is wrong.
What the store still refuses is shown in the form, which stays open. A change someone else made since the
figure shown here is a conflict naming who, when and what; `ctrl+r` reloads the fresh figure to review,
and only then can the operator save against it.
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
from balance_tui.store.books import BalanceView, conflict_message, resulting_total
from balance_tui.store.errors import AdjustmentConflict, InvalidInput, StoreError
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
    """An asset's two figures: the books' (what the bot tracks, and what this form changes) and the exchange's,
    and the decimal places Kraken gives the asset."""

    books: BalanceView
    exchange: Balance | None  # None: the exchange has not reported this asset
    decimals: int | None = None  # None: not an asset the books know


Lookup = Callable[[str], Awaitable[Figures]]
Submit = Callable[[AdjustRequest], Awaitable[StoreError | None]]  # the store's refusal, or None once written


class AdjustForm(ModalScreen[str | None]):
    # Under 28 rows the form drops its inner margin, so all of it shows on an 80x24 terminal (app.tcss).
    VERTICAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-low"), (28, "-high")]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="adjust.cancel"),
        Binding("ctrl+s", "save", "Save", priority=True, id="adjust.save"),
        Binding("ctrl+r", "reload", "Reload and review", priority=True, id="adjust.reload"),
    ]

    def __init__(self, lookup: Lookup, submit: Submit, asset: str = "") -> None:
        super().__init__()
        self._lookup = lookup
        self._submit = submit
        self._asset = asset
        self._figures: Figures | None = None  # of the asset typed, once read
        self._conflict = False  # the balance changed under the operator: reload before saving
        self._reason_typed = False
        self._save_tried = False  # once Save was pressed, an empty field is said to be wrong too

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
            yield Static("", id="amount-check", classes="check", markup=False)
            yield Input(placeholder="reason (required; kept with your user, SSH origin, tty)", id="reason")
            yield Static("", id="reason-check", classes="check", markup=False)
            yield Static("", id="error", markup=False)
            with Horizontal(id="buttons"):
                yield Button("Reload and review  ctrl+r", variant="warning", id="reload")
                yield Button("Save  ctrl+s", variant="primary", id="save", disabled=True)
                yield Button("Cancel  esc", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#reload", Button).display = False
        self.query_one("#amount" if self._asset else "#asset", Input).focus()
        if self._asset:
            self._show_current(self._asset)

    @on(Input.Changed, "#asset")
    def _asset_changed(self, event: Input.Changed) -> None:
        self._figures = None
        self._check()
        self._show_current(asset_code(event.value))

    @on(Input.Changed, "#amount")
    @on(RadioSet.Changed)
    def _amount_changed(self) -> None:
        self._check()

    @on(Input.Changed, "#reason")
    def _reason_changed(self) -> None:
        self._reason_typed = True
        self._check()

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
        self._figures = figures
        seen = figures.books
        by = f", last by {seen.updated_by}" if seen.updated_by else ""
        exchange = figures.exchange
        current.update(
            f"books    {shown(seen.total)} {asset} (version {seen.version}{by})\n"
            + ("exchange not reported" if exchange is None else f"exchange {shown(exchange.total)} {asset}")
        )
        self._check()

    def _kind(self) -> AdjustmentKind:
        return AdjustmentKind.SET if self.query_one("#set", RadioButton).value else AdjustmentKind.DELTA

    def _check(self) -> str:
        """Check the form as it stands, say under each field what is wrong or what the change leaves, and enable
        Save only when nothing is; the first problem, in words, or empty."""
        asset = asset_code(self.query_one("#asset", Input).value)
        text = self.query_one("#amount", Input).value.strip()
        figures = self._figures if self._figures is not None and self._figures.books.asset == asset else None
        problem, line, bad = "", "", False
        if not asset:
            problem = "asset: name the asset to adjust, e.g. USD"
        elif figures is None:
            problem = f"asset: reading the books' {asset}"
        elif figures.decimals is None:
            problem = line = f"asset: {asset} is not an asset the books know"
            bad = True
        if not problem and figures is not None and figures.decimals is not None:
            note = f"{asset} takes up to {figures.decimals} decimals"
            try:
                amount = parse_amount(text)
                after = resulting_total(figures.books, amount, self._kind(), figures.decimals)
            except (AmountError, InvalidInput) as exc:
                problem = f"amount: {exc}"
                line, bad = (note, False) if not text and not self._save_tried else (problem, True)
            else:
                line = f"{note}  ·  books {shown(figures.books.total)} -> {shown(after)} {asset}"
        self._say("#amount-check", line, bad)
        if not self.query_one("#reason", Input).value.strip():
            problem = problem or "reason: say why; it is recorded with the change"
            self._say("#reason-check", "reason: required; say why, it is recorded with the change", True)
            self.query_one("#reason-check", Static).display = self._reason_typed or self._save_tried
        else:
            self._say("#reason-check", "", False)
        self.query_one("#save", Button).disabled = bool(problem) or self._conflict
        return problem

    def _say(self, selector: str, text: str, bad: bool) -> None:
        line = self.query_one(selector, Static)
        line.update(text)
        line.display = bool(text)
        line.set_class(bad, "invalid")

    @on(Button.Pressed, "#save")
    async def action_save(self) -> None:
        if self._conflict:
            self.app.bell()  # the conflict stays on screen: ctrl+r first
            return None
        asset = asset_code(self.query_one("#asset", Input).value)
        if asset and (self._figures is None or self._figures.books.asset != asset):
            try:
                self._figures = await self._lookup(asset)  # typed and saved faster than the figure was read
            except StoreError as exc:
                return self._error(f"asset: {exc}")
        self._save_tried = True
        if problem := self._check():
            # Said under its field already (the amount's, the reason's); an asset's problem has no line there.
            return self._error("" if problem.startswith(("amount:", "reason:")) else problem)
        assert self._figures is not None  # _check: no problem means the figures are read
        request = AdjustRequest(
            asset,
            parse_amount(self.query_one("#amount", Input).value.strip()),
            self._kind(),
            self.query_one("#reason", Input).value.strip(),
            self._figures.books,
        )
        refusal = await self._submit(request)
        if refusal is None:
            self.dismiss(f"{asset} adjusted")
            return None
        if isinstance(refusal, AdjustmentConflict):
            self._conflict = True
            self.query_one("#reload", Button).display = True
            self.query_one("#save", Button).disabled = True
            self._say("#amount-check", "", False)  # what it would leave was reckoned on the old figure
            said = conflict_message(refusal.current, refusal.expected_version, shown)
            self._error(f"{said}\nctrl+r reloads it: review the change against it, then save.")
            return None
        self._error(str(refusal))
        return None

    @on(Button.Pressed, "#reload")
    def action_reload(self) -> None:
        """Read the asset's figure afresh: after a conflict, the change is reviewed against it before saving."""
        self._conflict = False
        self.query_one("#reload", Button).display = False
        self._error("")
        self._figures = None
        self._check()
        self._show_current(asset_code(self.query_one("#asset", Input).value))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    def _error(self, message: str) -> None:
        self.query_one("#error", Static).update(message)
