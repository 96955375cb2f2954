"""The Compare view: tick a size ladder, run one benchmark protocol over it, read the table and plots.

The run is a "compare" job on the same long-lived engine process as the live view (one model in
memory at a time). This module builds the controls and arranges the results; the comparison's state
and its job are the presenter's (gui/compare_presenter.py), which folds the records once per redraw
tick; the table is gui/compare_table.py's model of core.columns, the plots gui/compare_plots.py's.
Tables, frontier, files and diffs are core.compare_data's. No torch here.
"""

import html
import os
import queue
import threading
from pathlib import Path

from PySide6.QtCore import QEvent, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QGroupBox,
                               QHBoxLayout, QHeaderView, QLabel, QLineEdit, QListWidget, QListWidgetItem,
                               QProgressBar, QPushButton, QSpinBox, QSplitter, QTableView, QVBoxLayout, QWidget)

from core import compare_data as compare
from core.advisor import DeviceInfo, cpu_device
from core.catalog import Catalog, Ladder, is_cached, known_depth
from core.errors import SizeLabError
from core.records import Outcome
from core.requests import Protocol

from .compare_plots import ComparePlots
from .compare_presenter import ComparePresenter
from .compare_table import CompareTableModel, DiffTableModel, FrozenColumnTable, frozen_count
from .model_panel import default_threads
from .pictures import png_bytes
from .plots import REDRAW_MS


def _usable(ladder: Ladder) -> bool:
    """Hub ladders are offered only when some member is in the local cache (no downloads here)."""
    return any(m.model.source != "hub" or is_cached(m.model) for m in ladder.members)


class _RunFileReader:
    """Reads saved runs on a thread of its own; the view collects what it found on the UI thread.

    Reading and checking a run of 20,000 rows takes seconds, which froze the window. The thread
    touches no Qt object: it puts (what, read number, value) in a queue that the view drains from a
    timer. (It emitted Qt signals before, and one emitted while the view was being deleted crashed
    the process with a segmentation fault.) A plain daemon thread: closing the window mid-read must
    not wait for it; a stale result (a newer read was asked for) is dropped by the view.
    """

    def __init__(self) -> None:
        self.results: queue.Queue = queue.Queue()

    def start(self, number: int, path: Path) -> None:
        threading.Thread(target=self._read, args=(number, path), name="run-file-reader", daemon=True).start()

    def _read(self, number: int, path: Path) -> None:
        put = self.results.put
        try:
            run = compare.load_run(path, progress=lambda message: put(("progressed", number, message)))
        except SizeLabError as exc:
            put(("failed", number, str(exc)))
        except Exception as exc:  # noqa: BLE001 - a bug must reach the user as a message, not end the thread
            put(("failed", number, f"Unexpected error reading {path.name} ({type(exc).__name__}): {exc}"))
        else:
            put(("read", number, run))


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
        self.presenter = ComparePresenter(host, self)
        self._devices: list[DeviceInfo] = [cpu_device()]
        self._ladders = [ladder for ladder in catalog.ladders if _usable(ladder)]
        self._reader = _RunFileReader()
        self._readTimer = QTimer(self, interval=50)  # drains the reader's results on the UI thread
        self._readTimer.timeout.connect(self._on_read_timer)
        self._reads = 0  # the number of the latest read; older ones are stale
        self._read_purpose: tuple[str, str] = ("", "")  # ("open" | "diff", file name) of the latest read

        self._build_controls()
        self._build_results()
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.controls)
        splitter.addWidget(self.results)
        splitter.setStretchFactor(0, 0)  # the controls keep their width; the results take the rest
        splitter.setStretchFactor(1, 1)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(splitter)

        self.redrawTimer = QTimer(self)
        self.redrawTimer.setInterval(REDRAW_MS)
        self.redrawTimer.timeout.connect(self.presenter.fold)
        host.started.connect(self._on_engine_started)
        self.presenter.started.connect(self.runStarted)
        self.presenter.progressed.connect(self._on_presenter_progressed)
        self.presenter.changed.connect(self._refresh)
        self.presenter.finished.connect(self._on_presenter_finished)
        self._on_ladder_changed()
        self._set_running(False)
        self.runButton.setEnabled(False)  # until the engine is up (it lists the devices)

    # ------------------------------------------------------------ construction

    def _build_controls(self) -> None:
        self.ladderCombo = QComboBox(objectName="compareLadderCombo")
        # a ladder's long name made the controls take half the tab: the combo elides it, its list shows it whole
        self.ladderCombo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.ladderCombo.setMinimumContentsLength(24)
        for ladder in self._ladders:
            self.ladderCombo.addItem(ladder.name, ladder.id)
        self.modelList = QListWidget(objectName="compareModelList")
        self.modelList.setMinimumHeight(100)  # about four rows: the column must fit 720 lines at 150% too
        self.deviceCombo = QComboBox(objectName="compareDeviceCombo")
        self.threadsSpin = QSpinBox(objectName="compareThreadsSpin")
        self.threadsSpin.setRange(1, max(1, os.cpu_count() or 1))
        self.threadsSpin.setValue(default_threads())  # all cores measure faster, but starve the window
        self.threadsSpin.setToolTip("CPU threads for torch. All cores give the best numbers; "
                                    "the default leaves one core for the window.")
        defaults = Protocol()  # the benchmark defaults are the protocol's, written once
        self.batchSpin = self._spin("compareBatchSpin", 1, 512, defaults.batch_size)
        self.seqLenSpin = self._spin("compareSeqLenSpin", 4, 4096, defaults.seq_len)
        self.warmupSpin = self._spin("compareWarmupSpin", 0, 1000, defaults.warmup)
        self.minItersSpin = self._spin("compareMinItersSpin", 1, 100_000, defaults.min_iterations)
        self.minSecondsSpin = QDoubleSpinBox(objectName="compareMinSecondsSpin")
        self.minSecondsSpin.setRange(0, 3600)
        self.minSecondsSpin.setDecimals(1)
        self.minSecondsSpin.setSuffix(" s")
        self.minSecondsSpin.setValue(defaults.min_seconds)
        self.newTokensSpin = self._spin("compareNewTokensSpin", 1, 1024, defaults.new_tokens)
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
        self.tableModel = CompareTableModel(self)
        # who each row is (#, model, variant) stays in view while its figures scroll sideways
        self.table = FrozenColumnTable(frozen_count(), objectName="compareTable")
        self.table.setModel(self.tableModel)
        self.table.verticalHeader().hide()
        # rows as tall as their text: more of a ladder in view above the plots
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 8)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        # Sized to the contents once per fill (_fill_table): ResizeToContents re-measured a column at
        # every cell set, 100-150 ms per refresh of a 10-row table (tests/benchmarks/ui_lateness.py).
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.diffLabel = QLabel("", objectName="compareDiffLabel")
        self.diffLabel.setWordWrap(True)
        self.diffModel = DiffTableModel(self)
        self.diffTable = QTableView(objectName="compareDiffTable")
        self.diffTable.setModel(self.diffModel)
        self.diffTable.verticalHeader().hide()
        self.diffTable.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        for widget in (self.diffLabel, self.diffTable):
            widget.hide()

        bar = QHBoxLayout()
        bar.addWidget(QLabel("Reference row"))
        bar.addWidget(self.referenceCombo, 1)
        bar.addWidget(self.openButton)
        bar.addWidget(self.diffButton)
        bar.addWidget(self.exportButton)
        self.plotsWidget = ComparePlots()
        self.results = QWidget()
        box = QVBoxLayout(self.results)
        box.setContentsMargins(0, 0, 0, 0)
        box.addLayout(bar)
        # A splitter, not stretch factors: the plots' word-wrapped note made the layout give the plots
        # all the height, and the table shrank to one row when a diff was shown. The user can drag it.
        self.diffBox = QWidget(objectName="compareDiffBox")
        diff = QVBoxLayout(self.diffBox)
        diff.setContentsMargins(0, 0, 0, 0)
        diff.addWidget(self.diffLabel)
        diff.addWidget(self.diffTable, 1)
        self.diffBox.hide()
        self.resultsSplitter = QSplitter(Qt.Orientation.Vertical, objectName="compareResultsSplitter")
        self.resultsSplitter.setChildrenCollapsible(False)
        for widget, stretch in ((self.table, 2), (self.diffBox, 1), (self.plotsWidget, 3)):
            self.resultsSplitter.addWidget(widget)
            self.resultsSplitter.setStretchFactor(self.resultsSplitter.indexOf(widget), stretch)
        box.addWidget(self.resultsSplitter, 1)
        self._split_for: bool | None = None  # whether the results' split was made with a diff shown
        self.resultsSplitter.installEventFilter(self)

        self.referenceCombo.currentIndexChanged.connect(self._on_reference_changed)
        self.exportButton.clicked.connect(self._on_export_clicked)
        self.openButton.clicked.connect(self._on_open_clicked)
        self.diffButton.clicked.connect(self._on_diff_clicked)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt's name
        if watched is self.resultsSplitter and event.type() == QEvent.Type.Resize and self._split_for is None:
            self._split_results()  # the first time the results have their size
        return super().eventFilter(watched, event)

    def _split_results(self) -> None:
        """Share the results' height: the table 2/5 and the plots 3/5, or with a diff shown 3:2:4.
        Once at the first size and when a diff first appears: after that the user's drags stand."""
        diff = not self.diffBox.isHidden()
        total = self.resultsSplitter.height() - self.resultsSplitter.handleWidth() * (2 if diff else 1)
        if total <= 0 or self._split_for == diff:
            return
        self._split_for = diff
        shares = (3, 2, 4) if diff else (2, 0, 3)
        self.resultsSplitter.setSizes([total * share // sum(shares) for share in shares])

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
        self._set_running(True)
        self.statusLabel.setText("Starting…")
        self.redrawTimer.start()
        self.presenter.start(request)

    @Slot()
    def _on_cancel_clicked(self) -> None:
        if self.presenter.cancel():
            self.statusLabel.setText("Cancelling after the current step…")

    @property
    def run(self) -> dict | None:
        """The run shown: the one measuring, or a re-opened one."""
        return self.presenter.run

    @property
    def source(self) -> str:
        return self.presenter.source

    def running(self) -> bool:
        """A comparison is running (submitted and not finished)."""
        return self.presenter.running()

    def _set_running(self, running: bool) -> None:
        for widget in (self.ladderCombo, self.modelList, self.deviceCombo, self.threadsSpin, self.batchSpin,
                       self.seqLenSpin, self.warmupSpin, self.minItersSpin, self.minSecondsSpin,
                       self.newTokensSpin, self.sweepAxisCombo, self.qualityCheck, self.runButton,
                       self.openButton):
            widget.setEnabled(not running)
        self.sweepEdit.setEnabled(not running and self.sweepAxisCombo.currentData() is not None)
        self.cancelButton.setEnabled(running)

    @Slot(object)
    def _on_engine_started(self, event) -> None:
        self.set_devices(event.devices)
        self.runButton.setEnabled(not self.running())

    @Slot(str)
    def _on_presenter_finished(self, outcome: str) -> None:
        self.redrawTimer.stop()
        self._set_running(False)
        summary = self.presenter.summary()
        if outcome == Outcome.FAILED:  # the run itself failed (e.g. no such device): keep its message in view
            error = self.presenter.error
            self._show_error(f"The comparison stopped: {error}" if error else "The comparison failed.")
        else:
            self.statusLabel.setText(f"Done: {summary}." if outcome == Outcome.DONE else f"Cancelled: {summary}; kept.")
        self.progress.setRange(0, 1000)  # it may still be "busy" if the run ended before its first row
        self.progress.setValue(1000 if outcome == Outcome.DONE else self.progress.value())
        self.progress.setFormat({Outcome.DONE: "Done", Outcome.CANCELLED: "Cancelled", Outcome.FAILED: "Failed"}[outcome])

    def _show_error(self, message: str) -> None:
        self.statusLabel.setText(f"<span style='color:#c0392b'>⚠ {html.escape(message)}</span>")
        self.errorRaised.emit(message)

    @Slot(object)
    def _on_presenter_progressed(self, record) -> None:
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
        self._refresh()

    @Slot()
    def _refresh(self) -> None:
        """Table, reference choices and plots from the run (when a row changed, not per record)."""
        rows = compare.table(self.run, self.reference()) if self.run else []
        self._fill_references()
        self._fill_table(rows)
        self.plotsWidget.draw(self.run, rows)

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

    def _fill_table(self, rows: list[dict]) -> None:
        self.tableModel.set_rows(rows)
        self.table.resizeColumnsToContents()

    # ------------------------------------------------------------ files

    def show_run(self, run: dict, source: str = "") -> None:
        """Show a finished or re-opened run (the reference goes back to the default)."""
        blocked = self.referenceCombo.blockSignals(True)
        self.referenceCombo.setCurrentIndex(0)
        self.referenceCombo.blockSignals(blocked)
        self.presenter.show(run, source)
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
        self._readTimer.start()

    def _read_done(self) -> None:
        self.openButton.setEnabled(not self.presenter.running())
        self.diffButton.setEnabled(True)
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setFormat("")

    @Slot()
    def _on_read_timer(self) -> None:
        handlers = {"progressed": self._on_reader_progressed, "read": self._on_reader_read,
                    "failed": self._on_reader_failed}
        while True:
            try:
                what, number, value = self._reader.results.get_nowait()
            except queue.Empty:
                return
            if what != "progressed" and number == self._reads:
                self._readTimer.stop()  # the latest read is done; older ones are dropped as they come
            handlers[what](number, value)

    def _on_reader_progressed(self, number: int, message: str) -> None:
        if number == self._reads:
            self.statusLabel.setText(html.escape(message) + "…")

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
        self.diffModel.set_rows(diff["rows"])
        changes = [f"{title} {key}: {a!r} → {b!r}" for title, part in (("protocol", "protocol_changes"),
                                                                       ("setup", "setup_changes"),
                                                                       ("environment", "environment_changes"))
                   for key, (a, b) in diff[part].items()]
        names = f"<b>A</b> = {html.escape(self.source or 'this run')}, <b>B</b> = {html.escape(name)}"
        self.diffLabel.setText(names + "<br>" + (html.escape("; ".join(changes)) if changes
                                                 else "Same protocol and setup."))
        self.diffLabel.show()
        self.diffTable.show()
        self.diffBox.show()
        self._split_results()

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
            return compare.save_png(path, self.png_bytes())
        raise SizeLabError(f"Export as .json, .csv or .png, not {suffix or 'no suffix'}.")

    def png_bytes(self) -> bytes:
        """The plots as a PNG: twice the screen's pixels, the run's settings written above them (a
        picture on a slide must say what was measured), no buttons."""
        return png_bytes(self.plotsWidget.image(compare.caption(self.run)))

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
