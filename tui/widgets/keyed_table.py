"""A DataTable whose rows are keyed and replaced by difference."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import DataTable

ColumnSpec = tuple[str, str, int | None]  # key, label, width (None: fit the content)


class KeyedTable(DataTable[Text]):
    """Holds exactly the rows it was last `show`n, in their order.

    `show` removes the rows whose key went, adds the new ones, rewrites only
    the cells that changed and reorders only when the order changed, all in
    one `batch_update`: a poll that changes three counters redraws three
    cells, and the cursor stays on the row (the key) it was on.
    """

    def __init__(self, columns: Sequence[ColumnSpec], **kwargs: object) -> None:
        super().__init__(cursor_type="row", **kwargs)  # type: ignore[arg-type]
        self.specs = tuple(columns)
        self._shown: dict[str, tuple[Text, ...]] = {}
        self._order: list[str] = []

    def on_mount(self) -> None:
        """The columns, once."""
        for key, label, width in self.specs:
            self.add_column(label, key=key, width=width)

    @property
    def keys(self) -> list[str]:
        """The row keys in shown order."""
        return list(self._order)

    @property
    def selected_key(self) -> str | None:
        """The key of the row under the cursor."""
        if not self.row_count:
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value

    def show(self, rows: Sequence[tuple[str, Sequence[Text]]]) -> None:
        """Make the table hold `rows` (key, cells) in this order."""
        selected = self.selected_key
        wanted = {key: tuple(cells) for key, cells in rows}
        order = list(wanted)
        # where add_row and remove_row leave the rows: the old order, then the new
        placed = [k for k in self._order if k in wanted] + [k for k in order if k not in self._shown]
        with self.app.batch_update():
            for key in [k for k in self._shown if k not in wanted]:
                self.remove_row(key)
                del self._shown[key]
            for key, cells in wanted.items():
                self._shown[key] = self._put(key, cells)
            if placed != order:
                self._reorder(order)
            self._order = order
            if selected in wanted and selected != self.selected_key:
                self.move_cursor(row=self.get_row_index(selected))

    def _put(self, key: str, cells: tuple[Text, ...]) -> tuple[Text, ...]:
        """Add the row or update its changed cells; the cells now held (an
        unchanged cell keeps its old object, see `_reorder`)."""
        old = self._shown.get(key)
        if old is None:
            self.add_row(*cells, key=key)
            return cells
        if old == cells:
            return old
        held = []
        for (column, _label, _width), before, after in zip(self.specs, old, cells):
            if before != after:
                self.update_cell(key, column, after, update_width=self.columns[column].auto_width)  # type: ignore[index]
                held.append(after)
            else:
                held.append(before)
        return tuple(held)

    def _reorder(self, order: list[str]) -> None:
        """Put the rows in `order`. DataTable sorts by cell values only, not
        by row key, so each row is found by the identity of its first cell
        (every row's first cell is its own Text object, held in `_shown`)."""
        rank = {id(self._shown[key][0]): i for i, key in enumerate(order)}
        self.sort(key=lambda values: rank[id(values[0])])
