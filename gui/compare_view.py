"""The Compare view: tick a size ladder, run one benchmark protocol over it, read the table and plots.

The run is a "compare" job on the same long-lived engine process as the live view (one model in memory at
a time). Records arrive as signals and queue in `_pending`; a 20 Hz timer folds them into the run
(core.compare_data.RunCollector) and redraws only when a row changed. Tables, frontier, files and diffs
are core.compare_data's; this module only shows them. No torch here.
"""

import html
import math
import os
import threading
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QGroupBox,
                               QHBoxLayout, QHeaderView, QLabel, QLineEdit, QListWidget, QListWidgetItem,
                               QProgressBar, QPushButton, QSpinBox, QSplitter, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

from core import compare_data as compare
from core.advisor import DeviceInfo, cpu_device
from core.catalog import Catalog, Ladder, is_cached, known_depth
from core.errors import SizeLabError

from .model_panel import default_threads, fmt_bytes, fmt_count
from .plots import REDRAW_MS

COLUMNS = ("#", "model", "variant", "status", "params", "non-emb", "weights", "load s", "1st ms", "p50 ms",
           "p90 ms", "p99 ms", "items/s", "memory", "quality", "agreement", "speedup", "mem saved",
           "weights saved", "GFLOP/s", "of peak")
DIFF_COLUMNS = ("model", "variant", "p50 ms A", "p50 ms B", "change", "memory A", "memory B", "change",
                "quality A", "quality B", "Δ quality")
HEADER_TIPS = {
    "non-emb": "Parameters outside the embedding tables: what the FLOPs estimate counts",
    "weights": "Bytes of every tensor the variant stores (int8 weights packed)",
    "1st ms": "The first inference after loading (warm-up iteration 1)",
    "memory": "Peak RSS over the RSS just before loading (on a GPU: peak CUDA allocation)",
    "quality": "Accuracy on the shipped sentiment dev set, or chrF against reference translations; "
               "n/a for synthetic (random-weight) models",
    "agreement": "Share of outputs identical to the reference row's",
    "speedup": "Reference p50 / this row's p50",
    "mem saved": "1 - memory / the reference row's memory (measured; in one process it also holds "
                 "what loading left behind)",
    "weights saved": "1 - weight bytes / the reference row's weight bytes",
    "GFLOP/s": "FLOPs per iteration ≈ 2 × non-embedding params × tokens, divided by p50",
    "of peak": "GFLOP/s as a share of this machine's fp32 matmul peak, measured at the start of the run",
}
MAX_FRONT_LABELS = 20  # frontier points labelled on the scatter and named below it
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")


def _pct(value) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _usable(ladder: Ladder) -> bool:
    """Hub ladders are offered only when some member is in the local cache (no downloads here)."""
    return any(m.model.source != "hub" or is_cached(m.model) for m in ladder.members)


class _RunFileReader(QObject):
    """Reads saved runs on a thread of its own and reports back on the UI thread (queued signals).

    Reading and checking a run of 20,000 rows takes seconds, which froze the window. A plain daemon
    thread, not a QThread: closing the window mid-read must not wait for it, and its result is
    dropped if it arrives stale (a newer read was asked for) or after the view is gone.
    """

    progressed = Signal(int, str)
    """(read number, the step it is at)"""
    read = Signal(int, object)
    """(read number, the run dict)"""
    failed = Signal(int, str)
    """(read number, the one-line reason)"""

    def start(self, number: int, path: Path) -> None:
        threading.Thread(target=self._read, args=(number, path), name="run-file-reader", daemon=True).start()

    def _read(self, number: int, path: Path) -> None:
        try:
            try:
                run = compare.load_run(path, progress=lambda message: self.progressed.emit(number, message))
            except SizeLabError as exc:
                self.failed.emit(number, str(exc))
            except Exception as exc:  # noqa: BLE001 - a bug must reach the user as a message, not end the thread
                self.failed.emit(number, f"Unexpected error reading {path.name} ({type(exc).__name__}): {exc}")
            else:
                self.read.emit(number, run)
        except RuntimeError:  # the view (and this reader) were deleted while reading: nobody to tell
            pass


class CompareView(QWidget):
    runStarted = Signal()
    """A ladder run was submitted: the engine unloads the live view's model first."""
    errorRaised = Signal(str)
    """Something could not be done (bad sweep, unreadable file, a failed run): a message for the user."""
    fileShown = Signal(str)
    """A saved run read off the UI thread is shown (as the run, or as the other side of a diff): its name."""

    def __init__(self, catalog: Catalog, host, parent=None):
        super().__init__(parent)
        self.setObjectName("compareView")
        self.catalog = catalog
        self.host = host
        self.run: dict | None = None  # what the table shows: the current or a re-opened run
        self.source = ""  # where self.run came from: "" while measuring, else a file name
        self._job: int | None = None
        self._error = ""  # why the running job failed, shown when it finishes
        self._collector = compare.RunCollector()
        self._pending: list = []
        self._progress: compare.RowProgress | None = None
        self._dirty = False
        self._devices: list[DeviceInfo] = [cpu_device()]
        self._ladders = [ladder for ladder in catalog.ladders if _usable(ladder)]
        self._reader = _RunFileReader(self)
        self._reads = 0  # the number of the latest read; older ones are stale
        self._read_purpose: tuple[str, str] = ("", "")  # ("open" | "diff", file name) of the latest read
        self._reader.progressed.connect(self._on_reader_progressed)
        self._reader.read.connect(self._on_reader_read)
        self._reader.failed.connect(self._on_reader_failed)

        self._build_controls()
        self._build_results()
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.controls)
        splitter.addWidget(self.results)
        splitter.setStretchFactor(1, 1)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(splitter)

        self.redrawTimer = QTimer(self)
        self.redrawTimer.setInterval(REDRAW_MS)
        self.redrawTimer.timeout.connect(self._on_redraw_timer)
        host.started.connect(self._on_engine_started)
        host.compared.connect(self._on_engine_compared)
        host.failed.connect(self._on_engine_failed)
        host.jobFinished.connect(self._on_host_job_finished)
        self._on_ladder_changed()
        self._set_running(False)
        self.runButton.setEnabled(False)  # until the engine is up (it lists the devices)

    # ------------------------------------------------------------ construction

    def _build_controls(self) -> None:
        self.ladderCombo = QComboBox(objectName="compareLadderCombo")
        for ladder in self._ladders:
            self.ladderCombo.addItem(ladder.name, ladder.id)
        self.modelList = QListWidget(objectName="compareModelList")
        self.modelList.setMinimumHeight(160)
        self.deviceCombo = QComboBox(objectName="compareDeviceCombo")
        self.threadsSpin = QSpinBox(objectName="compareThreadsSpin")
        self.threadsSpin.setRange(1, max(1, os.cpu_count() or 1))
        self.threadsSpin.setValue(default_threads())  # all cores measure faster, but starve the window
        self.threadsSpin.setToolTip("CPU threads for torch. All cores give the best numbers; "
                                    "the default leaves one core for the window.")
        self.batchSpin = self._spin("compareBatchSpin", 1, 512, 1)
        self.seqLenSpin = self._spin("compareSeqLenSpin", 4, 4096, 128)
        self.warmupSpin = self._spin("compareWarmupSpin", 0, 1000, 5)
        self.minItersSpin = self._spin("compareMinItersSpin", 1, 100_000, 20)
        self.minSecondsSpin = QDoubleSpinBox(objectName="compareMinSecondsSpin")
        self.minSecondsSpin.setRange(0, 3600)
        self.minSecondsSpin.setDecimals(1)
        self.minSecondsSpin.setSuffix(" s")
        self.minSecondsSpin.setValue(3.0)
        self.newTokensSpin = self._spin("compareNewTokensSpin", 1, 1024, 32)
        self.newTokensSpin.setToolTip("Translation: tokens generated per iteration")
        self.sweepAxisCombo = QComboBox(objectName="compareSweepAxisCombo")
        self.sweepAxisCombo.addItem("No sweep", None)
        self.sweepAxisCombo.addItem("Sequence length", "seq_len")
        self.sweepAxisCombo.addItem("Batch size", "batch_size")
        self.sweepEdit = QLineEdit(objectName="compareSweepEdit")
        self.sweepEdit.setPlaceholderText("e.g. 32, 64, 128, 256")
        self.qualityCheck = QCheckBox("Measure quality (accuracy or chrF)", objectName="compareQualityCheck")
        self.qualityCheck.setChecked(True)
        self.runButton = QPushButton("Run comparison", objectName="compareRunButton")
        self.cancelButton = QPushButton("Cancel", objectName="compareCancelButton")
        self.progress = QProgressBar(objectName="compareProgress")
        self.progress.setRange(0, 1000)
        self.progress.setFormat("")
        self.statusLabel = QLabel("", objectName="compareStatusLabel")
        self.statusLabel.setWordWrap(True)

        form = QFormLayout()
        form.addRow("Ladder", self.ladderCombo)
        form.addRow(self.modelList)
        form.addRow("Device", self.deviceCombo)
        form.addRow("CPU threads", self.threadsSpin)
        form.addRow("Batch size", self.batchSpin)
        form.addRow("Sequence length", self.seqLenSpin)
        form.addRow("Warm-up iterations", self.warmupSpin)
        form.addRow("Min iterations", self.minItersSpin)
        form.addRow("Min seconds", self.minSecondsSpin)
        form.addRow("New tokens", self.newTokensSpin)
        form.addRow("Sweep", self.sweepAxisCombo)
        form.addRow("Sweep values", self.sweepEdit)
        form.addRow(self.qualityCheck)
        buttons = QHBoxLayout()
        buttons.addWidget(self.runButton, 2)
        buttons.addWidget(self.cancelButton, 1)
        self.controls = QGroupBox("Size ladder")
        box = QVBoxLayout(self.controls)
        box.addLayout(form)
        box.addLayout(buttons)
        box.addWidget(self.progress)
        box.addWidget(self.statusLabel)
        box.addStretch()

        self.ladderCombo.currentIndexChanged.connect(self._on_ladder_changed)
        self.sweepAxisCombo.currentIndexChanged.connect(self._on_sweep_axis_changed)
        self.runButton.clicked.connect(self._on_run_clicked)
        self.cancelButton.clicked.connect(self._on_cancel_clicked)
        self._on_sweep_axis_changed()

    @staticmethod
    def _spin(name: str, low: int, high: int, value: int) -> QSpinBox:
        spin = QSpinBox(objectName=name)
        spin.setRange(low, high)
        spin.setValue(value)
        return spin

    def _build_results(self) -> None:
        self.referenceCombo = QComboBox(objectName="compareReferenceCombo")
        self.referenceCombo.setToolTip("Speedup, memory saving and agreement are against this row")
        self.exportButton = QPushButton("Export…", objectName="compareExportButton")
        self.exportButton.setToolTip("Save the run as JSON (every sample), the table as CSV, or the plots as PNG")
        self.openButton = QPushButton("Open…", objectName="compareOpenButton")
        self.openButton.setToolTip("Show a run saved as JSON (by this view or sizelab-cli compare --out)")
        self.diffButton = QPushButton("Compare with saved run…", objectName="compareDiffButton")
        self.table = QTableWidget(0, len(COLUMNS), objectName="compareTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        for column, tip in HEADER_TIPS.items():
            self.table.horizontalHeaderItem(COLUMNS.index(column)).setToolTip(tip)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        # Sized to the contents once per fill (_fill_table), not per cell: ResizeToContents re-measured
        # a column at every setItem, 100-150 ms per refresh of a 10-row table (tests/benchmarks/ui_lateness.py).
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.diffLabel = QLabel("", objectName="compareDiffLabel")
        self.diffLabel.setWordWrap(True)
        self.diffTable = QTableWidget(0, len(DIFF_COLUMNS), objectName="compareDiffTable")
        self.diffTable.setHorizontalHeaderLabels(DIFF_COLUMNS)
        self.diffTable.verticalHeader().hide()
        self.diffTable.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.diffTable.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        for widget in (self.diffLabel, self.diffTable):
            widget.hide()

        self.scatter = pg.PlotWidget(objectName="compareScatter")
        self.scatter.setMinimumHeight(220)
        self.scatter.setBackground("w")
        self.scatter.showGrid(x=True, y=True, alpha=0.25)
        self.scatter.setTitle("Latency vs quality")
        self.scatter.setLabel("bottom", "p50 latency", units="s")  # seconds: pyqtgraph adds the prefix
        self.scatterPoints = pg.ScatterPlotItem(pen=pg.mkPen("k"), brush=pg.mkBrush(31, 119, 180, 150))
        self.frontierLine = pg.PlotDataItem(pen=pg.mkPen("#d62728", width=2, style=Qt.PenStyle.DashLine))
        self.scatter.addItem(self.frontierLine)
        self.scatter.addItem(self.scatterPoints)
        self._scatter_labels: list[pg.TextItem] = []
        self.scatterNote = QLabel("", objectName="compareScatterNote")
        self.scatterNote.setWordWrap(True)
        self.sweepPlot = pg.PlotWidget(objectName="compareSweepPlot")
        self.sweepPlot.setMinimumHeight(220)
        self.sweepPlot.setBackground("w")
        self.sweepPlot.showGrid(x=True, y=True, alpha=0.25)
        self.sweepPlot.setTitle("Latency vs sweep (p50)")
        self.sweepPlot.setLabel("left", "p50 latency", units="s")
        self.sweepPlot.addLegend(offset=(10, 5))
        for plot in (self.scatter, self.sweepPlot):
            for side in ("left", "bottom"):
                # Grid lines at major ticks only: the minor ones made a repaint of these plots cost up
                # to 22 ms (5 ms now), the longest stall of the window in a compare run
                # (tests/benchmarks/ui_lateness.py).
                plot.getAxis(side).setStyle(maxTickLevel=0)

        bar = QHBoxLayout()
        bar.addWidget(QLabel("Reference row"))
        bar.addWidget(self.referenceCombo, 1)
        bar.addWidget(self.openButton)
        bar.addWidget(self.diffButton)
        bar.addWidget(self.exportButton)
        self.plotsWidget = QWidget(objectName="comparePlots")
        plots = QHBoxLayout(self.plotsWidget)
        plots.setContentsMargins(0, 0, 0, 0)
        left = QVBoxLayout()
        left.addWidget(self.scatter, 1)
        left.addWidget(self.scatterNote)
        plots.addLayout(left, 1)
        plots.addWidget(self.sweepPlot, 1)
        self.results = QWidget()
        box = QVBoxLayout(self.results)
        box.setContentsMargins(0, 0, 0, 0)
        box.addLayout(bar)
        box.addWidget(self.table, 2)
        box.addWidget(self.diffLabel)
        box.addWidget(self.diffTable, 1)
        box.addWidget(self.plotsWidget, 2)

        self.referenceCombo.currentIndexChanged.connect(self._on_reference_changed)
        self.exportButton.clicked.connect(self._on_export_clicked)
        self.openButton.clicked.connect(self._on_open_clicked)
        self.diffButton.clicked.connect(self._on_diff_clicked)

    # ------------------------------------------------------------ choices

    def current_ladder(self) -> Ladder | None:
        ladder_id = self.ladderCombo.currentData()
        return next((ladder for ladder in self._ladders if ladder.id == ladder_id), None)

    def set_ladders(self, ladders: list[Ladder]) -> None:
        """Offer these ladders instead of the catalog's (tests and hand-made sets)."""
        self._ladders = list(ladders)
        blocked = self.ladderCombo.blockSignals(True)
        self.ladderCombo.clear()
        for ladder in self._ladders:
            self.ladderCombo.addItem(ladder.name, ladder.id)
        self.ladderCombo.blockSignals(blocked)
        self._on_ladder_changed()

    @Slot()
    def _on_ladder_changed(self, *_args) -> None:
        self.modelList.clear()
        ladder = self.current_ladder()
        for index, member in enumerate(ladder.members if ladder else ()):
            entry = member.model
            item = QListWidgetItem(f"{entry.name} — {member.variant.label(known_depth(entry))}")
            item.setData(Qt.ItemDataRole.UserRole, index)
            item.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
            item.setCheckState(Qt.CheckState.Checked)
            if entry.source == "hub" and not is_cached(entry):
                item.setFlags(Qt.ItemFlag.ItemIsUserCheckable)  # shown, but not enabled
                item.setCheckState(Qt.CheckState.Unchecked)
                item.setToolTip("Not in the local Hugging Face cache: download it from the Live tab first.")
            elif entry.synthetic:
                item.setToolTip("Random weights: latency and memory are real; quality is n/a.")
            self.modelList.addItem(item)

    def checked_members(self) -> tuple:
        ladder = self.current_ladder()
        if ladder is None:
            return ()
        return tuple(ladder.members[self.modelList.item(row).data(Qt.ItemDataRole.UserRole)]
                     for row in range(self.modelList.count())
                     if self.modelList.item(row).checkState() == Qt.CheckState.Checked)

    @Slot()
    def _on_sweep_axis_changed(self, *_args) -> None:
        self.sweepEdit.setEnabled(self.sweepAxisCombo.currentData() is not None)

    def set_devices(self, devices: list[DeviceInfo]) -> None:
        self._devices = list(devices) or [cpu_device()]
        current = self.deviceCombo.currentData() or "cpu"
        self.deviceCombo.clear()
        for device in self._devices:
            self.deviceCombo.addItem(f"{device.id} · {device.name}", device.id)
        self.deviceCombo.setCurrentIndex(max(0, self.deviceCombo.findData(current)))

    def compare_request(self) -> compare.CompareRequest:
        """The immutable request for what is ticked (raises SizeLabError if it cannot be)."""
        from core.requests import Protocol

        sweep = None
        axis = self.sweepAxisCombo.currentData()
        if axis is not None:
            sweep = compare.Sweep.parse(f"{axis}={self.sweepEdit.text().replace(' ', '')}")
        device = self.deviceCombo.currentData() or "cpu"
        ladder = self.current_ladder()
        return compare.CompareRequest(
            members=self.checked_members(),
            protocol=Protocol(batch_size=self.batchSpin.value(), seq_len=self.seqLenSpin.value(),
                              warmup=self.warmupSpin.value(), min_iterations=self.minItersSpin.value(),
                              min_seconds=self.minSecondsSpin.value(), new_tokens=self.newTokensSpin.value()),
            device=device, threads=self.threadsSpin.value() if device == "cpu" else None, sweep=sweep,
            quality=self.qualityCheck.isChecked(), ladder=ladder.id if ladder else "")

    # ------------------------------------------------------------ running

    @Slot()
    def _on_run_clicked(self) -> None:
        try:
            request = self.compare_request()
        except SizeLabError as exc:
            self._show_error(str(exc))
            return
        # A continuous live run would hold the one engine forever: stop whatever it is doing.
        self.host.cancel()
        self._collector = compare.RunCollector()
        self._pending.clear()
        self._progress = None
        self.run, self.source = None, ""
        self._refresh()
        self._error = ""
        self._job = self.host.submit("compare", request)
        self._set_running(True)
        self.statusLabel.setText("Starting…")
        self.redrawTimer.start()
        self.runStarted.emit()

    @Slot()
    def _on_cancel_clicked(self) -> None:
        if self._job is not None:
            self.host.cancel(self._job)
            self.statusLabel.setText("Cancelling after the current step…")

    def _set_running(self, running: bool) -> None:
        for widget in (self.ladderCombo, self.modelList, self.deviceCombo, self.threadsSpin, self.batchSpin,
                       self.seqLenSpin, self.warmupSpin, self.minItersSpin, self.minSecondsSpin,
                       self.newTokensSpin, self.sweepAxisCombo, self.qualityCheck, self.runButton,
                       self.openButton):
            widget.setEnabled(not running)
        self.sweepEdit.setEnabled(not running and self.sweepAxisCombo.currentData() is not None)
        self.cancelButton.setEnabled(running)

    @Slot(object, object)
    def _on_engine_started(self, devices, _versions) -> None:
        self.set_devices(devices)
        self.runButton.setEnabled(self._job is None)

    @Slot(int, object)
    def _on_engine_compared(self, number: int, record) -> None:
        if number == self._job:
            self._pending.append(record)  # shown by the timer, never per record

    @Slot(int, str)
    def _on_engine_failed(self, number: int, message: str) -> None:
        if number == self._job:
            self._error = message

    @Slot(int, str)
    def _on_host_job_finished(self, number: int, outcome: str) -> None:
        if number != self._job:
            return
        self._job = None
        self._on_redraw_timer()  # the last records
        if self.run is not None and self.run["outcome"] == "running":
            # It ended without its last record (the engine process died): its unfinished rows say so.
            self._pending.append(compare.RunFinished(outcome))
            self._on_redraw_timer()
        self.redrawTimer.stop()
        self._set_running(False)
        rows = self.run["rows"] if self.run else []
        done = sum(row["status"] == "done" for row in rows)
        failed = sum(row["status"] == "failed" for row in rows)
        summary = f"{done} of {len(rows)} rows measured" + (f", {failed} failed" if failed else "")
        if outcome == "failed":  # the run itself failed (e.g. no such device): keep its message in view
            self._show_error(f"The comparison stopped: {self._error}" if self._error else "The comparison failed.")
        else:
            self.statusLabel.setText(f"Done: {summary}." if outcome == "done" else f"Cancelled: {summary}; kept.")
        self.progress.setRange(0, 1000)  # it may still be "busy" if the run ended before its first row
        self.progress.setValue(1000 if outcome == "done" else self.progress.value())
        self.progress.setFormat({"done": "Done", "cancelled": "Cancelled", "failed": "Failed"}[outcome])

    def _show_error(self, message: str) -> None:
        self.statusLabel.setText(f"<span style='color:#c0392b'>⚠ {html.escape(message)}</span>")
        self.errorRaised.emit(message)

    @Slot()
    def _on_redraw_timer(self) -> None:
        records, self._pending = self._pending, []
        for record in records:
            self._collector.add(record)
            if isinstance(record, compare.RowProgress):
                self._progress = record
            else:
                self._dirty = True
            if isinstance(record, compare.RunStarted):
                self.run = self._collector.run  # the collector fills this same dict from now on
        if self._progress is not None:
            self._show_progress(self._progress)
            self._progress = None
        if self._dirty:
            self._refresh()

    def _show_progress(self, record: compare.RowProgress) -> None:
        total = len(self.run["rows"]) if self.run else 0
        if record.index < 0 or not total:
            self.progress.setRange(0, 0)  # busy: measuring the peak or warming up
            self.progress.setFormat(record.message)
        else:
            fraction = (record.index + (record.fraction or 0.0)) / total
            self.progress.setRange(0, 1000)
            self.progress.setValue(round(fraction * 1000))
            self.progress.setFormat(f"Row {record.index + 1}/{total} · %p%")
        latest = f" — last iteration {record.sample * 1000:.1f} ms" if record.sample is not None else ""
        self.statusLabel.setText(html.escape(record.message + latest))

    # ------------------------------------------------------------ showing a run

    def reference(self) -> int | None:
        return self.referenceCombo.currentData()

    @Slot()
    def _on_reference_changed(self, *_args) -> None:
        self._dirty = True
        self._refresh()

    def _refresh(self) -> None:
        """Table, reference choices and plots from self.run (called when a row changed, not per record)."""
        self._dirty = False
        rows = compare.table(self.run, self.reference()) if self.run else []
        front = compare.frontier(rows) if rows else []  # once per refresh: the table and the scatter share it
        self._fill_references()
        self._fill_table(rows, front)
        self._draw_scatter(rows, front)
        self._draw_sweep()

    def _fill_references(self) -> None:
        current = self.referenceCombo.currentData()
        choices = [(None, "Most parameters (default)")]
        for row in (self.run or {}).get("rows", []):
            if row["status"] == "done":
                choices.append((row["index"], f"#{row['index'] + 1} {row['model']['name']} [{row['label']}]"))
        if [self.referenceCombo.itemData(i) for i in range(self.referenceCombo.count())] == [c[0] for c in choices]:
            return
        blocked = self.referenceCombo.blockSignals(True)
        self.referenceCombo.clear()
        for data, text in choices:
            self.referenceCombo.addItem(text, data)
        self.referenceCombo.setCurrentIndex(max(0, self.referenceCombo.findData(current)))
        self.referenceCombo.blockSignals(blocked)

    def _fill_table(self, rows: list[dict], front: list[int]) -> None:
        on_front = set(front)
        self.table.setUpdatesEnabled(False)
        try:
            self._fill_rows(rows, on_front)
        finally:
            self.table.setUpdatesEnabled(True)
        self.table.resizeColumnsToContents()

    def _fill_rows(self, rows: list[dict], on_front: set[int]) -> None:
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            variant = row["variant"] + (" ◆" if row["index"] in on_front else "")
            if row["status"] == "done":
                cells = (row["index"] + 1, row["model"], variant, "reference" if row["reference"] else "done",
                         fmt_count(row["params_total"]), fmt_count(row["params_non_embedding"]),
                         fmt_bytes(row["weight_bytes"]), f"{row['load_s']:.2f}",
                         f"{row['first_inference_s'] * 1000:.1f}",
                         f"{row['p50_s'] * 1000:.2f}" + (" ~" if row["noisy"] else ""),
                         f"{row['p90_s'] * 1000:.2f}", f"{row['p99_s'] * 1000:.2f}", f"{row['items_per_s']:.1f}",
                         fmt_bytes(row["memory_bytes"]), compare.fmt_quality(row["quality_metric"], row["quality"]),
                         _pct(row["agreement"]), "n/a" if row["speedup"] is None else f"{row['speedup']:.2f}×",
                         _pct(row["memory_saving"]), _pct(row["weight_saving"]), f"{row['gflops']:.1f}",
                         _pct(row["fraction_of_peak"]))
            else:
                status = row["status"] + (f": {row['error']}" if row.get("error") else "")
                cells = (row["index"] + 1, row["model"], variant, status) + ("",) * (len(COLUMNS) - 4)
            for c, value in enumerate(cells):
                item = QTableWidgetItem(str(value))
                if c >= 4 or c == 0:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if row["status"] == "failed":
                    item.setForeground(QBrush(QColor("#c0392b")))
                    item.setToolTip(row.get("error") or "")
                elif row["status"] == "done" and COLUMNS[c] == "quality" and row["quality"] is None:
                    item.setToolTip(row.get("quality_note") or "no quality")
                elif row["status"] == "done" and COLUMNS[c] == "p50 ms" and row["noisy"]:
                    item.setToolTip("Noisy: the spread (IQR) is over 10% of the median; "
                                    "something else was using this machine, or too few iterations.")
                if row["reference"]:
                    font = QFont(item.font())
                    font.setBold(True)
                    item.setFont(font)
                self.table.setItem(r, c, item)

    def _draw_scatter(self, rows: list[dict], front_indices: list[int]) -> None:
        for label in self._scatter_labels:
            self.scatter.removeItem(label)
        self._scatter_labels = []
        scored = [r for r in rows if r["status"] == "done" and r["quality"] is not None]
        if not scored:
            self.scatterPoints.setData([], [])
            self.frontierLine.setData([], [])
            done = any(r["status"] == "done" for r in rows)
            self.scatterNote.setText("No quality to plot: synthetic rows have none (n/a)." if done else "")
            return
        metric = scored[0]["quality_metric"]
        scale = 100 if metric == "accuracy" else 1
        self.scatter.setLabel("left", "accuracy (%)" if metric == "accuracy" else metric)
        biggest = max(max(r["memory_bytes"] for r in scored), 1)
        spots = [{"pos": (r["p50_s"], r["quality"] * scale),
                  "size": 10 + 30 * math.sqrt(max(r["memory_bytes"], 0) / biggest),
                  "data": r["index"]} for r in scored]
        self.scatterPoints.setData(spots)
        by_index = {r["index"]: r for r in scored}
        front = [by_index[i] for i in front_indices]
        self.frontierLine.setData([r["p50_s"] for r in front], [r["quality"] * scale for r in front])
        # Ranges by hand: auto-range zooms one point to nothing and ignores the labels' width.
        xs = [spot["pos"][0] for spot in spots]
        ys = [spot["pos"][1] for spot in spots]
        spread = max(max(ys) - min(ys), 4.0)
        self.scatter.setXRange(0, max(xs) * 1.25, padding=0)
        self.scatter.setYRange(min(ys) - 0.25 * spread, max(ys) + 0.25 * spread, padding=0)
        for r in front[:MAX_FRONT_LABELS]:  # a saved run of 20,000 rows may have thousands on its frontier
            label = pg.TextItem(f"#{r['index'] + 1} {r['variant']}", color="#222", anchor=(0, 1))
            label.setPos(r["p50_s"], r["quality"] * scale)
            self.scatter.addItem(label)
            self._scatter_labels.append(label)
        left_out = len([r for r in rows if r["status"] == "done"]) - len(scored)
        named = ", ".join("#" + str(r["index"] + 1) for r in front[:MAX_FRONT_LABELS])
        more = f" and {len(front) - MAX_FRONT_LABELS:,} more" if len(front) > MAX_FRONT_LABELS else ""
        self.scatterNote.setText(f"Dashed: Pareto frontier ({named}{more}). "
                                 "Bigger bubble: more memory."
                                 + (f"; {left_out} row(s) without quality not plotted." if left_out else ""))

    def _draw_sweep(self) -> None:
        self.sweepPlot.clear()
        if not self.run or not self.run["request"].get("sweep"):
            self.sweepPlot.setTitle("Latency vs sweep (p50): no sweep asked")
            return
        axis = self.run["request"]["sweep"]["axis"]
        self.sweepPlot.setTitle(f"p50 latency vs {'sequence length' if axis == 'seq_len' else 'batch size'}")
        self.sweepPlot.setLabel("bottom", "sequence length" if axis == "seq_len" else "batch size")
        for n, row in enumerate(r for r in self.run["rows"] if r["status"] == "done" and r.get("sweep")):
            xs = [point["value"] for point in row["sweep"]]
            ys = [point["latency"]["p50"] for point in row["sweep"]]
            color = PALETTE[n % len(PALETTE)]
            self.sweepPlot.plot(xs, ys, pen=pg.mkPen(color, width=2), symbol="o", symbolBrush=color,
                                symbolSize=6, name=f"#{row['index'] + 1} {row['label']}")

    # ------------------------------------------------------------ files

    def show_run(self, run: dict, source: str = "") -> None:
        """Show a finished or re-opened run (the reference goes back to the default)."""
        self.run, self.source = run, source
        blocked = self.referenceCombo.blockSignals(True)
        self.referenceCombo.setCurrentIndex(0)
        self.referenceCombo.blockSignals(blocked)
        self._refresh()
        if source:
            self.statusLabel.setText(f"Showing {html.escape(source)} ({run.get('created', '?')}, "
                                     f"{run.get('outcome', '?')}).")

    def open_run(self, path: str | Path) -> None:
        """Read a saved run off the UI thread, then show it (fileShown), or say why not (errorRaised)."""
        self._read_file(Path(path), "open")

    def _read_file(self, path: Path, purpose: str) -> None:
        self._reads += 1
        self._read_purpose = (purpose, path.name)
        self.openButton.setEnabled(False)
        self.diffButton.setEnabled(False)
        self.progress.setRange(0, 0)  # busy: reading has no fraction to show
        self.progress.setFormat(f"Opening {path.name}")
        self._reader.start(self._reads, path)

    def _read_done(self) -> None:
        self.openButton.setEnabled(self._job is None)
        self.diffButton.setEnabled(True)
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setFormat("")

    @Slot(int, str)
    def _on_reader_progressed(self, number: int, message: str) -> None:
        if number == self._reads:
            self.statusLabel.setText(html.escape(message) + "…")

    @Slot(int, object)
    def _on_reader_read(self, number: int, run) -> None:
        if number != self._reads:
            return
        self._read_done()
        purpose, name = self._read_purpose
        if purpose == "open":
            self.show_run(run, name)
        else:
            self.show_diff(run, name)
        self.fileShown.emit(name)

    @Slot(int, str)
    def _on_reader_failed(self, number: int, message: str) -> None:
        if number == self._reads:
            self._read_done()
            self._show_error(message)

    def show_diff(self, other: dict, name: str) -> None:
        """Side by side: the run shown (A) against another saved run (B)."""
        if not self.run:
            self._show_error("Run or open a comparison first, then compare it with a saved one.")
            return
        diff = compare.diff_runs(self.run, other)
        self.diffTable.setRowCount(len(diff["rows"]))
        for r, row in enumerate(diff["rows"]):
            def ms(value):
                return "—" if value is None else f"{value * 1000:.2f}"

            def q(value):
                return "n/a" if value is None else f"{value:.3g}"

            def change(value):
                return "" if value is None else f"{value:+.0%}"

            cells = (row["model"], row["variant"], ms(row["p50_s_a"]), ms(row["p50_s_b"]), change(row["p50_s_change"]),
                     fmt_bytes(row["memory_bytes_a"]) if row["memory_bytes_a"] is not None else "—",
                     fmt_bytes(row["memory_bytes_b"]) if row["memory_bytes_b"] is not None else "—",
                     change(row["memory_bytes_change"]), q(row["quality_a"]), q(row["quality_b"]),
                     "" if row["quality_delta"] is None else f"{row['quality_delta']:+.3g}")
            for c, value in enumerate(cells):
                self.diffTable.setItem(r, c, QTableWidgetItem(value))
        changes = [f"{title} {key}: {a!r} → {b!r}" for title, part in (("protocol", "protocol_changes"),
                                                                       ("setup", "setup_changes"),
                                                                       ("environment", "environment_changes"))
                   for key, (a, b) in diff[part].items()]
        names = f"<b>A</b> = {html.escape(self.source or 'this run')}, <b>B</b> = {html.escape(name)}"
        self.diffLabel.setText(names + "<br>" + (html.escape("; ".join(changes)) if changes
                                                 else "Same protocol and setup."))
        self.diffLabel.show()
        self.diffTable.show()

    def export(self, path: str | Path, reference: int | None = None) -> Path:
        """Save by suffix: .json (the run, every sample), .csv (the table), .png (the plots)."""
        if not self.run:
            raise SizeLabError("Nothing to export yet: run or open a comparison first.")
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix == ".json":
            return compare.save_run(path, self.run)
        if suffix == ".csv":
            return compare.save_csv(path, self.run, reference if reference is not None else self.reference())
        if suffix == ".png":
            if not self.plotsWidget.grab().save(str(path)):
                raise OSError(f"Could not write {path}")
            return path
        raise SizeLabError(f"Export as .json, .csv or .png, not {suffix or 'no suffix'}.")

    @Slot()
    def _on_export_clicked(self) -> None:
        path, chosen = QFileDialog.getSaveFileName(
            self, "Export comparison", os.path.join(os.path.expanduser("~"), "sizelab-compare.json"),
            "JSON run, every sample (*.json);;CSV table (*.csv);;PNG plots (*.png)")
        if not path:
            return
        if not Path(path).suffix:  # the filter's suffix, when the user typed none
            path += "." + chosen.split("*.")[-1].rstrip(")")
        try:
            self.export(path)
        except (OSError, SizeLabError) as exc:
            self._show_error(f"Export failed: {exc}")
        else:
            self.statusLabel.setText(f"Saved {html.escape(path)}")

    def _ask_run_file(self, title: str) -> str | None:
        path, _ = QFileDialog.getOpenFileName(self, title, os.path.expanduser("~"), "Comparison runs (*.json)")
        return path or None

    @Slot()
    def _on_open_clicked(self) -> None:
        path = self._ask_run_file("Open a saved comparison")
        if path:
            self.open_run(path)

    @Slot()
    def _on_diff_clicked(self) -> None:
        path = self._ask_run_file("Compare with a saved run")
        if path:
            self._read_file(Path(path), "diff")
