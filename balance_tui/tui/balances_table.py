"""The balances table: one row per asset, keyed by asset, repainted only where a cell changed."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from rich.text import Text

from balance_tui.core import Balance
from balance_tui.tui.formatting import age, amount
from balance_tui.tui.row_table import RowTable

# (key, label, width, right-aligned). Fixed widths: measuring content on every update costs frames.
COLUMNS = (
    ("asset", "Asset", 8, False),
    ("total", "Total", 22, True),
    ("held", "Held", 18, True),
    ("free", "Free", 22, True),
    ("value", "Value", 14, True),
    ("source", "Source", 6, False),
    ("age", "Age", 5, True),
)
CENT = Decimal("0.01")


class BalancesTable(RowTable[Text]):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._shown: dict[str, tuple[str, ...]] = {}

    def on_mount(self) -> None:
        for i, (key, label, width, _) in enumerate(COLUMNS):
            self.add_column(_aligned(label, i), width=width, key=key)

    @property
    def selected_asset(self) -> str | None:
        """The asset under the row cursor, if any row exists."""
        if not self.row_count:
            return None
        return str(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value)

    def sync(self, balances: Mapping[str, Balance], now: datetime, values: Mapping[str, Decimal | None]) -> None:
        """Bring the table to `balances`, touching only the cells whose text changed."""
        for asset in self._shown.keys() - balances.keys():
            self.remove_row(asset)
            del self._shown[asset]
        added = False
        for asset in sorted(balances):
            cells = _cells(balances[asset], now, values.get(asset))
            before = self._shown.get(asset)
            if before is None:
                self.add_row(*(_aligned(c, i) for i, c in enumerate(cells)), key=asset)
                added = True
            else:
                for i, (old, new) in enumerate(zip(before, cells, strict=True)):
                    if old != new:
                        self.update_cell(asset, COLUMNS[i][0], _aligned(new, i))
            self._shown[asset] = cells
        if added:
            self._sort_keeping_cursor()

    def _sort_keeping_cursor(self) -> None:
        """An asset first held while running joins in its alphabetical place, not at the bottom, and the
        cursor stays on the asset the operator was looking at (new rows are added at the end, so it still is)."""
        selected = self.selected_asset
        self.sort("asset", key=lambda cell: cell.plain)
        if selected is not None:
            self.move_cursor(row=self.get_row_index(selected))


def _cells(balance: Balance, now: datetime, value: Decimal | None) -> tuple[str, ...]:
    return (
        balance.asset,
        amount(balance.total),
        amount(balance.held),
        amount(balance.free),
        "-" if value is None else amount(value.quantize(CENT)),  # a valuation, not a balance: to the cent
        balance.source.value,
        age(now - balance.updated_at),
    )


def _aligned(value: str, column: int) -> Text:
    """Padded to the fixed width; a Text, since a plain str cell would be read as markup."""
    _, _, width, right = COLUMNS[column]
    return Text(value.rjust(width) if right else value)
