"""Qt table models of a comparison run and of a diff: core.columns' columns, cells and tooltips, served;
and the table view whose first columns stay in place while the others scroll.

No formatting here: every text comes from core.columns, so the window shows what the CLI prints.
"""

from PySide6.QtCore import QAbstractItemModel, QAbstractTableModel, QModelIndex, Qt, Slot
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QAbstractItemView, QFrame, QTableView

from core.columns import SHOWN, diff_cells, diff_headers

_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_FAILED = QColor("#c0392b")
_AGAINST_REFERENCE = ("memory_saving", "weight_saving", "speedup", "agreement")
_NOISY_TIP = ("Noisy: the spread (IQR) is over 10% of the median; something else was using this machine, "
              "or too few iterations.")


class _TextTable(QAbstractTableModel):
    """Rows of cells under fixed headers, read-only."""

    def __init__(self, headers: tuple[str, ...], parent=None):
        super().__init__(parent)
        self._headers = headers
        self._cells: list[tuple[str, ...]] = []

    def rowCount(self, parent=QModelIndex()):  # noqa: N802 - Qt's name
        return 0 if parent.isValid() else len(self._cells)

    def columnCount(self, parent=QModelIndex()):  # noqa: N802
        return 0 if parent.isValid() else len(self._headers)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self._headers[section]
        return None

    def text(self, row: int, column: int) -> str:
        return self._cells[row][column]

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if index.isValid() and role == Qt.ItemDataRole.DisplayRole:
            return self._cells[index.row()][index.column()]
        return None


class CompareTableModel(_TextTable):
    """The rows of core.compare_data.table, one column per core.columns.SHOWN."""

    def __init__(self, parent=None):
        super().__init__(tuple(column.title for column in SHOWN), parent)
        self._rows: list[dict] = []
        self._reference = ""  # "#1 model [variant]" of the reference row, for the headers' tooltips

    def column(self, key: str) -> int:
        return next(i for i, column in enumerate(SHOWN) if column.key == key)

    def set_rows(self, rows: list[dict]) -> None:
        self.beginResetModel()
        self._rows = rows
        self._cells = [tuple(column.cell(row) for column in SHOWN) for row in rows]
        reference = next((row for row in rows if row["reference"]), None)
        self._reference = f"#{reference['index'] + 1} {reference['model']} [{reference['variant']}]" if reference else ""
        self.endResetModel()

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole:
            column = SHOWN[section]
            if column.key in _AGAINST_REFERENCE and self._reference:
                return f"{column.tip}.\nThe reference row now: {self._reference}."
            return column.tip or None
        return super().headerData(section, orientation, role)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row, column = self._rows[index.row()], SHOWN[index.column()]
        if role == Qt.ItemDataRole.TextAlignmentRole and (index.column() >= 4 or index.column() == 0):
            return int(_RIGHT)
        if role == Qt.ItemDataRole.ForegroundRole and row["status"] == "failed":
            return QBrush(_FAILED)
        if role == Qt.ItemDataRole.FontRole and row["reference"]:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.ToolTipRole:
            if row["status"] == "failed":
                return row.get("error") or ""
            if row["status"] == "done" and column.key == "quality" and row["quality"] is None:
                return row.get("quality_note") or "no quality"
            if row["status"] != "done":
                return None
            if column.key == "p50_s" and row["noisy"]:
                return _NOISY_TIP
            if column.key == "fraction_of_peak":
                return row.get("peak_note") or None
            if column.key in ("memory_saving", "weight_saving") and (row[column.key] or 0) < 0:
                what = "memory" if column.key == "memory_saving" else "weight bytes"
                return (f"Negative: {-row[column.key]:.0%} more {what} than the reference row "
                        f"({self._reference}).")
            return None
        return super().data(index, role)


class DiffTableModel(_TextTable):
    """The rows of core.compare_data.diff_runs: B's figures against A's."""

    def __init__(self, parent=None):
        super().__init__(diff_headers(), parent)

    def set_rows(self, rows: list[dict]) -> None:
        self.beginResetModel()
        self._cells = [diff_cells(row) for row in rows]
        self.endResetModel()


class FrozenColumnTable(QTableView):
    """A table whose first `frozen` columns stay in place while the others scroll sideways.

    Qt's "Frozen Column" example: a second view over the same model and selection shows only those
    columns, laid over the left edge of this one and kept in step with its column widths, row
    heights and vertical scrolling. It takes no focus: the table stays one Tab stop, and Tab leaves it.
    """

    frozenView: QTableView | None = None

    def __init__(self, frozen: int, parent=None, objectName: str = ""):  # noqa: N803 - Qt's keyword
        super().__init__(parent)
        if objectName:
            self.setObjectName(objectName)
        self._frozen = frozen
        view = self.frozenView = QTableView(self)
        view.setObjectName(f"{objectName or 'table'}Frozen")
        view.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        view.verticalHeader().hide()
        view.setFrameShape(QFrame.Shape.NoFrame)
        view.setStyleSheet("QTableView { border-right: 1px solid palette(mid); }")  # where the scrolling starts
        view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        view.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        for table in (self, view):
            table.setTabKeyNavigation(False)
            table.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
            table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.viewport().stackUnder(view)
        self.horizontalHeader().sectionResized.connect(self._on_header_section_resized)
        view.horizontalHeader().sectionResized.connect(self._on_frozen_header_section_resized)
        self.verticalHeader().sectionResized.connect(self._on_rows_section_resized)
        self.verticalScrollBar().valueChanged.connect(view.verticalScrollBar().setValue)
        view.verticalScrollBar().valueChanged.connect(self.verticalScrollBar().setValue)

    def frozen_width(self) -> int:
        return sum(self.columnWidth(column) for column in range(self._frozen) if not self.isColumnHidden(column))

    def setModel(self, model: QAbstractItemModel) -> None:  # noqa: N802 - Qt's name
        super().setModel(model)
        self.frozenView.setModel(model)
        self.frozenView.setSelectionModel(self.selectionModel())  # one selection, shown in both
        for signal in (model.modelReset, model.columnsInserted, model.columnsRemoved, model.layoutChanged):
            signal.connect(self._sync_columns)
        self._sync_columns()

    def setSelectionBehavior(self, behavior) -> None:  # noqa: N802
        super().setSelectionBehavior(behavior)
        self.frozenView.setSelectionBehavior(behavior)

    @Slot()
    def _sync_columns(self, *_args) -> None:
        for column in range(self.model().columnCount() if self.model() else 0):
            self.frozenView.setColumnHidden(column, column >= self._frozen)
            if column < self._frozen:
                self.frozenView.setColumnWidth(column, self.columnWidth(column))
        self._place_frozen()

    @Slot(int, int, int)
    def _on_header_section_resized(self, column: int, _old: int, new: int) -> None:
        if column < self._frozen:
            self.frozenView.setColumnWidth(column, new)
            self._place_frozen()

    @Slot(int, int, int)
    def _on_frozen_header_section_resized(self, column: int, _old: int, new: int) -> None:
        if column < self._frozen and self.columnWidth(column) != new:
            self.setColumnWidth(column, new)  # the user widened a frozen column: the table follows

    @Slot(int, int, int)
    def _on_rows_section_resized(self, row: int, _old: int, new: int) -> None:
        self.frozenView.setRowHeight(row, new)

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._place_frozen()

    def updateGeometries(self) -> None:  # noqa: N802 - the header and the scroll bars moved: follow them
        super().updateGeometries()
        self._place_frozen()

    def _place_frozen(self) -> None:
        if self.frozenView is None:  # QTableView's constructor lays itself out before ours has run
            return
        rows = self.frozenView.verticalHeader()
        if rows.defaultSectionSize() != self.verticalHeader().defaultSectionSize():
            rows.setDefaultSectionSize(self.verticalHeader().defaultSectionSize())
        header = self.frozenView.horizontalHeader()
        if header.height() != self.horizontalHeader().height():
            header.setFixedHeight(self.horizontalHeader().height())
        frame = self.frameWidth()
        self.frozenView.setGeometry(frame + self.verticalHeader().width(), frame, self.frozen_width(),
                                    self.viewport().height() + self.horizontalHeader().height())

    def moveCursor(self, action, modifiers) -> QModelIndex:  # noqa: N802
        """Arrowing left onto a column hidden under the frozen ones scrolls it into view."""
        current = super().moveCursor(action, modifiers)
        if (action == QAbstractItemView.CursorAction.MoveLeft and current.column() >= self._frozen
                and self.visualRect(current).x() < self.frozen_width()):
            bar = self.horizontalScrollBar()
            bar.setValue(bar.value() + self.visualRect(current).x() - self.frozen_width())
        return current

    def scrollTo(self, index: QModelIndex, hint=QAbstractItemView.ScrollHint.EnsureVisible) -> None:  # noqa: N802
        if index.column() >= self._frozen:
            super().scrollTo(index, hint)
            left = self.visualRect(index).x()
            if left < self.frozen_width():  # under the frozen columns: scroll it out from under them
                bar = self.horizontalScrollBar()
                bar.setValue(bar.value() + left - self.frozen_width())
        else:  # a frozen column is always in view: scroll to its row, never sideways
            bar = self.horizontalScrollBar()
            left = bar.value()
            super().scrollTo(index, hint)
            bar.setValue(left)


FROZEN_KEYS = ("index", "model", "variant")  # who a row is: kept in view while its figures scroll


def frozen_count() -> int:
    """How many of the table's first columns stay in place (core.columns.SHOWN starts with FROZEN_KEYS)."""
    return next(i for i, column in enumerate(SHOWN) if column.key not in FROZEN_KEYS)
