"""Input (text, examples, Run/Run continuously/Stop) and the result of the latest run."""

import html

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (QApplication, QCheckBox, QComboBox, QDoubleSpinBox, QGridLayout, QGroupBox,
                               QHBoxLayout, QLabel, QPlainTextEdit, QProgressBar, QPushButton, QSpinBox, QVBoxLayout,
                               QWidget)

from core.records import STOP_REASONS
from core.requests import GenerationSettings, RunRequest

EXAMPLES = {
    "classification": [
        "The battery lasts two full days and the screen is gorgeous.",
        "I waited forty minutes and the soup arrived cold.",
        "Not the best film of the year, but I left the cinema smiling.",
        "The update broke everything I relied on. Uninstalling.",
        "Honestly, I didn't expect much, and it still disappointed me.",
    ],
    "translation": [
        "The train to Berlin leaves at seven o'clock tomorrow morning.",
        "Could you tell me where the nearest pharmacy is?",
        "Smaller models answer faster and use less memory.",
    ],
    "generation": [
        "The lighthouse keeper opened her ledger and wrote",
        "Smaller language models are useful because",
        "Here is a short recipe for bread:",
    ],
}


class ResultView(QWidget):
    """The latest result: class probabilities as bars, or the (streamed) translation, and phase times.

    accessibleDescription() holds the result in plain words, the predicted label first.
    """

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("resultView")
        self.headline = QLabel("No result yet.")
        self.headline.setObjectName("resultHeadline")
        font = self.headline.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        self.headline.setFont(font)
        self.headline.setWordWrap(True)
        self.headline.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.bars = QGridLayout()
        self.bars.setColumnStretch(1, 1)
        self.timing = QLabel("")
        self.timing.setObjectName("resultTiming")
        self.timing.setWordWrap(True)
        self.notes = QLabel("")
        self.notes.setObjectName("resultNotes")
        self.notes.setTextFormat(Qt.TextFormat.RichText)  # always: one escaped warning alone would show its &#x27;
        self.timing.setTextFormat(Qt.TextFormat.RichText)
        self.notes.setWordWrap(True)
        self.notes.setStyleSheet("color: #b9770e")
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.headline)
        box.addLayout(self.bars)
        box.addWidget(self.timing)
        box.addWidget(self.notes)
        box.addStretch()
        self._bar_rows: dict[str, QProgressBar] = {}
        self.compact = False  # side by side: latency and tokens only (the rest in the tooltip)

    def clear(self) -> None:
        """No result: the model, the task or the text changed."""
        self._set_bars({})
        self.headline.setText("No result yet.")
        self.headline.setToolTip("")
        self.timing.clear()
        self.notes.clear()
        self.set_stale(False)
        self.setAccessibleDescription("")

    def set_stale(self, stale: bool) -> None:
        """Greyed out: the result is of a text that has since been edited."""
        self.setEnabled(not stale)
        self.setToolTip("The text has changed since this result: run again." if stale else "")

    def _set_bars(self, scores: dict[str, float]) -> None:
        if set(scores) != set(self._bar_rows):
            while self.bars.count():
                item = self.bars.takeAt(0)
                if item.widget():
                    item.widget().deleteLater()
            self._bar_rows = {}
            for row, label in enumerate(scores):
                bar = QProgressBar()
                bar.setRange(0, 1000)
                bar.setObjectName(f"scoreBar_{label}")
                self.bars.addWidget(QLabel(label), row, 0)
                self.bars.addWidget(bar, row, 1)
                self._bar_rows[label] = bar
        for label, score in scores.items():
            self._bar_rows[label].setValue(round(score * 1000))
            self._bar_rows[label].setFormat(f"{score:.0%}")  # as the headline rounds it (core.tasks.Prediction)

    def show_streaming(self, text: str) -> None:
        self.headline.setText(text or "…")
        self.apply_font()

    def apply_font(self) -> None:
        """The headline at 1.6 times the window's text (it follows Ctrl++ and presenter mode); long
        texts get a smaller one so the whole text stays in view."""
        font = self.headline.font()
        font.setPointSizeF(QApplication.font().pointSizeF() * (1.6 if len(self.headline.text()) < 80 else 1.15))
        self.headline.setFont(font)

    def show_record(self, record) -> None:
        phases = " · ".join(f"{name} {seconds * 1000:.1f} ms" for name, seconds in record.phases.items())
        extra = ""
        if record.generation:
            g = record.generation
            self._set_bars({})
            self.show_streaming(record.summary or "(no text)")
            rate = f"{g['decode_tokens_per_second']:.1f} tokens/s" if g["decode_tokens_per_second"] else "n/a tokens/s"
            ttft = g["time_to_first_token"]
            memory = (f"KV cache {g['kv_cache_bytes'] / 2**20:.2f} MiB" if g.get("kv_cache_bytes") is not None
                      else f"tokens counted by the {g.get('token_count_source', 'server')}")  # a remote endpoint
            extra += (f"<br>TTFT {ttft * 1000:.1f} ms · {rate} · {g['new_tokens']} tokens · "
                      f"stopped: {STOP_REASONS.get(g['stop_reason'], g['stop_reason'])} · {memory}"
                      if ttft is not None else "")
        elif record.task == "translation":
            self._set_bars({})
            self.show_streaming(record.translation or "(empty translation)")
            if record.time_to_first_token is not None:
                extra += f" · first token {record.time_to_first_token * 1000:.1f} ms"
            if record.tokens_per_second:
                extra += f" · {record.tokens_per_second:.1f} tokens/s"
        else:
            self._set_bars(record.scores)
            self.show_streaming(record.summary)  # reads "uncertain (leans …)" when record.uncertain
            self.headline.setToolTip("Under the model's confidence threshold, or not English: a guess, "
                                     "not an answer." if record.uncertain else "")
        where = (f"{html.escape(record.model_name)} [{html.escape(record.variant_label)}] on "
                 f"{html.escape(record.device)} · {record.input_tokens} tokens")
        # Side by side, the captions name the model and variant, and half the width has no room for the phases.
        self.timing.setText(f"<b>{record.latency * 1000:.1f} ms</b> · {record.input_tokens} tokens"
                            if self.compact else f"<b>{record.latency * 1000:.1f} ms</b> — {phases}{extra}<br>{where}")
        self.timing.setToolTip(f"{phases}{extra}<br>{where}" if self.compact else "")
        notes = [html.escape(w, quote=False) for w in record.warnings]
        if record.uncertain and not any("English" in w for w in record.warnings):
            notes.append("Low confidence: the model is unsure of this one; read its label as a guess.")
        self.notes.setText("<br>".join(notes))
        self.set_stale(False)
        self.setAccessibleDescription(record.summary)


def _answer(record) -> str:
    """What a result says, without its confidence: 85% and 87% positive give the same answer."""
    return max(record.scores, key=record.scores.get) if record.scores else record.summary


class RunPanel(QGroupBox):
    runRequested = Signal(object, bool)
    """A RunRequest and whether to repeat it continuously."""
    stopRequested = Signal()
    """Stop the current run (once or continuous)."""

    def __init__(self, parent=None):
        super().__init__("Input", parent)
        self.inputEdit = QPlainTextEdit(objectName="inputEdit")
        self.inputEdit.setPlaceholderText("Type or paste text here, then Ctrl+Enter to run.")
        self.inputEdit.setTabChangesFocus(True)
        self.examplesCombo = QComboBox(objectName="examplesCombo")
        self.examplesCombo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.examplesCombo.setMinimumContentsLength(16)  # the examples are sentences: the list opens wider
        self.runButton = QPushButton("Run once", objectName="runButton")
        self.runButton.setToolTip("Run the model on this text (Ctrl+Enter)")
        self.runContinuousButton = QPushButton("Run continuously", objectName="runContinuousButton")
        self.runContinuousButton.setToolTip("Repeat this text for the live plots (Ctrl+Shift+Enter)")
        self.stopButton = QPushButton("Stop", objectName="stopButton")
        self.stopButton.setToolTip("Stop running (Esc)")
        self.loadFirstHint = QLabel(objectName="loadFirstHint", wordWrap=True)
        self.loadFirstHint.setStyleSheet("color: #555")
        self.loadFirstHint.hide()
        for button in (self.runButton, self.runContinuousButton, self.stopButton):
            button.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # a click leaves the focus in the text box
        self.maxTokensSpin = QSpinBox(objectName="maxTokensSpin")
        self.maxTokensSpin.setRange(1, 512)
        self.maxTokensSpin.setValue(RunRequest.max_new_tokens)
        self.beamsSpin = QSpinBox(objectName="beamsSpin")
        self.beamsSpin.setRange(1, 8)
        self.beamsSpin.setToolTip("1 = greedy, streamed token by token; more beams cannot stream")
        self.sampleCheck = QCheckBox("Sample", objectName="sampleCheck")
        self.sampleCheck.setToolTip("Off: greedy (the most likely token each time). On: sample with temperature and top-p")
        self.temperatureSpin = QDoubleSpinBox(objectName="temperatureSpin", decimals=2, minimum=0.05, maximum=5.0,
                                              singleStep=0.1, value=0.8)
        self.topPSpin = QDoubleSpinBox(objectName="topPSpin", decimals=2, minimum=0.05, maximum=1.0, singleStep=0.05,
                                       value=0.95)
        self.seedSpin = QSpinBox(objectName="seedSpin", minimum=-1, maximum=2**31 - 1, value=0)
        self.seedSpin.setToolTip("The same seed gives the same sampled text; -1: a new draw each time")
        self.resultView = ResultView()
        self.pinnedView = ResultView()
        self.pinnedView.setObjectName("pinnedView")
        self.pinButton = QPushButton("Pin for side by side", objectName="pinButton")
        self.pinButton.setToolTip("Keep this result beside the next ones: load another variant and run the same "
                                  "text (Ctrl+P)")
        self.pinButton.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.pinButton.setEnabled(False)
        self.unpinButton = QPushButton("Unpin", objectName="unpinButton")
        self.unpinButton.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.pinnedCaption = QLabel(objectName="pinnedCaption", wordWrap=True)
        self.latestCaption = QLabel("<b>Latest</b>", objectName="latestCaption")
        self.sideBySide = QLabel(objectName="sideBySide", wordWrap=True)
        self._last_record = None
        self._pinned_record = None

        self.translationOptions = QWidget()
        options = QHBoxLayout(self.translationOptions)
        options.setContentsMargins(0, 0, 0, 0)
        options.addWidget(QLabel("Max new tokens"))
        options.addWidget(self.maxTokensSpin)
        self.beamsLabel = QLabel("Beams")
        options.addWidget(self.beamsLabel)
        options.addWidget(self.beamsSpin)
        self.samplingOptions = QWidget()
        sampling = QHBoxLayout(self.samplingOptions)
        sampling.setContentsMargins(0, 0, 0, 0)
        sampling.addWidget(self.sampleCheck)
        for label, widget in (("Temperature", self.temperatureSpin), ("Top-p", self.topPSpin), ("Seed", self.seedSpin)):
            sampling.addWidget(QLabel(label))
            sampling.addWidget(widget)
        sampling.addStretch()
        options.addStretch()
        row = QHBoxLayout()
        row.addWidget(QLabel("Examples"))
        row.addWidget(self.examplesCombo, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.runButton)
        buttons.addWidget(self.runContinuousButton)
        buttons.addWidget(self.stopButton)
        box = QVBoxLayout(self)
        box.addLayout(row)
        box.addWidget(self.inputEdit, 2)
        box.addWidget(self.translationOptions)
        box.addWidget(self.samplingOptions)  # a row of its own: the panel stays narrow enough for 1280 px
        box.addLayout(buttons)
        box.addWidget(self.loadFirstHint)
        results = self._results = QGridLayout()
        results.setContentsMargins(0, 4, 0, 0)
        pinned_head = QHBoxLayout()
        pinned_head.addWidget(self.pinnedCaption, 1)
        pinned_head.addWidget(self.unpinButton)
        latest_head = QHBoxLayout()
        latest_head.addWidget(self.latestCaption, 1)
        latest_head.addWidget(self.pinButton)
        results.addLayout(pinned_head, 0, 0)
        results.addLayout(latest_head, 0, 1)
        results.addWidget(self.pinnedView, 1, 0)
        results.addWidget(self.resultView, 1, 1)
        results.addWidget(self.sideBySide, 2, 0, 1, 2)
        results.setColumnStretch(0, 1)
        results.setColumnStretch(1, 1)
        results.setRowStretch(3, 1)  # spare room below, so the comparison line stays under the results
        box.addLayout(results, 5)

        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            QShortcut(QKeySequence(keys), self, self._on_run_clicked, context=Qt.ShortcutContext.WindowShortcut)
        for keys in ("Ctrl+Shift+Return", "Ctrl+Shift+Enter"):
            QShortcut(QKeySequence(keys), self, self._on_run_continuous_clicked,
                      context=Qt.ShortcutContext.WindowShortcut)
        QShortcut(QKeySequence("Escape"), self, self.stopRequested.emit, context=Qt.ShortcutContext.WindowShortcut)
        QShortcut(QKeySequence("Ctrl+P"), self, self.pinButton.click, context=Qt.ShortcutContext.WindowShortcut)
        self.pinButton.clicked.connect(self.pin)
        self.unpinButton.clicked.connect(self.unpin)
        self.runButton.clicked.connect(self._on_run_clicked)
        self.runContinuousButton.clicked.connect(self._on_run_continuous_clicked)
        self.stopButton.clicked.connect(self.stopRequested)
        self.examplesCombo.activated.connect(self._on_example_chosen)
        self.inputEdit.textChanged.connect(self._on_text_changed)
        self._requested_text: str | None = None  # the text of the latest Run
        self._ran_text: str | None = None  # the text of the result on show
        self._task = ""
        self.set_task("classification")
        self.set_state(ready=False, running=False)
        self.unpin()

    def set_task(self, task: str) -> None:
        """Examples and options for this task. The user's own text stays (comparing one sentence across
        variants is the point); only an empty box or another task's example gives way to this task's."""
        if task != self._task:
            self.resultView.clear()
            self._last_record = None
            self.pinButton.setEnabled(False)
            if self._task:
                self.unpin()  # a result of another task is no comparison
        self.examplesCombo.clear()
        self.examplesCombo.addItem("Pick an example…", None)
        for text in EXAMPLES[task]:
            self.examplesCombo.addItem(text, text)
        self.translationOptions.setVisible(task in ("translation", "generation"))
        self.beamsLabel.setVisible(task == "translation")
        self.beamsSpin.setVisible(task == "translation")
        self.samplingOptions.setVisible(task == "generation")
        text = self.inputEdit.toPlainText()
        others = [example for other, examples in EXAMPLES.items() if other != task for example in examples]
        if not text.strip() or text in others:
            self.inputEdit.setPlainText(EXAMPLES[task][0])
        self._task = task

    def set_state(self, ready: bool, running: bool, load_first: str | None = None) -> None:
        """ready: the engine can take a run (it is up, and no load is going on). load_first: the model and
        variant the panel shows, when it is not the one loaded: Run loads it first, and says so here."""
        self.runButton.setEnabled(ready and not running)
        self.runContinuousButton.setEnabled(ready and not running)
        self.stopButton.setEnabled(running)
        self.loadFirstHint.setText(f"Run loads {load_first} first." if load_first else "")
        self.loadFirstHint.setVisible(bool(load_first) and ready and not running)

    def show_record(self, record) -> None:
        """A finished request's result, greyed out if the text was edited after Run."""
        self.resultView.show_record(record)
        self._last_record = record
        self.pinButton.setEnabled(True)
        self._ran_text = self._requested_text
        self._on_text_changed()
        self._compare_with_pinned()
        if self._pinned_record is not None:
            self.latestCaption.setText(f"<b>Latest</b> [{html.escape(record.variant_label)}]")

    def clear_result(self) -> None:
        """The model changed: its result would read as the new one's (a pinned one stays, named)."""
        self.resultView.clear()
        self._last_record = None
        self.pinButton.setEnabled(False)
        self.sideBySide.clear()

    @Slot()
    def pin(self) -> None:
        """The latest result moves to the left, to stay beside the next ones (another variant, same text)."""
        record = self._last_record
        if record is None:
            return
        self._pinned_record = record
        self.pinnedView.compact = True
        self.pinnedView.show_record(record)
        self.pinnedView.set_stale(False)
        self.pinnedCaption.setText(f"<b>Pinned</b> [{html.escape(record.variant_label)}]")
        self._set_side_by_side(True)
        self.pinnedCaption.setToolTip(f"{record.model_name} [{record.variant_label}]")  # and under its result
        for widget in (self.pinnedView, self.pinnedCaption, self.unpinButton, self.latestCaption, self.sideBySide):
            widget.show()
        self._compare_with_pinned()

    @Slot()
    def unpin(self) -> None:
        self._pinned_record = None
        for widget in (self.pinnedView, self.pinnedCaption, self.unpinButton, self.latestCaption, self.sideBySide):
            widget.hide()
        self._set_side_by_side(False)

    def _set_side_by_side(self, on: bool) -> None:
        """Two results in two halves, compact; or the latest alone across the panel."""
        self._results.setColumnStretch(0, 1 if on else 0)
        self.resultView.compact = self.pinnedView.compact = on
        if self._last_record is not None and self._last_record is not self._pinned_record:
            self.resultView.show_record(self._last_record)
            self._on_text_changed()

    def _compare_with_pinned(self) -> None:
        pinned, latest = self._pinned_record, self._last_record
        if pinned is None or latest is None or latest is pinned:
            self.sideBySide.setText("Load another variant and run the same text to compare." if pinned else "")
            return
        ratio = pinned.latency / latest.latency if latest.latency > 0 else float("inf")
        speed = f"{ratio:.1f}x faster" if ratio >= 1 else f"{1 / ratio:.1f}x slower"
        same = "" if _answer(pinned) == _answer(latest) else " · <b>the answers differ</b>"
        self.sideBySide.setText(f"Latest {latest.latency * 1000:.1f} ms against pinned {pinned.latency * 1000:.1f} ms: "
                                f"<b>{speed}</b>{same}")

    def show_streaming(self, text: str) -> None:
        self.resultView.show_streaming(text)

    @Slot()
    def _on_text_changed(self) -> None:
        if self._ran_text is not None:
            self.resultView.set_stale(self.inputEdit.toPlainText() != self._ran_text)

    def request(self) -> RunRequest:
        self._requested_text = self.inputEdit.toPlainText()
        generation = None
        if self._task == "generation":
            seed = self.seedSpin.value()
            generation = GenerationSettings(max_new_tokens=self.maxTokensSpin.value(),
                                            do_sample=self.sampleCheck.isChecked(),
                                            temperature=self.temperatureSpin.value(), top_p=self.topPSpin.value(),
                                            seed=None if seed < 0 else seed)
        return RunRequest(texts=(self.inputEdit.toPlainText(),), max_new_tokens=self.maxTokensSpin.value(),
                          num_beams=self.beamsSpin.value(), generation=generation)

    @Slot()
    def _on_run_clicked(self) -> None:
        if self.runButton.isEnabled():
            self.runRequested.emit(self.request(), False)

    @Slot()
    def _on_run_continuous_clicked(self) -> None:
        if self.runContinuousButton.isEnabled():
            self.runRequested.emit(self.request(), True)

    @Slot(int)
    def _on_example_chosen(self, index: int) -> None:
        text = self.examplesCombo.itemData(index)
        if text:
            self.inputEdit.setPlainText(text)
