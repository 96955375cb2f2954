"""Qt table models of a comparison run and of a diff: core.columns' columns, cells and tooltips, served.

No formatting here: every text comes from core.columns, so the window shows what the CLI prints.
"""

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont

from core.columns import SHOWN, diff_cells, diff_headers

_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_FAILED = QColor("#c0392b")
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

    def column(self, key: str) -> int:
        return next(i for i, column in enumerate(SHOWN) if column.key == key)

    def set_rows(self, rows: list[dict]) -> None:
        self.beginResetModel()
        self._rows = rows
        self._cells = [tuple(column.cell(row) for column in SHOWN) for row in rows]
        self.endResetModel()

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole:
            return SHOWN[section].tip or None
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
            if row["status"] == "done" and column.key == "p50_s" and row["noisy"]:
                return _NOISY_TIP
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
