"""The main window: model panel | input and result | live plots | history.

Data flows one way: widgets -> immutable request -> the session (gui/session.py) -> engine process ->
core -> records -> the job's signals -> the session's pending records -> one timer that updates one plot
per tick (each at 1000 / REDRAW_MS Hz), the history and the result view. This class builds and
arranges widgets and shows what the session says; the session holds the jobs and the model's state.
"""

import importlib.metadata as metadata
import os
import sys
import time

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QApplication, QCheckBox, QFileDialog, QHBoxLayout, QHeaderView, QLabel,
                               QMainWindow, QMessageBox, QPushButton, QScrollArea, QSpinBox, QSplitter,
                               QTableView, QTabWidget, QVBoxLayout, QWidget)

from core.catalog import DEFAULT_MODEL_ID, load_catalog
from core.errors import SizeLabError
from core.protocol import Outcome

from .compare_view import CompareView
from .engine_host import EngineHost, default_engine
from .history import HistoryModel
from .model_panel import ModelPanel
from .plots import REDRAW_MS, LatencyPlot, MemoryPlot, ThroughputPlot, export_csv
from .run_panel import RunPanel
from .session import LiveSession
from .settings import Settings


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "?"


class MainWindow(QMainWindow):
    def __init__(self, engine_factory=default_engine, autoload: bool = False, parent=None):
        """autoload: load the selected model as soon as the engine is up, if it is the bundled one."""
        super().__init__(parent)
        self._autoload = autoload
        self.setWindowTitle("Model Size Lab")
        self.settings = Settings()
        self.catalog = load_catalog()
        self.clock_zero = time.monotonic()
        self._last_token_seconds = 0.0
        self._closing = False

        self.modelPanel = ModelPanel(self.catalog)
        self.runPanel = RunPanel()
        self.errorBanner = QLabel(objectName="errorBanner")
        self.errorBanner.setWordWrap(True)
        self.errorBanner.setStyleSheet("background:#fdecea; color:#611a15; border:1px solid #f5c6cb; padding:6px;")
        self.errorBanner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.errorBanner.hide()
        self._build_plots()
        self._build_history()
        self._build_layout()
        self._build_menus()
        self._build_status_bar()

        self.host = EngineHost(engine_factory, self)
        self.session = LiveSession(self.host, self)
        self.host.started.connect(self._on_engine_started)
        self.host.engineLost.connect(self._on_engine_lost)
        self.session.loadStarted.connect(self._on_session_load_started)
        self.session.loadProgressed.connect(self.modelPanel.set_progress)
        self.session.loaded.connect(self._on_session_loaded)
        self.session.loadFinished.connect(self._on_session_load_finished)
        self.session.runStarted.connect(self._on_session_run_started)
        self.session.tokenGenerated.connect(self._on_session_token_generated)
        self.session.runFinished.connect(self._on_session_run_finished)
        self.session.modelLost.connect(self._on_session_model_lost)
        self.session.errorRaised.connect(self.show_error)
        # Built here, not in _build_layout: it shares the engine (one model in memory at a time).
        self.compareView = CompareView(self.catalog, self.host)
        self.tabs.addTab(self.compareView, "Compare")
        self.compareView.runStarted.connect(self._on_compare_view_run_started)
        self.compareView.errorRaised.connect(self.show_error)
        self.modelPanel.loadRequested.connect(self._on_model_panel_load_requested)
        self.modelPanel.cancelRequested.connect(self._on_model_panel_cancel_requested)
        self.modelPanel.taskChanged.connect(self._on_model_panel_task_changed)
        self.modelPanel.errorRaised.connect(self.show_error)
        self.runPanel.runRequested.connect(self._on_run_panel_run_requested)
        self.runPanel.stopRequested.connect(self._on_run_panel_stop_requested)

        self.redrawTimer = QTimer(self)
        self.redrawTimer.setInterval(REDRAW_MS // len(self.plots))  # one plot per tick
        self._next_plot = 0
        self.redrawTimer.timeout.connect(self._on_redraw_timer)
        self._restore_settings()
        self.redrawTimer.start()
        self.host.start()

    # ------------------------------------------------------------ construction

    def _build_plots(self) -> None:
        self.latencyPlot = LatencyPlot()
        self.memoryPlot = MemoryPlot()
        self.throughputPlot = ThroughputPlot()
        self.plots = [self.latencyPlot, self.memoryPlot, self.throughputPlot]
        self.windowSpin = QSpinBox(objectName="windowSpin")
        self.windowSpin.setRange(5, 3600)
        self.windowSpin.setSuffix(" s")
        self.windowSpin.setToolTip("How many seconds the plots show")
        self.pauseCheck = QCheckBox("Pause", objectName="pauseCheck")
        self.pauseCheck.setToolTip("Stop redrawing (data is still recorded); paused plots pan and zoom together")
        self.pauseCheck.toggled.connect(self._on_pause_check_toggled)
        self.clearPlotsButton = QPushButton("Clear", objectName="clearPlotsButton")
        self.exportCsvButton = QPushButton("Export CSV…", objectName="exportPlotCsvButton")
        self.exportPngButton = QPushButton("Export PNG…", objectName="exportPlotPngButton")
        self.clearPlotsButton.clicked.connect(self._on_clear_plots_clicked)
        self.exportCsvButton.clicked.connect(self._on_export_plot_csv)
        self.exportPngButton.clicked.connect(self._on_export_plot_png)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Window"))
        bar.addWidget(self.windowSpin)
        bar.addWidget(self.pauseCheck)
        bar.addStretch()
        for button in (self.clearPlotsButton, self.exportCsvButton, self.exportPngButton):
            bar.addWidget(button)
        self.plotsWidget = QWidget(objectName="plotsWidget")
        box = QVBoxLayout(self.plotsWidget)
        box.setContentsMargins(0, 0, 0, 0)
        box.addLayout(bar)
        self.plotSplitter = QSplitter(Qt.Orientation.Vertical)
        for plot in self.plots:
            self.plotSplitter.addWidget(plot)
        box.addWidget(self.plotSplitter, 1)

    def _build_history(self) -> None:
        self.historyModel = HistoryModel(self)
        self.historyTable = QTableView(objectName="historyTable")
        self.historyTable.setModel(self.historyModel)
        self.historyTable.setAlternatingRowColors(True)
        self.historyTable.verticalHeader().hide()
        self.historyTable.setWordWrap(False)
        self.historyTable.verticalHeader().setDefaultSectionSize(self.historyTable.fontMetrics().height() + 8)
        self.historyTable.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.historyTable.horizontalHeader().setStretchLastSection(True)
        self.historyTable.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.exportHistoryButton = QPushButton("Export history…", objectName="exportHistoryButton")
        self.exportHistoryButton.clicked.connect(self._on_export_history)
        self.clearHistoryButton = QPushButton("Clear", objectName="clearHistoryButton")
        self.clearHistoryButton.clicked.connect(self.historyModel.clear)
        self.historyWidget = QWidget()
        box = QVBoxLayout(self.historyWidget)
        box.setContentsMargins(0, 0, 0, 0)
        head = QHBoxLayout()
        head.addWidget(QLabel("<b>History</b> (this session)"))
        head.addStretch()
        head.addWidget(self.clearHistoryButton)
        head.addWidget(self.exportHistoryButton)
        box.addLayout(head)
        box.addWidget(self.historyTable)

    def _build_layout(self) -> None:
        left = QScrollArea()
        left.setWidget(self.modelPanel)
        left.setWidgetResizable(True)
        left.setMinimumWidth(360)
        self.rightSplitter = QSplitter(Qt.Orientation.Vertical, objectName="rightSplitter")
        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.runPanel)
        top.addWidget(self.plotsWidget)
        top.setStretchFactor(0, 2)
        top.setStretchFactor(1, 3)
        self.topSplitter = top
        self.rightSplitter.addWidget(top)
        self.rightSplitter.addWidget(self.historyWidget)
        self.rightSplitter.setStretchFactor(0, 4)
        self.rightSplitter.setStretchFactor(1, 1)
        self.mainSplitter = QSplitter(Qt.Orientation.Horizontal, objectName="mainSplitter")
        self.mainSplitter.addWidget(left)
        self.mainSplitter.addWidget(self.rightSplitter)
        self.mainSplitter.setStretchFactor(1, 1)
        central = QWidget()
        box = QVBoxLayout(central)
        box.addWidget(self.errorBanner)
        self.tabs = QTabWidget(objectName="mainTabs")
        self.tabs.addTab(self.mainSplitter, "Live")
        box.addWidget(self.tabs, 1)
        self.setCentralWidget(central)
        self.resize(1400, 900)

    def _action(self, menu, text, slot, shortcut=None) -> QAction:
        action = QAction(text, self)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self._action(file_menu, "Export &history as CSV…", self._on_export_history)
        self._action(file_menu, "Export plot &data as CSV…", self._on_export_plot_csv)
        self._action(file_menu, "Export plot &image as PNG…", self._on_export_plot_png)
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        model_menu = self.menuBar().addMenu("&Model")
        self._action(model_menu, "&Load", self.modelPanel.loadButton.click, "Ctrl+L")
        self._action(model_menu, "&Cancel loading", self._on_model_panel_cancel_requested)
        view_menu = self.menuBar().addMenu("&View")
        self._action(view_menu, "&Larger text", lambda: self._scale_font(+2), QKeySequence.StandardKey.ZoomIn)
        self._action(view_menu, "&Smaller text", lambda: self._scale_font(-2), QKeySequence.StandardKey.ZoomOut)
        self._action(view_menu, "&Reset text size", lambda: self._scale_font(0), "Ctrl+0")
        help_menu = self.menuBar().addMenu("&Help")
        self._action(help_menu, "&About", self._on_about)

    def _build_status_bar(self) -> None:
        self.deviceStatus = QLabel("Device: —")
        self.versionStatus = QLabel(f"torch {_version('torch')} · transformers {_version('transformers')}")
        bar = self.statusBar()
        bar.addPermanentWidget(self.deviceStatus)
        bar.addPermanentWidget(self.versionStatus)
        bar.showMessage("Starting the inference engine…")

    # ------------------------------------------------------------ settings

    def _restore_settings(self) -> None:
        s = self.settings
        index = self.modelPanel.taskCombo.findData(s.get("task"))
        if index >= 0:
            self.modelPanel.taskCombo.setCurrentIndex(index)
        self.runPanel.set_task(self.modelPanel.task)
        if not self.modelPanel.select_model(s.get("model_id")):
            self.modelPanel.select_model(DEFAULT_MODEL_ID)
        self.modelPanel.int8Check.setChecked(s.get("int8"))
        if not s.get("int8"):
            self.modelPanel.precisionCombo.setCurrentText(s.get("precision"))
        if s.get("layers") > 0:
            self.modelPanel.layersSpin.setValue(s.get("layers"))
        if s.get("threads") > 0:
            self.modelPanel.threadsSpin.setValue(s.get("threads"))
        self.windowSpin.setValue(s.get("plot_window_s"))
        self.runPanel.maxTokensSpin.setValue(s.get("max_new_tokens"))
        if s.get("font_points") > 0:
            self._set_font_points(s.get("font_points"))
        for name, widget in (("main", self), ("mainSplitter", self.mainSplitter),
                             ("rightSplitter", self.rightSplitter), ("topSplitter", self.topSplitter)):
            state = s.geometry(name)
            if state is not None:
                widget.restoreGeometry(state) if widget is self else widget.restoreState(state)

    def _save_settings(self) -> None:
        s, panel = self.settings, self.modelPanel
        s.set("task", panel.task)
        if panel.current_entry() is not None and panel.current_entry().source in ("bundled", "synthetic", "hub"):
            s.set("model_id", panel.current_model_id())
        s.set("precision", panel.precisionCombo.currentText())
        s.set("int8", panel.int8Check.isChecked())
        s.set("layers", 0 if panel.variant().layers is None else panel.variant().layers)
        s.set("device", panel.current_device().id)
        s.set("threads", panel.threadsSpin.value())
        s.set("plot_window_s", self.windowSpin.value())
        s.set("max_new_tokens", self.runPanel.maxTokensSpin.value())
        s.set_geometry("main", self.saveGeometry())
        for name, splitter in (("mainSplitter", self.mainSplitter), ("rightSplitter", self.rightSplitter),
                               ("topSplitter", self.topSplitter)):
            s.set_geometry(name, splitter.saveState())
        s.sync()

    def _set_font_points(self, points: int) -> None:
        font = QApplication.font()
        font.setPointSize(max(6, min(40, points)))
        QApplication.setFont(font)
        for plot in self.plots:
            plot.apply_theme(font.pointSize())

    def _scale_font(self, delta: int) -> None:
        if delta == 0:
            points = self._default_points
        else:
            points = QApplication.font().pointSize() + delta
        self._set_font_points(points)
        self.settings.set("font_points", 0 if delta == 0 else points)

    @property
    def _default_points(self) -> int:
        app = QApplication.instance()
        return app.property("defaultPointSize") or 10

    # ------------------------------------------------------------ user actions

    def show_error(self, message: str) -> None:
        """Show an expected error in the window (not a dialog): the work goes on."""
        self.errorBanner.setText(f"⚠ {message}")
        self.errorBanner.show()
        self.statusBar().showMessage(message, 10_000)

    def clear_error(self) -> None:
        self.errorBanner.hide()
        self.errorBanner.clear()

    @Slot(object)
    def _on_model_panel_load_requested(self, request) -> None:
        self.clear_error()
        self.session.load(request)

    @Slot()
    def _on_model_panel_cancel_requested(self) -> None:
        if self.session.cancel_load():
            self.modelPanel.set_progress(None, "Cancelling…")

    @Slot(str)
    def _on_model_panel_task_changed(self, task: str) -> None:
        if self.session.summary is None:
            self.runPanel.set_task(task)

    @Slot(object, bool)
    def _on_run_panel_run_requested(self, request, continuous: bool) -> None:
        if request.generation is not None:  # the figures under the streaming text belong to the last run
            self.runPanel.resultView.timing.setText("Generating…")
        self.session.run(request, continuous)

    @Slot()
    def _on_run_panel_stop_requested(self) -> None:
        self.session.stop()

    @Slot()
    def _on_compare_view_run_started(self) -> None:
        """A comparison unloads the live model first: the Live tab must stop offering to run it."""
        self.clear_error()
        self.session.forget_model("Unloaded")
        self.statusBar().showMessage("Comparing a size ladder: the live model was unloaded; load it again to run it.",
                                     10_000)

    # ------------------------------------------------------------ the session's and the engine's signals

    @Slot(str)
    def _on_session_load_started(self, name: str) -> None:
        self.runPanel.set_state(loaded=False, running=False)
        self.modelPanel.set_loading(True)
        self.statusBar().showMessage(f"Loading {name}…")

    @Slot(object)
    def _on_session_loaded(self, summary) -> None:
        self.modelPanel.show_summary(summary)
        self.runPanel.set_task(summary.task)
        self.memoryPlot.mark_model(summary.info["rss_before_load"], summary.info["weight_bytes"])
        for plot in (self.latencyPlot, self.memoryPlot):
            plot.mark_event(self.now(), f"{summary.name} [{summary.variant_label}]")
        threads = f" · {self.modelPanel.threadsSpin.value()} threads" if summary.device == "cpu" else ""
        self.deviceStatus.setText(f"Device: {summary.device}{threads}")
        self.statusBar().showMessage(f"Loaded {summary.name} [{summary.variant_label}] in "
                                     f"{summary.info['load_seconds']:.1f} s. Type text and press Ctrl+Enter.", 10_000)

    @Slot(str, bool)
    def _on_session_load_finished(self, outcome: str, loaded: bool) -> None:
        self.modelPanel.set_loading(False)
        self.modelPanel.finish_progress({Outcome.DONE: "Loaded", Outcome.CANCELLED: "Cancelled",
                                         Outcome.FAILED: "Load failed"}[outcome], loaded)
        if not loaded:
            self.modelPanel.show_entry(self.modelPanel.current_entry())
        self.runPanel.set_state(loaded=loaded, running=False)

    @Slot(bool)
    def _on_session_run_started(self, continuous: bool) -> None:
        self.clear_error()
        self.latencyPlot.add_break(self.now())
        self.runPanel.set_state(loaded=True, running=True)
        if continuous:
            self.statusBar().showMessage("Running continuously — Esc or Stop to end.")

    @Slot(object)
    def _on_session_token_generated(self, token) -> None:
        """One token of a text generation: its latency, the decode rate and the KV cache, as it arrives."""
        now = self.now()
        gap = token.seconds - self._last_token_seconds if token.index > 1 else token.seconds
        self._last_token_seconds = token.seconds
        self.latencyPlot.append(LatencyPlot.TOKEN, now, gap)
        if token.index > 1 and gap > 0:
            self.throughputPlot.append(ThroughputPlot.TOKENS, now, 1 / gap)
        if self.memoryPlot.weights.isVisible():
            self.memoryPlot.append(MemoryPlot.KV, now, self.memoryPlot.weights.value() + token.kv_cache_bytes)

    @Slot(str)
    def _on_session_run_finished(self, outcome: str) -> None:
        self.runPanel.set_state(loaded=self.session.summary is not None, running=False)
        if outcome == Outcome.CANCELLED:
            self.statusBar().showMessage("Stopped.", 5000)

    @Slot(str)
    def _on_session_model_lost(self, why: str) -> None:
        self.runPanel.set_state(loaded=False, running=False)
        self.modelPanel.show_entry(self.modelPanel.current_entry())
        self.modelPanel.finish_progress(why, False)
        self.memoryPlot.unmark_model()

    @Slot(str)
    def _on_engine_lost(self, _message: str) -> None:
        """After the session has forgotten the model and shown why."""
        now = self.now()
        for plot in self.plots:
            plot.break_lines(now)  # the next engine's memory is another process's: no slope between them
        self.memoryPlot.mark_event(now, "engine restarted")
        self.statusBar().showMessage("Restarting the inference engine…")

    @Slot(object)
    def _on_engine_started(self, event) -> None:
        self.modelPanel.set_devices(event.devices)
        self.modelPanel.select_device(self.settings.get("device"))
        versions = event.versions
        self.versionStatus.setText(f"torch {versions.get('torch')} · transformers {versions.get('transformers')}")
        self.statusBar().showMessage("Ready. Choose a model and press Load (Ctrl+L).", 10_000)
        entry = self.modelPanel.current_entry()
        if self._autoload and entry is not None and entry.source == "bundled":
            self.modelPanel.loadButton.click()  # offline and quick: the app opens ready to run
        self._autoload = False  # at start-up only, not after the engine restarts

    # ------------------------------------------------------------ the one redraw timer

    def now(self) -> float:
        return time.monotonic() - self.clock_zero

    @Slot()
    def _on_redraw_timer(self) -> None:
        """Sample and redraw ONE plot per tick, each in turn; take in finished requests once a cycle.

        Each plot and the history are updated at 1000 / REDRAW_MS Hz, on ticks of their own, so the
        UI thread is never blocked for a whole frame of everything (tests/benchmarks/ui_lateness.py,
        plot_cost.py).
        """
        now = self.now()
        plot = self.plots[self._next_plot]
        self._next_plot = (self._next_plot + 1) % len(self.plots)
        if plot is self.latencyPlot:
            self._take_in_records()
            plot.update_percentiles()
        elif plot is self.memoryPlot:
            # The engine process's RSS, sampled at the plot's rate (benchmarks take their peaks from the kernel: core.measure).
            rss = self.host.rss()
            if rss is not None:
                plot.append("RSS", now, rss)
        else:
            plot.append("requests/s (last 1 s)", now, self.session.requests_last_second())
        if not self.pauseCheck.isChecked():
            plot.redraw(now, float(self.windowSpin.value()))

    def _take_in_records(self) -> None:
        """The requests finished since the last cycle: into the plots' buffers, the history and the result view."""
        records = self.session.take_records()
        for record in records:
            t = record.finished_at - self.clock_zero
            self.latencyPlot.add_request(t, record.latency)
            if record.cuda:
                self.memoryPlot.append("CUDA allocated", t, record.cuda["cuda_allocated"])
        if records:
            self.historyModel.add_records(records)
            self.runPanel.resultView.show_record(records[-1])
        elif self.session.stream_text is not None:
            self.runPanel.resultView.show_streaming(self.session.stream_text)

    @Slot(bool)
    def _on_pause_check_toggled(self, paused: bool) -> None:
        # Paused, the plots pan and zoom together. Live, every redraw sets each plot's range itself,
        # and a link would make one plot's redraw repaint all three.
        for plot in self.plots[1:]:
            plot.setXLink(self.latencyPlot if paused else None)

    # ------------------------------------------------------------ exports

    def _save_path(self, title: str, name: str, filter_: str) -> str | None:
        path, _ = QFileDialog.getSaveFileName(self, title, os.path.join(os.path.expanduser("~"), name), filter_)
        return path or None  # the dialog itself asks before overwriting

    @Slot()
    def _on_export_history(self) -> None:
        path = self._save_path("Export history", "sizelab-history.csv", "CSV (*.csv)")
        if path:
            self._export(lambda: self.historyModel.export_csv(path), path)

    @Slot()
    def _on_export_plot_csv(self) -> None:
        path = self._save_path("Export plot data", "sizelab-plots.csv", "CSV (*.csv)")
        if path:
            self._export(lambda: export_csv(path, self.plots), path)

    @Slot()
    def _on_export_plot_png(self) -> None:
        path = self._save_path("Export plots", "sizelab-plots.png", "PNG image (*.png)")
        if path:
            def save():
                if not self.plotsWidget.grab().save(path):
                    raise OSError(f"could not write {path}")
            self._export(save, path)

    def _export(self, write, path: str) -> None:
        try:
            write()
        except (OSError, SizeLabError) as exc:  # SizeLabError: a device, FIFO or folder there (core.safe_files)
            self.show_error(f"Export failed: {exc}")
        else:
            self.statusBar().showMessage(f"Saved {path}", 5000)

    @Slot()
    def _on_clear_plots_clicked(self) -> None:
        for plot in self.plots:
            plot.clear_data()
        self.session.clear_throughput()

    @Slot()
    def _on_about(self) -> None:
        QMessageBox.about(self, "Model Size Lab",
                          "<b>Model Size Lab</b><br>See, measured on this machine, what a smaller model buys: "
                          "latency, memory, throughput and quality.<br>Apache-2.0.")

    # ------------------------------------------------------------ closing

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if not self._closing:
            self._closing = True
            self.redrawTimer.stop()
            self._save_settings()
            self.hide()  # gone at once: the engine may take a moment to finish its step
            if not self.host.shutdown():
                print("sizelab: the engine was busy in a step that cannot be interrupted; ended it", file=sys.stderr)
        super().closeEvent(event)
