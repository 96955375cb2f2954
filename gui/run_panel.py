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
            self._bar_rows[label].setFormat(f"{score:.1%}")

    def show_streaming(self, text: str) -> None:
        self.headline.setText(text or "…")
        # Long translations get a smaller headline so the whole text stays in view.
        font = self.headline.font()
        font.setPointSizeF(QApplication.font().pointSizeF() * (1.6 if len(text) < 80 else 1.15))
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
        self.timing.setText(f"<b>{record.latency * 1000:.1f} ms</b> — {phases}{extra}"
                            f"<br>{html.escape(record.model_name)} [{html.escape(record.variant_label)}] on "
                            f"{html.escape(record.device)} · {record.input_tokens} tokens")
        self.notes.setText("<br>".join(html.escape(w) for w in record.warnings))
        self.setAccessibleDescription(record.summary)


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
        self.runButton = QPushButton("Run once", objectName="runButton")
        self.runButton.setToolTip("Run the model on this text (Ctrl+Enter)")
        self.runContinuousButton = QPushButton("Run continuously", objectName="runContinuousButton")
        self.runContinuousButton.setToolTip("Repeat this text for the live plots (Ctrl+Shift+Enter)")
        self.stopButton = QPushButton("Stop", objectName="stopButton")
        self.stopButton.setToolTip("Stop running (Esc)")
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
        options.addWidget(self.samplingOptions)
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
        box.addWidget(self.inputEdit, 1)
        box.addWidget(self.translationOptions)
        box.addLayout(buttons)
        box.addWidget(self.resultView, 1)

        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            QShortcut(QKeySequence(keys), self, self._on_run_clicked, context=Qt.ShortcutContext.WindowShortcut)
        for keys in ("Ctrl+Shift+Return", "Ctrl+Shift+Enter"):
            QShortcut(QKeySequence(keys), self, self._on_run_continuous_clicked,
                      context=Qt.ShortcutContext.WindowShortcut)
        QShortcut(QKeySequence("Escape"), self, self.stopRequested.emit, context=Qt.ShortcutContext.WindowShortcut)
        self.runButton.clicked.connect(self._on_run_clicked)
        self.runContinuousButton.clicked.connect(self._on_run_continuous_clicked)
        self.stopButton.clicked.connect(self.stopRequested)
        self.examplesCombo.activated.connect(self._on_example_chosen)
        self.set_task("classification")
        self.set_state(loaded=False, running=False)

    def set_task(self, task: str) -> None:
        self.examplesCombo.clear()
        self.examplesCombo.addItem("Pick an example…", None)
        for text in EXAMPLES[task]:
            self.examplesCombo.addItem(text, text)
        self._task = task
        self.translationOptions.setVisible(task in ("translation", "generation"))
        self.beamsLabel.setVisible(task == "translation")
        self.beamsSpin.setVisible(task == "translation")
        self.samplingOptions.setVisible(task == "generation")
        if not self.inputEdit.toPlainText().strip() or self.inputEdit.toPlainText() in sum(EXAMPLES.values(), []):
            self.inputEdit.setPlainText(EXAMPLES[task][0])

    def set_state(self, loaded: bool, running: bool) -> None:
        self.runButton.setEnabled(loaded and not running)
        self.runContinuousButton.setEnabled(loaded and not running)
        self.stopButton.setEnabled(running)

    def request(self) -> RunRequest:
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
