"""The history of runs in this session: a bounded table model, exportable as CSV."""

import csv
import io
import time
from collections import deque

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt

from core.report import write_atomic

MAX_ROWS = 10_000  # the oldest rows fall off; the plots keep their own buffers

COLUMNS = ("#", "time", "model", "variant", "device", "chars", "tokens", "latency ms", "result")


class HistoryModel(QAbstractTableModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self._rows: deque[tuple] = deque(maxlen=MAX_ROWS)
        self._count = 0

    def rowCount(self, parent=QModelIndex()):  # noqa: N802 - Qt's name
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent=QModelIndex()):  # noqa: N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            value = row[index.column()]
            return f"{value:.2f}" if isinstance(value, float) else str(value)
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() in (0, 5, 6, 7):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def add_records(self, records) -> None:
        """Append a batch of RunRecords (called from the redraw timer, not per request)."""
        records = list(records)
        if not records:
            return
        overflow = len(self._rows) + len(records) - MAX_ROWS
        if overflow > 0:
            drop = min(overflow, len(self._rows))
            self.beginRemoveRows(QModelIndex(), 0, drop - 1)
            for _ in range(drop):
                self._rows.popleft()
            self.endRemoveRows()
            records = records[-MAX_ROWS:]
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(records) - 1)
        for record in records:
            self._count += 1
            self._rows.append((self._count, time.strftime("%H:%M:%S"), record.model_name, record.variant_label,
                               record.device, record.input_chars, record.input_tokens, record.latency * 1000,
                               record.summary.replace("\n", " ")[:200]))
        self.endInsertRows()

    def clear(self) -> None:
        self.beginResetModel()
        self._rows.clear()
        self.endResetModel()

    def export_csv(self, path) -> None:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(COLUMNS)
        writer.writerows(self._rows)
        write_atomic(path, buffer.getvalue())
