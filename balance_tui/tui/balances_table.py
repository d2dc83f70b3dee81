"""The balances table: one row per asset, keyed by asset, repainted only where a cell changed.

It sorts by any column, shows only the assets a filter names, hides dust, and highlights the cells a changed
total moved, fading over FADE_STEPS steps of FADE_STEP each (htop -H). The fade is measured from each tick's
`now`, so it moves with the refresh timer and an injected clock, and needs no timer of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import on
from textual.geometry import Region
from textual.message import Message
from textual.strip import Strip
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey

from balance_tui.core import Balance
from balance_tui.tui import cell_render
from balance_tui.tui.formatting import age, amount
from balance_tui.tui.row_table import RowTable

# (key, label, narrowest width, right-aligned). Each column is as wide as its widest cell now, never narrower
# than this: a figure wider than its column widens it (the table is laid out again), so no amount ever loses a
# digit. The widths follow the rows alone, not what was shown before, so a replay that jumps to an instant lays
# the table out as the live console did then.
COLUMNS = (
    ("asset", "Asset", 6, False),
    ("total", "Total", 10, True),
    ("held", "Held", 10, True),
    ("free", "Free", 10, True),
    ("value", "Value", 10, True),
    ("source", "Source", 7, False),  # ws, rest, cache, store; and the sort arrow in the header
    ("age", "Age", 4, True),  # 59s, 59m, 23h, 9d
    ("updated", "Updated", 8, False),  # UTC, to the second
    ("wallets", "Wallets", 7, False),  # spot/main, earn/bonded, ...
)
COLUMN_KEYS = tuple(key for key, *_ in COLUMNS)
AGE = COLUMN_KEYS.index("age")
# When the columns are wider than the table, these give way first to last; the asset and its total always
# show. The last two are for wide terminals only: the others' figures, when they give way, are shown for the
# selected row under the table (BalancesPane).
DROPPED_FIRST = ("wallets", "updated", "held", "source", "age", "value", "free")
EXTRA = ("updated", "wallets")
PADDING = 2  # DataTable's cell padding, both sides
CENT = Decimal("0.01")
# Ages under a minute in 10 s steps: a column of ages counting seconds repaints every row each second.
AGE_STEP_S = 10
# The direction a column sorts in first: amounts biggest first, names A to Z, ages youngest first.
FIRST_DESCENDING = {"asset": False, "total": True, "held": True, "free": True, "value": True, "updated": True}
ARROWS = {False: "▲", True: "▼"}
FADE_STEPS = 3
FADE_STEP = timedelta(seconds=1)
_UNSORTED = object()  # the sort key of a row not sorted yet: unequal to any


@dataclass(frozen=True, slots=True)
class Sort:
    column: str = "asset"
    descending: bool = False

    @property
    def arrow(self) -> str:
        return ARROWS[self.descending]


@dataclass(frozen=True, slots=True)
class Change:
    """An asset's total moved at `at`, `up` or down; `columns` are the cells that moved with it."""

    at: datetime
    up: bool
    columns: frozenset[str]


@dataclass(frozen=True, slots=True)
class Counts:
    """What the heading says: assets held, rows shown, and the dust among them (hidden unless shown)."""

    held: int = 0
    shown: int = 0
    dust: int = 0


class BalancesTable(RowTable[Text]):
    class ColumnsChanged(Message):
        """The table was laid out again: other columns show, or wider."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        f"balances-table--{way}-{step}" for way in ("up", "down") for step in range(FADE_STEPS)
    }

    def __init__(self, *, dust_below: Decimal = Decimal(0), **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.dust_below = dust_below  # in the view's quote currency; 0: nothing is dust
        self.show_dust = False
        self.sort_order = Sort()
        self.filter = ""
        self.counts = Counts()
        self._shown: dict[str, tuple[str, ...]] = {}  # the rows on screen: the text of each cell
        self._painted: dict[str, tuple[Change, int] | None] = {}  # the rows on screen: the highlight drawn
        self._keys: dict[str, object] = {}  # the rows on screen: the value they are sorted by
        self._order: list[str] = []  # the rows on screen, top to bottom
        self._seen: dict[str, tuple[Balance, Decimal | None]] = {}  # every asset held: to notice changes
        self._changes: dict[str, Change] = {}  # assets whose total moved in the last FADE_STEPS steps
        self._last: tuple[Mapping[str, Balance], datetime, Mapping[str, Decimal | None]] | None = None
        self._fades: dict[tuple[bool, int], Style] = {}  # highlight styles by (up, step), for one paint
        self._figures: dict[str, tuple[Balance, Decimal | None, tuple[str, ...]]] = {}  # the rows' text but ages
        self._column_keys: dict[str, ColumnKey] = {}  # the columns shown
        self._strips: dict[RowKey, tuple[tuple[object, ...], Strip]] = {}  # each row's line, and what it shows
        self._stripes: dict[tuple[int, Style], Style] = {}  # the rows' styles, even and odd
        self._line_style = Style()  # the widget's, for the lines of one render
        self._widths = self._needed_widths()
        self.shown_columns: tuple[str, ...] = ()  # in COLUMNS' order; the others gave way for want of room

    def on_mount(self) -> None:
        self._lay_out()

    def on_resize(self) -> None:
        if self._fitting() != self.shown_columns:
            self._lay_out()

    @property
    def dropped_columns(self) -> tuple[str, ...]:
        return tuple(key for key in COLUMN_KEYS if key not in self.shown_columns)

    def figures(self, asset: str) -> dict[str, str]:
        """The text of every cell of `asset`'s row, by column, shown or not (empty: no such row)."""
        cells = self._shown.get(asset, ())
        return dict(zip(COLUMN_KEYS, cells, strict=True)) if cells else {}

    def _fitting(self) -> tuple[str, ...]:
        """The columns that fit the table's width (one cell kept for the scroll bar), dropping DROPPED_FIRST in
        order; before the table has a width, all of them."""
        room = self.size.width - 1
        shown = list(COLUMN_KEYS)
        for key in DROPPED_FIRST:
            if room <= 0 or sum(self._widths[k] + PADDING for k in shown) <= room:
                break
            shown.remove(key)
        return tuple(shown)

    def _lay_out(self) -> None:
        """The columns again, for a new width or a wider figure: every row is drawn again in them; the cursor
        stays on its asset."""
        selected = self.selected_asset
        self.shown_columns = self._fitting()
        self.clear(columns=True)
        self._strips.clear()
        self._shown.clear()
        self._painted.clear()
        self._keys.clear()
        self._order = []
        self._column_keys = {
            key: self.add_column(self._aligned(self._label(key), key), width=self._widths[key], key=key)
            for key in self.shown_columns
        }
        if self._last is not None:
            self._paint(*self._last, reorder=True, force=True)
            if selected in self._order:
                self.move_cursor(row=self._order.index(selected))
        self.post_message(self.ColumnsChanged())

    @property
    def selected_asset(self) -> str | None:
        """The asset under the row cursor, if any row exists."""
        if not self.row_count:
            return None
        return str(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value)

    def highlight(self, asset: str) -> int | None:
        """The fade step drawn on `asset`'s row (0 is the brightest), or None if it is not highlighted."""
        painted = self._painted.get(asset)
        return None if painted is None else painted[1]

    def sync(self, balances: Mapping[str, Balance], now: datetime, values: Mapping[str, Decimal | None]) -> None:
        """Bring the table to `balances`, touching only the cells whose text or highlight changed, and
        moving rows only when a value they are sorted by changed."""
        self._last = (balances, now, values)
        self._notice_changes(balances, now, values)
        self._paint(balances, now, values, reorder=False)

    # What the operator changes: each repaints at once from the last figures, not at the next tick.

    def sort_by(self, column: str) -> None:
        """Sort by `column`, in its first direction; the column already sorted by is reversed."""
        if column == self.sort_order.column:
            self.reverse_sort()
        else:
            self._set_sort(Sort(column, FIRST_DESCENDING.get(column, False)))

    def cycle_sort(self) -> None:
        """The next column shown (after one that gave way: the first)."""
        shown = self.shown_columns
        at = shown.index(self.sort_order.column) if self.sort_order.column in shown else -1
        self.sort_by(shown[(at + 1) % len(shown)])

    def reverse_sort(self) -> None:
        self._set_sort(Sort(self.sort_order.column, not self.sort_order.descending))

    def set_filter(self, text: str) -> None:
        """Show only the assets whose name holds `text`, whatever the case; empty shows every asset."""
        text = text.strip()
        if text != self.filter:
            self.filter = text
            self._repaint()

    def toggle_dust(self) -> None:
        self.show_dust = not self.show_dust
        self._repaint()

    @on(DataTable.HeaderSelected)
    def _header_clicked(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        self.sort_by(str(event.column_key.value))

    def _set_sort(self, order: Sort) -> None:
        self.sort_order = order
        for key in self.shown_columns:
            self.columns[key].label = self._aligned(self._label(key), key)  # DataTable.sort below redraws the header
        self._repaint(force=True)

    def _label(self, key: str) -> str:
        label = COLUMNS[COLUMN_KEYS.index(key)][1]
        return f"{label}{self.sort_order.arrow}" if key == self.sort_order.column else label

    def _repaint(self, *, force: bool = False) -> None:
        if self._last is not None:
            self._paint(*self._last, reorder=True, force=force)
        elif force:
            self.sort()  # no rows yet: the header still shows the new order

    # Each tick.

    def _notice_changes(
        self, balances: Mapping[str, Balance], now: datetime, values: Mapping[str, Decimal | None]
    ) -> None:
        """A total that moved since the last tick starts a highlight on the cells that moved with it (the
        total, and held, free or value when they did too). A new asset is not a change: it has no earlier
        figure. Every asset is watched, shown or not, so a row the filter brings back shows its change."""
        seen = self._seen
        for asset, balance in balances.items():
            value = values.get(asset)
            before = seen.get(asset)
            if before is not None and before[0] is not balance and before[0].total != balance.total:
                old, old_value = before
                moved = {"total"}
                if old.held != balance.held:
                    moved.add("held")
                if old.free != balance.free:
                    moved.add("free")
                if old_value != value:
                    moved.add("value")
                self._changes[asset] = Change(now, balance.total > old.total, frozenset(moved))
            seen[asset] = (balance, value)
        for asset in seen.keys() - balances.keys():
            del seen[asset]
            self._changes.pop(asset, None)

    def _paint(
        self,
        balances: Mapping[str, Balance],
        now: datetime,
        values: Mapping[str, Decimal | None],
        *,
        reorder: bool,
        force: bool = False,
    ) -> None:
        selected = self.selected_asset  # before rows come and go: the asset the operator is looking at
        self._fades.clear()  # the theme may have changed since the last paint
        visible = self._visible(balances, values)
        for asset in self._shown.keys() - visible.keys():
            self.remove_row(asset)
            self._strips.pop(RowKey(asset), None)
            del self._shown[asset], self._painted[asset], self._keys[asset]
            self._figures.pop(asset, None)
            reorder = True
        column, shown = self.sort_order.column, self.shown_columns
        written: dict[str, Iterable[str]] = {}  # the cells written, by asset
        for asset in visible:
            balance, value = balances[asset], values.get(asset)
            cells = self._cells(asset, balance, now, value)
            painted = self._highlight(asset, now)
            before = self._shown.get(asset)
            if before is None:
                self.add_row(*self._styled(cells, painted), key=asset)
                reorder = True
            elif before != cells or self._painted[asset] != painted:
                was = self._painted[asset]
                lit = _lit(was) | _lit(painted) if was != painted else frozenset()  # cells whose highlight changed
                changed = {
                    COLUMN_KEYS[i]: self._cell(new, i, painted)
                    for i, (old, new) in enumerate(zip(before, cells, strict=True))
                    if COLUMN_KEYS[i] in shown and (old != new or COLUMN_KEYS[i] in lit)
                }
                if changed:
                    self._write_cells(asset, changed)
                    written[asset] = changed.keys()
            self._shown[asset] = cells
            self._painted[asset] = painted
            sort_key = _sort_key(column, balance, value)
            if self._keys.get(asset, _UNSORTED) != sort_key:
                self._keys[asset] = sort_key
                reorder = True
        if written:
            self._repaint_cells(written)
        if reorder or force:
            self._reorder(selected, force)
        widths = self._needed_widths()
        if widths != self._widths:
            self._widths = widths
            self._lay_out()

    def _cells(self, asset: str, balance: Balance, now: datetime, value: Decimal | None) -> tuple[str, ...]:
        """A row's text; its figures formatted again only when its balance or value is new (formatting every
        row each tick was most of an idle tick), its age each time."""
        figures = self._figures.get(asset)
        if figures is None or figures[0] is not balance or figures[1] != value:
            figures = self._figures[asset] = (balance, value, _figures(balance, value))
        before, after = figures[2][:AGE], figures[2][AGE:]
        return (*before, age(now - balance.updated_at, step=AGE_STEP_S), *after)

    def _write_cells(self, asset: str, cells: Mapping[str, Text]) -> None:
        """Put a row's changed cells (by column) in place, unpainted: `_repaint_cells` paints them. DataTable's
        own `update_cell` repaints every visible row, whatever changed (a refresh with no region)."""
        row_key = RowKey(asset)
        row = self._data[row_key]
        for key, text in cells.items():
            row[self._column_keys[key]] = text
        self._strips.pop(row_key, None)

    def _repaint_cells(self, written: Mapping[str, Iterable[str]]) -> None:
        """Repaint those cells alone (by asset, their column keys), and only in rows in view (a row scrolled
        into view is painted then): the terminal is sent the figures that changed, not their whole rows."""
        scroll_x, scroll_y = self.scroll_offset
        top, bottom = scroll_y - 1, scroll_y + self.size.height  # a row's index is its line under the header
        header = self.header_height if self.show_header else 0
        spans, x = {}, -scroll_x
        for column in self.ordered_columns:
            width = column.get_render_width(self)
            spans[column.key.value] = (x, width)
            x += width
        regions = []
        for asset, keys in written.items():
            index = self.get_row_index(asset)
            if top <= index <= bottom:
                y = header + index - scroll_y
                regions += (Region(spans[key][0], y, spans[key][1], 1) for key in keys)
        if regions:
            self.refresh(*regions)

    def render_lines(self, crop: Region) -> list[Strip]:
        self._line_style = self.rich_style  # once a render: DataTable works it out again for every line
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        if (self.show_header and y < self.header_height) or self.fixed_rows:
            return super().render_line(y)
        scroll_x, scroll_y = self.scroll_offset
        return self._render_line(y + scroll_y, scroll_x, scroll_x + self.size.width, self._line_style)

    def _render_line(self, y: int, x1: int, x2: int, base_style: Style) -> Strip:
        """A body line from the strip kept for its row, drawn again only when the row's cells, place, cursor
        or hover changed: DataTable's own line caches are keyed by a count that any change bumps, so each tick
        drew every row in view again, a cell at a time. The header goes DataTable's way."""
        index = y - self.header_height if self.show_header else y
        if index < 0 or self.fixed_rows or self.fixed_columns or self._labelled_row_exists:
            return super()._render_line(y, x1, x2, base_style)
        width = self.size.width
        if index >= self.row_count:
            return Strip.blank(width, base_style)
        row_key = self._row_locations.get_key(index)
        cursor = self.cursor_coordinate.row == index
        hover = self.hover_coordinate.row == index
        key = (index, x1, x2, width, base_style, cursor, hover, self.show_cursor, self._show_hover_cursor)
        key += (self._pseudo_class_state,)
        kept = self._strips.get(row_key)
        if kept is not None and kept[0] == key:
            return kept[1]
        strip = self._row_strip(row_key, index, base_style, cursor, hover)
        if strip is None:
            return super()._render_line(y, x1, x2, base_style)
        if x1 or x2 < strip.cell_length:
            strip = strip.crop(x1, x2)
        strip = strip.adjust_cell_length(width, base_style)
        self._strips[row_key] = (key, strip)
        return strip

    def _row_strip(self, row_key: RowKey, index: int, base_style: Style, cursor: bool, hover: bool) -> Strip | None:
        """A row's whole line, styled as DataTable styles its cells (tests/tui/test_row_render.py holds the
        two to the same picture) but with one `row` meta for the whole row, so cells of one style merge into
        one segment: fewer segments to composite and fewer colour codes to the terminal. None if a cell
        is not one line of Text that fits its column."""
        stripe = (index % 2, base_style)
        row_style = self._stripes.get(stripe)
        if row_style is None:
            row_style = self._stripes[stripe] = self._get_row_style(index, base_style)
        show_cursor, show_hover = self.show_cursor, self._show_hover_cursor
        css_fg, css_bg = self.cursor_foreground_priority == "css", self.cursor_background_priority == "css"
        styles = self._get_styles_to_render_cell
        component, post = styles(False, False, False, hover, cursor, show_cursor, show_hover, css_fg, css_bg)
        extend, _ = styles(False, False, False, hover, cursor, show_cursor, show_hover, False, False)
        cells, padding, console = self._data[row_key], self.cell_padding, self.app.console
        pieces: list[Segment] = []
        used = 0
        for column in self.ordered_columns:
            cell = cells[column.key]
            if not cell_render.fits(cell, column.width):
                return None
            pieces += cell_render.cell_segments(console, cell, column.width, padding)
            used += column.width + 2 * padding
        room = max(0, self.size.width - used)
        pre = row_style + Style.from_meta({"row": index, "column": 0}) + component
        beyond = row_style + extend + Style.from_meta({"row": index, "column": 0, "out_of_bounds": True})
        line = [*Segment.apply_style(pieces, style=pre, post_style=post), Segment(" " * room, beyond)]
        return Strip(Segment.simplify(line), used + room)

    def notify_style_update(self) -> None:
        self._strips.clear()  # drawn in the old styles (a theme or a pseudo-class changed)
        self._stripes.clear()
        super().notify_style_update()

    def _needed_widths(self) -> dict[str, int]:
        """Each column as wide as its label (and sort arrow), its narrowest width and its widest cell now."""
        widest = [max(map(len, column), default=0) for column in zip(*self._shown.values(), strict=True)]
        return {key: max(width, len(label) + 1, *widest[i : i + 1]) for i, (key, label, width, _) in enumerate(COLUMNS)}

    def _visible(self, balances: Mapping[str, Balance], values: Mapping[str, Decimal | None]) -> dict[str, None]:
        """The assets the filter names, less the dust unless it is shown, in `balances`' order (a set's order
        would change from run to run); `counts` says how many of each."""
        needle = self.filter.casefold()
        dust = 0
        visible: dict[str, None] = {}
        for asset in balances:
            if needle and needle not in asset.casefold():
                continue
            value = values.get(asset)
            if self.dust_below > 0 and value is not None and value < self.dust_below:  # no price: not dust
                dust += 1
                if not self.show_dust:
                    continue
            visible[asset] = None
        self.counts = Counts(held=len(balances), shown=len(visible), dust=dust)
        return visible

    def _highlight(self, asset: str, now: datetime) -> tuple[Change, int] | None:
        change = self._changes.get(asset)
        if change is None:
            return None
        step = max(int((now - change.at) / FADE_STEP), 0)
        if step >= FADE_STEPS:
            del self._changes[asset]
            return None
        return change, step

    def _styled(self, cells: tuple[str, ...], painted: tuple[Change, int] | None) -> list[Text]:
        shown = self.shown_columns
        return [self._cell(cell, i, painted) for i, cell in enumerate(cells) if COLUMN_KEYS[i] in shown]

    def _aligned(self, value: str, key: str) -> Text:
        """Padded to the column's width; a Text, since a plain str cell would be read as markup."""
        right = COLUMNS[COLUMN_KEYS.index(key)][3]
        return Text(value.rjust(self._widths[key]) if right else value)

    def _cell(self, value: str, column: int, painted: tuple[Change, int] | None) -> Text:
        text = self._aligned(value, COLUMN_KEYS[column])
        if painted is not None and COLUMN_KEYS[column] in painted[0].columns:
            change, step = painted
            text.stylize(self._fade_style(change.up, step), len(text) - len(value))  # the figure, not the padding
        return text

    def _fade_style(self, up: bool, step: int) -> Style:
        """A highlight's style, looked up once per paint: Textual recomputes a component style after every
        refresh, and a busy paint highlights hundreds of cells."""
        style = self._fades.get((up, step))
        if style is None:
            name = f"balances-table--{'up' if up else 'down'}-{step}"
            style = self._fades[up, step] = self.get_component_rich_style(name, partial=True, default=Style())
        return style

    def _reorder(self, selected: str | None, force: bool) -> None:
        """Rows in the sort order, ties A to Z, and rows with nothing to sort by (no price) last; the cursor
        stays on the asset the operator was looking at."""
        keys = self._keys
        present = sorted(asset for asset in self._shown if keys[asset] is not None)
        # Ages read youngest first: the oldest update is the largest age.
        present.sort(key=keys.__getitem__, reverse=self.sort_order.descending != (self.sort_order.column == "age"))
        order = present + sorted(asset for asset in self._shown if keys[asset] is None)
        if order == self._order and not force:
            return
        self._order = order
        rank = {asset: i for i, asset in enumerate(order)}
        self.sort("asset", key=lambda cell: rank[cell.plain])
        if selected in rank:
            self.move_cursor(row=rank[selected])  # else it stays on its row: the first, or the one after


def _lit(painted: tuple[Change, int] | None) -> frozenset[str]:
    """The columns a highlight is drawn on."""
    return frozenset() if painted is None else painted[0].columns


def _sort_key(column: str, balance: Balance, value: Decimal | None) -> object:
    """What a row is sorted by in `column` (None: nothing, e.g. no price); changes only when its row does."""
    match column:
        case "total":
            return balance.total
        case "held":
            return balance.held
        case "free":
            return balance.free
        case "value":
            return value
        case "source":
            return balance.source.value
        case "age" | "updated":
            return balance.updated_at
        case "wallets":
            return _wallets(balance)
    return balance.asset


def _figures(balance: Balance, value: Decimal | None) -> tuple[str, ...]:
    """Every cell of a row but its age (which goes at AGE)."""
    return (
        balance.asset,
        amount(balance.total),
        amount(balance.held),
        amount(balance.free),
        "-" if value is None else amount(value.quantize(CENT)),  # a valuation, not a balance: to the cent
        balance.source.value,
        f"{balance.updated_at:%H:%M:%S}",
        _wallets(balance),
    )


def _wallets(balance: Balance) -> str:
    return ", ".join(f"{wallet.type}/{wallet.id}" for wallet in balance.wallets)
