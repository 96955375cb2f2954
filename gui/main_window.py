"""The main window: model panel | input and result | live plots | history.

Data flows one way: widgets -> immutable request -> the session (gui/session.py) -> engine process ->
core -> records -> the job's signals -> the session's pending records -> one timer that updates one plot
per tick (each at 1000 / REDRAW_MS Hz), the history and the result view. This class builds and
arranges widgets and shows what the session says; the session holds the jobs and the model's state.
"""

import html
import importlib.metadata as metadata
import os
import platform
import sys
import time

from PySide6.QtCore import QPoint, QRectF, Qt, QTimer, QUrl, Slot
from PySide6.QtGui import QAction, QDesktopServices, QFont, QFontMetrics, QImage, QKeySequence, QPainter
from PySide6.QtWidgets import (QApplication, QCheckBox, QFileDialog, QHBoxLayout, QHeaderView, QLabel,
                               QMainWindow, QMenu, QMessageBox, QPushButton, QScrollArea, QSpinBox, QSplitter,
                               QTableView, QTabWidget, QToolButton, QVBoxLayout, QWidget)

from core import __version__, paths
from core.catalog import DEFAULT_MODEL_ID, load_catalog
from core.errors import SizeLabError
from core.safe_files import write_atomic
from core.protocol import Outcome

from .banner import ErrorBanner
from .compare_view import CompareView
from .engine_host import EngineHost, default_engine
from .history import HistoryModel
from .pictures import png_bytes, without_buttons
from .model_panel import ModelPanel
from .plots import REDRAW_MS, LatencyPlot, MemoryPlot, ThroughputPlot, export_csv
from .run_panel import RunPanel
from .session import LiveSession
from .settings import Settings


PRESENTER_SCALE = 1.6  # text size in presenter mode, against the default
SHORTCUTS = (
    ("Ctrl+Enter", "Run once: loads what the model panel shows first, if it is not loaded"),
    ("Ctrl+Shift+Enter", "Run continuously"),
    ("Esc", "Stop running"),
    ("Ctrl+L", "Load the model and variant the panel shows"),
    ("F5", "Presenter mode: big text, only the input, the result and the plots"),
    ("Ctrl++ / Ctrl+- / Ctrl+0", "Larger, smaller, default text (plots too)"),
    ("Ctrl+P", "Pin the result, to compare the next one side by side"),
    ("Tab / Shift+Tab", "Move between controls (one stop per table; arrows walk its rows)"),
    ("F1", "This list"),
    ("Ctrl+Q", "Quit"),
)


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

        self._engine_ready = False
        self._loading_request = None  # the LoadRequest of the load going on, as the panel made it
        self._run_after_load = None  # (RunRequest, continuous): Run pressed for a model not loaded yet
        self._presenting = False
        self._sizes_before_presenting: list[int] = []  # the input | plots split to go back to
        self.modelPanel = ModelPanel(self.catalog)
        self.runPanel = RunPanel()
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
        self.session.kept.connect(self._on_session_kept)
        self.session.loadFinished.connect(self._on_session_load_finished)
        self.session.runStarted.connect(self._on_session_run_started)
        self.session.tokenGenerated.connect(self._on_session_token_generated)
        self.session.runFinished.connect(self._on_session_run_finished)
        self.session.modelLost.connect(self._on_session_model_lost)
        self.session.errorRaised.connect(self.show_error)
        # Built here, not in _build_layout: it shares the engine (one model in memory at a time).
        self.compareView = CompareView(self.catalog, self.host)
        self.compareScroll = QScrollArea(objectName="compareScroll", widgetResizable=True,
                                         frameShape=QScrollArea.Shape.NoFrame)
        self.compareScroll.setWidget(self.compareView)  # scrolls only where the screen is smaller than its controls
        self.tabs.addTab(self.compareScroll, "Compare")
        self.compareView.runStarted.connect(self._on_compare_view_run_started)
        self.compareView.presenter.finished.connect(self._update_run_state)  # the engine is free for Run again
        self.compareView.errorRaised.connect(self.show_error)
        self.modelPanel.loadRequested.connect(self._on_model_panel_load_requested)
        self.modelPanel.cancelRequested.connect(self._on_model_panel_cancel_requested)
        self.modelPanel.taskChanged.connect(self._on_model_panel_task_changed)
        self.modelPanel.selectionChanged.connect(self._on_model_panel_selection_changed)
        self.modelPanel.errorRaised.connect(self.show_error)
        self.runPanel.runRequested.connect(self._on_run_panel_run_requested)
        self.runPanel.stopRequested.connect(self._on_run_panel_stop_requested)
        self.runPanel.inputEdit.textChanged.connect(self.clear_error)  # the user has moved on
        self.tabs.currentChanged.connect(self.clear_error)

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
        self.logLatencyCheck = QCheckBox("Log scale", objectName="logLatencyCheck")
        self.logLatencyCheck.setToolTip("Latency on a log scale: a slow request no longer flattens the fast ones")
        self.logLatencyCheck.toggled.connect(self._on_log_latency_toggled)
        self.clearPlotsButton = QPushButton("Clear", objectName="clearPlotsButton")
        self.exportButton = QToolButton(text="Export", objectName="exportPlotsButton",
                                        popupMode=QToolButton.ToolButtonPopupMode.InstantPopup)
        self.exportButton.setToolTip("Save the plots as an image or their data as CSV")
        export_menu = QMenu(self.exportButton)
        export_menu.addAction("Plot image (PNG)…", self._on_export_plot_png)
        export_menu.addAction("Plot data (CSV)…", self._on_export_plot_csv)
        export_menu.addAction("History (CSV)…", self._on_export_history)
        self.exportButton.setMenu(export_menu)
        self.clearPlotsButton.clicked.connect(self._on_clear_plots_clicked)
        self.plotBar = QWidget(objectName="plotBar")
        bar = QHBoxLayout(self.plotBar)
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(QLabel("Window"))
        bar.addWidget(self.windowSpin)
        bar.addWidget(self.pauseCheck)
        bar.addWidget(self.logLatencyCheck)
        bar.addStretch()
        bar.addWidget(self.clearPlotsButton)
        bar.addWidget(self.exportButton)
        self.plotsWidget = QWidget(objectName="plotsWidget")
        box = QVBoxLayout(self.plotsWidget)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.plotBar)
        self.plotSplitter = QSplitter(Qt.Orientation.Vertical)
        for plot in self.plots:
            plot.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Tab walks the controls, not the plots
            plot.setMinimumSize(160, 90)  # three stacked plots must fit a 720-line projector beside the history
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
        self.historyTable.setTabKeyNavigation(False)  # one Tab stop; the arrows walk the rows
        self.historyModel.rowsInserted.connect(self._on_history_rows_inserted)
        self.exportHistoryButton = QPushButton("Export…", objectName="exportHistoryButton")
        self.exportHistoryButton.setToolTip("Save the history as CSV")
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
        left = self.modelScroll = QScrollArea(objectName="modelScroll")
        left.setWidget(self.modelPanel)
        left.setWidgetResizable(True)
        self._fit_model_panel()
        self.rightSplitter = QSplitter(Qt.Orientation.Vertical, objectName="rightSplitter")
        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.runPanel)
        top.addWidget(self.plotsWidget)
        top.setStretchFactor(0, 2)
        top.setStretchFactor(1, 3)
        self.topSplitter = top
        self.rightSplitter.addWidget(top)
        self.rightSplitter.addWidget(self.historyWidget)
        self.rightSplitter.setStretchFactor(0, 3)
        self.rightSplitter.setStretchFactor(1, 1)
        self.rightSplitter.setSizes([700, 260])  # proportions: the history shows rows, not two
        self.mainSplitter = QSplitter(Qt.Orientation.Horizontal, objectName="mainSplitter")
        self.mainSplitter.addWidget(left)
        self.mainSplitter.addWidget(self.rightSplitter)
        self.mainSplitter.setStretchFactor(1, 1)
        self.mainSplitter.setSizes([320, 1000])
        central = QWidget()
        box = QVBoxLayout(central)
        box.setContentsMargins(4, 4, 4, 4)
        self.tabs = QTabWidget(objectName="mainTabs")
        self.tabs.addTab(self.mainSplitter, "Live")
        box.addWidget(self.tabs, 1)
        self.setCentralWidget(central)
        self.errorBanner = ErrorBanner(central)
        self._fit_to_screen(1400, 900)

    def _fit_model_panel(self) -> None:
        """The model panel scrolls up and down, never sideways: as wide as its widest control, at any text size."""
        self.modelScroll.setMinimumWidth(self.modelPanel.minimumSizeHint().width()
                                         + self.modelScroll.verticalScrollBar().sizeHint().width() + 4)

    def _fit_to_screen(self, width: int, height: int) -> None:
        """This size, or the screen's free area if it is smaller (a 1280x720 projector, 150% on 1080p)."""
        screen = self.screen().availableGeometry() if self.screen() else None
        if screen is not None:
            frame = 40  # the title bar and borders the window manager adds
            width, height = min(width, screen.width()), min(height, screen.height() - frame)
        self.resize(width, height)

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
        self.presenterAction = self._action(view_menu, "&Presenter mode", self._on_presenter_toggled, "F5")
        self.presenterAction.setCheckable(True)
        self.presenterAction.setToolTip("Big text and plots for a room; only the input, the result and the plots")
        view_menu.addSeparator()
        self._action(view_menu, "&Larger text", lambda: self._scale_font(+2), QKeySequence.StandardKey.ZoomIn)
        self._action(view_menu, "&Smaller text", lambda: self._scale_font(-2), QKeySequence.StandardKey.ZoomOut)
        self._action(view_menu, "&Reset text size", lambda: self._scale_font(0), "Ctrl+0")
        help_menu = self.menuBar().addMenu("&Help")
        self._action(help_menu, "&Keyboard shortcuts", self._on_shortcuts, QKeySequence.StandardKey.HelpContents)
        self._action(help_menu, "&Read the README", self._on_readme)
        self._action(help_menu, "&About Model Size Lab", self._on_about)

    def _build_status_bar(self) -> None:
        self.deviceStatus = QLabel("Device: —", objectName="deviceStatus")
        self._versions = {"torch": _version("torch"), "transformers": _version("transformers")}  # the engine's, once up
        self.statusBar().addPermanentWidget(self.deviceStatus)
        self.statusBar().showMessage("Starting the inference engine…")

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
        self._fit_to_screen(self.width(), self.height())  # saved on a bigger screen than this one

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
        """The text size of the whole window: panels, tables, result and plots alike."""
        font = QApplication.font()
        font.setPointSize(max(6, min(40, points)))
        QApplication.setFont(font)
        for plot in self.plots:
            plot.apply_theme(font.pointSize())
        for view in (self.runPanel.resultView, self.runPanel.pinnedView):
            view.apply_font()
        self.historyTable.verticalHeader().setDefaultSectionSize(QFontMetrics(font).height() + 8)
        QTimer.singleShot(0, self._fit_model_panel)  # once the panel's widgets have taken the new font

    def _scale_font(self, delta: int) -> None:
        if self._presenting:
            self.presenterAction.setChecked(False)
            self._on_presenter_toggled(False)
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
        """Show an expected error in the window (not a dialog): the work goes on. The banner holds the whole
        message; the status bar, beside the device, only its start."""
        self.errorBanner.show_message(message)
        first_line = message.splitlines()[0] if message else ""
        self.statusBar().showMessage(first_line if len(first_line) <= 90 else first_line[:89] + "…", 10_000)

    @Slot()
    def clear_error(self, *_args) -> None:
        self.errorBanner.clear()

    def _panel_request(self):
        """The LoadRequest of what the model panel shows, or None if it cannot make one."""
        try:
            return self.modelPanel.load_request()
        except SizeLabError:
            return None

    @Slot()
    def _update_run_state(self, *_args) -> None:
        """Run is offered when the engine can take it; it runs what the panel shows, loading it first
        if that is not the model loaded (and says so under the buttons)."""
        ready = self._engine_ready and self.session.load_job is None and not self.compareView.running()
        wanted = self._panel_request()
        load_first = None
        if wanted is not None and wanted != self.session.loaded_request:
            load_first = f"{wanted.entry.name} [{wanted.variant.label()}]" if wanted.entry.source != "endpoint" \
                else wanted.entry.name
        self.runPanel.set_state(ready=ready and wanted is not None, running=self.session.run_job is not None,
                                load_first=load_first)

    @Slot(object)
    def _on_model_panel_load_requested(self, request) -> None:
        self.clear_error()
        self._run_after_load = None
        self._load(request)

    def _load(self, request) -> None:
        self._loading_request = request
        self.session.load(request)
        self._update_run_state()

    @Slot()
    def _on_model_panel_cancel_requested(self) -> None:
        self._run_after_load = None
        if self.session.cancel_load():
            self.modelPanel.set_progress(None, "Cancelling…")

    @Slot(str)
    def _on_model_panel_task_changed(self, task: str) -> None:
        self.runPanel.set_task(task)  # Run runs what the panel shows: its task's examples and options

    @Slot()
    def _on_model_panel_selection_changed(self) -> None:
        self._fit_model_panel()  # a longer model name or label must not be cut off
        if self.session.summary is not None and self._panel_request() == self.session.loaded_request:
            self.modelPanel.show_summary(self.session.summary)  # back on the model loaded: its measured card
        self._update_run_state()

    @Slot(object, bool)
    def _on_run_panel_run_requested(self, request, continuous: bool) -> None:
        wanted = self._panel_request()
        if wanted is None:
            self.modelPanel.loadButton.click()  # says why it cannot load
            return
        if wanted != self.session.loaded_request:
            self._run_after_load = (request, continuous)
            self.clear_error()
            self.statusBar().showMessage(f"Loading {wanted.entry.name} first: it is what the panel shows…")
            self._load(wanted)
            return
        self._run(request, continuous)

    def _run(self, request, continuous: bool) -> None:
        if request.generation is not None:  # the figures under the streaming text belong to the last run
            self.runPanel.resultView.timing.setText("Generating…")
        self.session.run(request, continuous)

    @Slot()
    def _on_run_panel_stop_requested(self) -> None:
        self._run_after_load = None
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
        self.modelPanel.set_loading(True)
        self.statusBar().showMessage(f"Loading {name}…")
        self._update_run_state()

    @Slot(object)
    def _on_session_loaded(self, summary) -> None:
        self.modelPanel.show_summary(summary)
        self.runPanel.set_task(summary.task)
        self.runPanel.clear_result()  # a result of the model before would read as this one's
        self.memoryPlot.mark_model(summary.info["rss_before_load"], summary.info["weight_bytes"])  # none for 0 bytes
        for plot in (self.latencyPlot, self.memoryPlot):
            plot.mark_event(self.now(), f"{summary.name} [{summary.variant_label}]")
        threads = f" · {self.modelPanel.threadsSpin.value()} threads" if summary.device == "cpu" else ""
        self.deviceStatus.setText(f"Device: {summary.device}{threads}")
        self.statusBar().showMessage(f"Loaded {summary.name} [{summary.variant_label}] in "
                                     f"{summary.info['load_seconds']:.1f} s. Type text and press Ctrl+Enter.", 10_000)

    @Slot(object)
    def _on_session_kept(self, request) -> None:
        """The load failed in its checks: the model loaded before is still there, and the panel shows it again."""
        if request is not None:
            self.modelPanel.apply_request(request)
        self.modelPanel.show_summary(self.session.summary)

    @Slot(str, bool)
    def _on_session_load_finished(self, outcome: str, loaded: bool) -> None:
        self.modelPanel.set_loading(False)
        failed = {Outcome.CANCELLED: "Cancelled", Outcome.FAILED: "Load failed"}.get(outcome)
        if failed and loaded:
            failed += f" · still loaded: {self.session.summary.name}"
        self.modelPanel.finish_progress(failed or "Loaded", loaded)
        if outcome == Outcome.FAILED and self._loading_request is not None:
            self.modelPanel.forget_entry(self._loading_request.entry.id)  # a folder or hub id that fails is not offered
        if not loaded:
            self.modelPanel.show_entry(self.modelPanel.current_entry())
        self._loading_request = None
        pending, self._run_after_load = self._run_after_load, None
        if pending is not None and outcome == Outcome.DONE and loaded:
            self._run(*pending)
        self._update_run_state()

    @Slot(bool)
    def _on_session_run_started(self, continuous: bool) -> None:
        self.clear_error()
        self.latencyPlot.add_break(self.now())
        self._update_run_state()
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
        self._update_run_state()
        if outcome == Outcome.CANCELLED:
            self.statusBar().showMessage("Stopped.", 5000)

    @Slot(str)
    def _on_session_model_lost(self, why: str) -> None:
        self._run_after_load = None
        self.modelPanel.show_entry(self.modelPanel.current_entry())
        self.modelPanel.finish_progress(why, False)
        self.memoryPlot.unmark_model()
        self._update_run_state()

    @Slot(str)
    def _on_engine_lost(self, _message: str) -> None:
        """After the session has forgotten the model and shown why."""
        self._engine_ready = False
        self._update_run_state()
        now = self.now()
        for plot in self.plots:
            plot.break_lines(now)  # the next engine's memory is another process's: no slope between them
        self.memoryPlot.mark_event(now, "engine restarted")
        self.statusBar().showMessage("Restarting the inference engine…")

    @Slot(object)
    def _on_engine_started(self, event) -> None:
        self._engine_ready = True
        self.modelPanel.set_devices(event.devices)
        self.modelPanel.select_device(self.settings.get("device"))
        self._versions.update({name: event.versions.get(name, "?") for name in ("torch", "transformers")})
        self.statusBar().showMessage("Ready. Choose a model and press Load (Ctrl+L).", 10_000)
        entry = self.modelPanel.current_entry()
        if self._autoload and entry is not None and entry.source == "bundled":
            self.modelPanel.loadButton.click()  # offline and quick: the app opens ready to run
        self._autoload = False  # at start-up only, not after the engine restarts
        self._update_run_state()

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
            self.runPanel.show_record(records[-1])
        elif self.session.stream_text is not None:
            self.runPanel.show_streaming(self.session.stream_text)

    @Slot()
    def _on_history_rows_inserted(self, *_args) -> None:
        """Follow the newest row, unless the user has scrolled up to read an older one."""
        bar = self.historyTable.verticalScrollBar()
        if bar.value() >= bar.maximum() - 2 * self.historyTable.verticalHeader().defaultSectionSize():
            QTimer.singleShot(0, self.historyTable.scrollToBottom)  # once the view knows its new rows

    @Slot(bool)
    def _on_log_latency_toggled(self, log: bool) -> None:
        self.latencyPlot.set_log_scale(log)

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
            self._export(lambda: write_atomic(path, png_bytes(self.plots_image())), path)

    def plots_image(self, scale: float = 2.0) -> QImage:
        """The three plots at `scale` times their size on screen (no toolbar), under a caption that says
        what was measured: the model, its variant, the device, the machine and the date."""
        plots = self.plotSplitter
        caption = self._export_caption()
        font = QFont(QApplication.font())
        line = QFontMetrics(font).height()
        width, height = plots.width(), plots.height()
        image = QImage(round(width * scale), round((height + 2 * line + 8) * scale), QImage.Format.Format_RGB32)
        image.setDevicePixelRatio(scale)
        image.fill(Qt.GlobalColor.white)
        painter = QPainter(image)
        try:
            painter.setFont(font)
            painter.setPen(Qt.GlobalColor.black)
            painter.drawText(QRectF(6, 2, width - 12, 2 * line + 4), Qt.TextFlag.TextWordWrap, caption)
            with without_buttons(self.plots):
                plots.render(painter, QPoint(0, 2 * line + 8))
        finally:
            painter.end()
        return image

    def _export_caption(self) -> str:
        summary = self.session.summary
        model = f"{summary.name} [{summary.variant_label}] on {summary.device}" if summary else "no model loaded"
        return (f"Model Size Lab · {model} · {self.deviceStatus.text()} · machine: {platform.processor() or platform.machine()}, "
                f"{os.cpu_count()} cores · torch {self._versions['torch']} · {time.strftime('%Y-%m-%d %H:%M')}")

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
        QMessageBox.about(self, "About Model Size Lab",
                          f"<b>Model Size Lab {html.escape(__version__)}</b><br>See, measured on this machine, what a "
                          "smaller model buys: latency, memory, throughput and quality.<br><br>"
                          f"torch {html.escape(self._versions['torch'])} · transformers "
                          f"{html.escape(self._versions['transformers'])} · PySide6 {html.escape(_version('PySide6'))}"
                          f" · Python {platform.python_version()}<br>Apache-2.0.")

    @Slot()
    def _on_shortcuts(self) -> None:
        rows = "".join(f"<tr><td style='padding-right:16px'><b>{html.escape(keys)}</b></td><td>{html.escape(what)}</td></tr>"
                       for keys, what in SHORTCUTS)
        QMessageBox.information(self, "Keyboard shortcuts", f"<table>{rows}</table>")

    @Slot()
    def _on_readme(self) -> None:
        """The README shipped beside the app: offline, like the rest of it."""
        readme = paths.readme()
        if readme is None:
            self.show_error("The README is not installed with this copy of the app.")
        elif not QDesktopServices.openUrl(QUrl.fromLocalFile(str(readme))):
            self.show_error(f"No program here opens {readme}; read it in a text editor.")

    # ------------------------------------------------------------ presenter mode

    @Slot(bool)
    def _on_presenter_toggled(self, on: bool) -> None:
        """For a room: big text in the panels and the plots, and only the input, the result and the plots.
        The model panel, the history and the plot toolbar come back when it is turned off."""
        self._presenting = on
        for widget in (self.modelScroll, self.historyWidget, self.plotBar):
            widget.setVisible(not on)
        if on:
            self._sizes_before_presenting = self.topSplitter.sizes()
            self.topSplitter.setSizes([45, 55])  # proportions: the big result needs its room
        elif self._sizes_before_presenting:
            self.topSplitter.setSizes(self._sizes_before_presenting)
        points = self.settings.get("font_points") or self._default_points
        self._set_font_points(max(points, round(self._default_points * PRESENTER_SCALE)) if on else points)
        self.statusBar().showMessage("Presenter mode: F5 to leave. Ctrl+L loads, Ctrl+Enter runs." if on else
                                     "Presenter mode off.", 8000)

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
