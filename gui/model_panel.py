"""The model panel: task, model, variant, device; Load/Cancel with progress; the model card."""

import html
import os

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout,
                               QInputDialog, QLabel, QProgressBar, QPushButton, QSpinBox, QVBoxLayout)

from core import runtimes
from core.advisor import DeviceInfo, advise, cpu_device
from core.catalog import Catalog, ModelEntry, is_cached, known_depth
from core.columns import fmt_bytes, fmt_count
from core.errors import SizeLabError
from core.requests import LoadRequest
from core.variants import PRECISIONS, RUNTIME_PRECISIONS, Variant

OPEN_FOLDER = "__open_folder__"
HUB_ID = "__hub_id__"
ENDPOINT = "__endpoint__"
ALL_LAYERS = 0  # the layers spin box's "all"
GROUPS = (("bundled", "Bundled (offline)"), ("cached", "Hugging Face (in local cache)"),
          ("synthetic", "Synthetic (random weights, timing only)"), ("hub", "Hugging Face (download)"),
          ("folder", "Local folders"), ("endpoint", "Endpoints (remote, OpenAI-compatible)"))


def default_threads() -> int:
    """torch threads for a live model: one core is left for the window.

    On 2 cores, 2 torch threads beside the live plots ran 0.56-0.70x their paused rate and made the
    window's event loop up to 73 ms late; 1 thread, 0.97-1.05x and 43 ms (tests/benchmarks/plot_cost.py,
    ui_lateness.py). tests/benchmarks/efficiency.py measures what the idle core costs.
    """
    return max(1, (os.cpu_count() or 1) - 1)


class ModelPanel(QGroupBox):
    loadRequested = Signal(object)
    """The user asked to load: a core LoadRequest."""
    cancelRequested = Signal()
    """The user pressed Cancel during a load."""
    taskChanged = Signal(str)
    """The task combo changed (classification or translation)."""
    selectionChanged = Signal()
    """Anything the Load button would load changed (model, variant, device, threads)."""
    errorRaised = Signal(str)
    """A choice could not be used (bad hub id, nothing selected): a message for the user."""

    def __init__(self, catalog: Catalog, parent=None):
        super().__init__("Model", parent)
        self.catalog = catalog
        self._extra: list[ModelEntry] = []  # folders and hub ids the user added this session
        self._devices: list[DeviceInfo] = [cpu_device()]
        self._depths: dict[str, int | None] = {}  # known_depth per model id: read from disk once
        self._depth: int | None = None

        self.taskCombo = QComboBox(objectName="taskCombo")
        self.taskCombo.addItem("Classification (sentiment)", "classification")
        self.taskCombo.addItem("Translation", "translation")
        self.taskCombo.addItem("Text generation (causal LM)", "generation")
        self.modelCombo = QComboBox(objectName="modelCombo")
        self.modelCombo.setMinimumContentsLength(16)  # the list opens as wide as its names
        self.modelCombo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.runtimeCombo = QComboBox(objectName="runtimeCombo")
        for runtime in runtimes.available():  # only what is installed here
            self.runtimeCombo.addItem(runtimes.SPECS[runtime].title, runtime)
        missing = runtimes.missing_note()
        self.runtimeCombo.setToolTip("What runs the model. ONNX Runtime and OpenVINO convert it at the first load "
                                     "and keep the result (sizelab-cli runtimes lists and removes it).")
        self.runtimeHint = QLabel(f"Not installed: {missing}" if missing else "", objectName="runtimeHint",
                                  wordWrap=True, textInteractionFlags=Qt.TextInteractionFlag.TextSelectableByMouse)
        self.runtimeHint.setVisible(bool(missing))
        self.precisionCombo = QComboBox(objectName="precisionCombo")
        self.precisionCombo.addItems(PRECISIONS)
        self.int8Check = QCheckBox("int8 (dynamic, Linear layers)", objectName="int8Check")
        self.perChannelCheck = QCheckBox("one scale per output channel", objectName="perChannelCheck")
        self.perChannelCheck.setToolTip("int8 weights with a scale for each output channel, not one for the whole "
                                        "tensor: closer to fp32 where rows differ in size, at nearly the same speed")
        self.layersSpin = QSpinBox(objectName="layersSpin")
        self.layersSpin.setRange(ALL_LAYERS, 96)
        self.layersSpin.setSpecialValueText("all")  # an explicit value: a depth never carries over by accident
        self.layersSpin.setValue(ALL_LAYERS)
        self.layersOf = QLabel("of ?")
        self.deviceCombo = QComboBox(objectName="deviceCombo")
        self.threadsSpin = QSpinBox(objectName="threadsSpin")
        self.threadsSpin.setRange(1, max(1, os.cpu_count() or 1))
        self.threadsSpin.setValue(default_threads())
        self.allowPickleCheck = QCheckBox("Allow pickle (weights_only)", objectName="allowPickleCheck")
        self.allowPickleCheck.setToolTip("Only for folders without safetensors. Unpickling can run code; "
                                         "weights are loaded with torch.load(weights_only=True).")
        self.loadButton = QPushButton("Load", objectName="loadButton")
        self.loadButton.setToolTip("Load this model variant (Ctrl+L)")
        self.cancelButton = QPushButton("Cancel", objectName="cancelButton")
        self.cancelButton.setEnabled(False)
        self.loadProgress = QProgressBar(objectName="loadProgress")
        self.loadProgress.setRange(0, 100)
        self.loadProgress.setValue(0)
        self.loadProgress.setTextVisible(True)
        self.loadProgress.setFormat("")
        self.card = QLabel(objectName="modelCard")
        self.card.setWordWrap(True)
        self.card.setTextFormat(Qt.TextFormat.RichText)
        self.card.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.card.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        layers = QHBoxLayout()
        layers.addWidget(self.layersSpin)
        layers.addWidget(self.layersOf)
        self.keepLastCheck = QCheckBox("+ last", objectName="keepLastCheck")
        self.keepLastCheck.setToolTip("Keep the bottom k-1 blocks and the last one (the layer-pruning "
                                      "baseline for causal LMs) instead of the bottom k")
        layers.addWidget(self.keepLastCheck)
        layers.addStretch()
        form = QFormLayout()
        form.addRow("Task", self.taskCombo)
        form.addRow("Model", self.modelCombo)
        form.addRow("Runtime", self.runtimeCombo)
        form.addRow("", self.runtimeHint)
        form.addRow("Precision", self.precisionCombo)
        form.addRow("", self.int8Check)
        form.addRow("", self.perChannelCheck)
        form.addRow("Layers kept", layers)
        form.addRow("Device", self.deviceCombo)
        form.addRow("CPU threads", self.threadsSpin)
        form.addRow("", self.allowPickleCheck)
        buttons = QHBoxLayout()
        buttons.addWidget(self.loadButton, 2)
        buttons.addWidget(self.cancelButton, 1)
        box = QVBoxLayout(self)
        box.addLayout(form)
        box.addLayout(buttons)
        box.addWidget(self.loadProgress)
        box.addWidget(self.card, 1)

        self._fill_devices()
        self._fill_models()
        self.taskCombo.currentIndexChanged.connect(self._on_task_changed)
        self.modelCombo.activated.connect(self._on_model_activated)
        self.modelCombo.currentIndexChanged.connect(self._on_model_changed)
        for widget in (self.precisionCombo, self.deviceCombo):
            widget.currentIndexChanged.connect(self._on_selection_changed)
        self.int8Check.toggled.connect(self._on_int8_toggled)
        self.runtimeCombo.currentIndexChanged.connect(self._on_runtime_changed)
        self.layersSpin.valueChanged.connect(self._on_selection_changed)
        self.keepLastCheck.toggled.connect(self._on_selection_changed)
        self.perChannelCheck.toggled.connect(self._on_selection_changed)
        self.threadsSpin.valueChanged.connect(self._on_selection_changed)
        self.allowPickleCheck.toggled.connect(self._on_selection_changed)
        self.loadButton.clicked.connect(self._on_load_clicked)
        self.cancelButton.clicked.connect(self.cancelRequested)
        self._on_model_changed()

    # ------------------------------------------------------------ choices

    @property
    def task(self) -> str:
        return self.taskCombo.currentData()

    def _fill_models(self, select_id: str | None = None) -> None:
        previous = select_id or self.current_model_id()
        model = QStandardItemModel(self.modelCombo)
        entries = self.catalog.for_task(self.task) + [e for e in self._extra if e.task == self.task]
        for group, title in GROUPS:
            members = [e for e in entries if self._group(e) == group]
            if not members:
                continue
            header = QStandardItem(title)
            header.setFlags(Qt.ItemFlag.NoItemFlags)
            font = header.font()
            font.setBold(True)
            header.setFont(font)
            model.appendRow(header)
            for entry in members:
                label = entry.name + (f"  ·  {fmt_count(entry.params)}" if entry.params else "")
                item = QStandardItem("   " + label)
                item.setData(entry.id, Qt.ItemDataRole.UserRole)
                item.setToolTip(entry.about or entry.ref)
                model.appendRow(item)
        actions = [("Open folder…", OPEN_FOLDER), ("Hugging Face id…", HUB_ID)]
        if self.task == "generation":  # endpoints generate text: they are offered there only
            actions.append(("OpenAI-compatible endpoint…", ENDPOINT))
        for text, key in actions:
            item = QStandardItem(text)
            item.setData(key, Qt.ItemDataRole.UserRole)
            model.appendRow(item)
        blocked = self.modelCombo.blockSignals(True)
        self.modelCombo.setModel(model)
        self.modelCombo.blockSignals(blocked)
        if not self.select_model(previous):
            for row in range(model.rowCount()):
                if model.item(row).data(Qt.ItemDataRole.UserRole) not in (None, OPEN_FOLDER, HUB_ID, ENDPOINT):
                    self.modelCombo.setCurrentIndex(row)
                    break
        self._on_model_changed()

    @staticmethod
    def _group(entry: ModelEntry) -> str:
        if entry.source == "hub":
            return "cached" if is_cached(entry) else "hub"
        return entry.source

    def select_model(self, model_id: str | None) -> bool:
        if not model_id:
            return False
        index = self.modelCombo.findData(model_id, Qt.ItemDataRole.UserRole)
        if index >= 0:
            self.modelCombo.setCurrentIndex(index)
        return index >= 0

    def current_model_id(self) -> str | None:
        value = self.modelCombo.currentData(Qt.ItemDataRole.UserRole)
        return value if value not in (OPEN_FOLDER, HUB_ID, ENDPOINT) else None

    def current_entry(self) -> ModelEntry | None:
        model_id = self.current_model_id()
        for entry in list(self.catalog.models) + self._extra:
            if entry.id == model_id:
                return entry
        return None

    def forget_entry(self, model_id: str) -> None:
        """Take back a folder or hub id the user added (it failed to load); catalog models stay."""
        if any(e.id == model_id for e in self._extra):
            self._extra = [e for e in self._extra if e.id != model_id]
            self._fill_models()

    def apply_request(self, request: LoadRequest) -> None:
        """Show the choices of a load request again (the model still loaded after a load failed)."""
        self.taskCombo.setCurrentIndex(max(0, self.taskCombo.findData(request.entry.task)))
        if request.entry.source in ("folder", "hub", "endpoint") and not self.select_model(request.entry.id):
            self.add_entry(request.entry)
        self.select_model(request.entry.id)
        variant = request.variant
        self.runtimeCombo.setCurrentIndex(max(0, self.runtimeCombo.findData(variant.runtime)))
        self.int8Check.setChecked(variant.int8)
        self.perChannelCheck.setChecked(variant.per_channel)
        if not variant.int8:
            self.precisionCombo.setCurrentText(variant.precision)
        self.layersSpin.setValue(ALL_LAYERS if variant.layers is None else variant.layers)
        self.keepLastCheck.setChecked(variant.keep_last)
        self.select_device(request.device)
        if request.threads:
            self.threadsSpin.setValue(request.threads)
        self.allowPickleCheck.setChecked(request.allow_pickle)

    def add_entry(self, entry: ModelEntry) -> None:
        """Offer a folder or hub id chosen by the user, and select it."""
        if all(e.id != entry.id for e in self._extra):
            self._extra.append(entry)
        self._fill_models(select_id=entry.id)

    def set_devices(self, devices: list[DeviceInfo]) -> None:
        self._devices = list(devices) or [cpu_device()]
        self._fill_devices()

    def _fill_devices(self) -> None:
        current = self.deviceCombo.currentData()
        blocked = self.deviceCombo.blockSignals(True)
        self.deviceCombo.clear()
        for device in self._devices:
            memory = f" ({fmt_bytes(device.total_memory)})" if device.total_memory else ""
            self.deviceCombo.addItem(f"{device.id.upper() if device.kind == 'cpu' else device.id} · {device.name}{memory}",
                                     device.id)
        self.deviceCombo.blockSignals(blocked)
        self.select_device(current or "cpu")

    def select_device(self, device_id: str) -> None:
        index = self.deviceCombo.findData(device_id)
        self.deviceCombo.setCurrentIndex(max(index, 0))

    def current_device(self) -> DeviceInfo:
        device_id = self.deviceCombo.currentData()
        return next((d for d in self._devices if d.id == device_id), self._devices[0])

    def variant(self) -> Variant:
        layers = self.layersSpin.value()
        keep_all = layers == ALL_LAYERS or (self._depth is not None and layers >= self._depth)
        return Variant(precision=self.precisionCombo.currentText(), int8=self.int8Check.isChecked(),
                       layers=None if keep_all else layers, runtime=self.runtimeCombo.currentData() or "torch",
                       keep_last=self.keepLastCheck.isChecked() and not keep_all and layers >= 2,
                       per_channel=self.perChannelCheck.isChecked() and self.int8Check.isChecked()
                       and (self.runtimeCombo.currentData() or "torch") == "torch")

    def _known_depth(self, entry: ModelEntry | None) -> int | None:
        if entry is None:
            return None
        if entry.id not in self._depths:
            self._depths[entry.id] = known_depth(entry)
        return self._depths[entry.id]

    # ------------------------------------------------------------ reactions

    @Slot(int)
    def _on_task_changed(self, _index: int) -> None:
        self._fill_models()
        self.taskChanged.emit(self.task)

    @Slot(int)
    def _on_model_activated(self, index: int) -> None:
        key = self.modelCombo.itemData(index, Qt.ItemDataRole.UserRole)
        if key == OPEN_FOLDER:
            folder = QFileDialog.getExistingDirectory(self, "Open a transformers checkpoint folder")
            if folder:
                self.add_entry(ModelEntry.for_folder(folder, self.task))
            else:
                self._fill_models()
        elif key == HUB_ID:
            repo_id, ok = QInputDialog.getText(self, "Hugging Face model id",
                                               "Model id (owner/name), e.g. Helsinki-NLP/opus-mt-en-fr:")
            try:
                if ok and repo_id.strip():
                    self.add_entry(ModelEntry.for_hub(repo_id, self.task))
                else:
                    self._fill_models()
            except SizeLabError as exc:
                self._fill_models()
                self.show_error(str(exc))
        elif key == ENDPOINT:
            from .endpoint_dialog import EndpointDialog

            dialog = EndpointDialog(self)
            if dialog.exec() and dialog.entry() is not None:
                self.add_entry(dialog.entry())
            else:
                self._fill_models()

    @Slot(int)
    def _on_runtime_changed(self, _index: int) -> None:
        self._apply_runtime_limits()
        self._enable_per_channel()
        self._on_selection_changed()

    def _apply_runtime_limits(self) -> None:
        """Offer only the precisions and the int8 this runtime has (e.g. ONNX Runtime: fp32 and int8)."""
        runtime = self.runtimeCombo.currentData() or "torch"
        allowed = RUNTIME_PRECISIONS[runtime]
        for row, precision in enumerate(PRECISIONS):
            self.precisionCombo.model().item(row).setEnabled(precision in allowed)
        if self.precisionCombo.currentText() not in allowed:
            self.precisionCombo.setCurrentText("fp32")
        spec = runtimes.SPECS[runtime]
        can_int8 = runtimes.installed(runtime, int8=True)
        if not can_int8:
            self.int8Check.setChecked(False)
        self.int8Check.setEnabled(can_int8)
        self.int8Check.setText(spec.int8_label)
        self.int8Check.setToolTip(spec.int8_method if can_int8 else
                                  f"int8 needs {', '.join(spec.int8_modules)}: {runtimes.install_hint(runtime)}")

    def _enable_per_channel(self) -> None:
        """Per channel is a way of making int8 weights, offered on torch rows (core.variants)."""
        self.perChannelCheck.setEnabled(self.int8Check.isEnabled() and self.int8Check.isChecked()
                                        and (self.runtimeCombo.currentData() or "torch") == "torch")

    @Slot(bool)
    def _on_int8_toggled(self, checked: bool) -> None:
        if checked:
            self.precisionCombo.setCurrentText("fp32")
        self.precisionCombo.setEnabled(not checked)
        self._enable_per_channel()
        self._on_selection_changed()

    @Slot()
    def _on_model_changed(self, *_args) -> None:
        """A new model: its depth bounds the layers kept. "All" stays all; a model of unknown depth
        starts at all (a depth chosen for another model would cut or fail this one)."""
        entry = self.current_entry()
        keep_all = self.variant().layers is None
        self._depth = self._known_depth(entry)
        blocked = self.layersSpin.blockSignals(True)
        if self._depth:
            self.layersSpin.setMaximum(self._depth)
            if keep_all:
                self.layersSpin.setValue(self._depth)
            self.layersOf.setText(f"of {self._depth}")
            self.layersOf.setToolTip("")
        else:
            self.layersSpin.setMaximum(96)
            self.layersSpin.setValue(ALL_LAYERS)
            self.layersOf.setText("of ?")
            self.layersOf.setToolTip("The depth is known after the first load")
        self.layersSpin.blockSignals(blocked)
        self.show_entry(entry)
        self.selectionChanged.emit()

    @Slot()
    def _on_selection_changed(self, *_args) -> None:
        """Precision, int8, layers or device: the card's advice changes; nothing is read from disk."""
        self.show_entry(self.current_entry())
        self.selectionChanged.emit()

    @Slot()
    def _on_load_clicked(self) -> None:
        try:
            request = self.load_request()
        except SizeLabError as exc:
            self.show_error(str(exc))
            return
        self.loadRequested.emit(request)

    def load_request(self):
        """The immutable request for what is selected (raises SizeLabError if it cannot be)."""
        entry = self.current_entry()
        if entry is None:
            raise SizeLabError("Choose a model first.")
        if entry.source == "endpoint":  # the server's model as it is: no lever of ours applies
            return LoadRequest(entry=entry)
        device = self.current_device()
        return LoadRequest(entry=entry, variant=self.variant(), device=device.id,
                           threads=self.threadsSpin.value() if device.kind == "cpu" else None,
                           allow_pickle=self.allowPickleCheck.isChecked())

    # ------------------------------------------------------------ display

    def set_loading(self, loading: bool) -> None:
        for widget in (self.taskCombo, self.modelCombo, self.runtimeCombo, self.precisionCombo, self.int8Check,
                       self.perChannelCheck, self.layersSpin, self.keepLastCheck, self.deviceCombo, self.threadsSpin,
                       self.allowPickleCheck, self.loadButton):
            widget.setEnabled(not loading)
        if not loading:
            entry = self.current_entry()
            self._enable_levers(entry is None or entry.source != "endpoint")
        self.cancelButton.setEnabled(loading)
        if loading:
            self.loadProgress.setRange(0, 0)  # busy until the first fraction arrives
            self.loadProgress.setFormat("Starting…")

    def set_progress(self, fraction: float | None, message: str) -> None:
        if fraction is None:
            self.loadProgress.setRange(0, 0)
        else:
            self.loadProgress.setRange(0, 100)
            self.loadProgress.setValue(round(fraction * 100))
        self.loadProgress.setFormat(f"{message}  %p%" if fraction is not None else message)

    def finish_progress(self, message: str, done: bool) -> None:
        self.loadProgress.setRange(0, 100)
        self.loadProgress.setValue(100 if done else 0)
        self.loadProgress.setFormat(message)

    def _warnings_html(self, warnings: list[str], synthetic: bool) -> str:
        rows = []
        if synthetic:
            rows.append("<p style='color:#c0392b'><b>Synthetic: random weights.</b> Latency and memory are real; "
                        "the outputs are meaningless.</p>")
        rows += [f"<p style='color:#b9770e'>⚠ {html.escape(w)}</p>" for w in warnings if "Synthetic model" not in w]
        return "".join(rows)

    def show_entry(self, entry: ModelEntry | None) -> None:
        """The card before loading: what the catalog knows, and the advisor's warnings."""
        if entry is None:
            self.card.setText("")
            return
        self._enable_levers(entry.source != "endpoint")
        if entry.source == "endpoint":
            key_env = entry.extra.get("key_env", "OPENAI_API_KEY")
            rows = [("Model", entry.extra.get("model", "")), ("API", entry.extra.get("api", "chat")),
                    ("Key", f"${key_env} " + ("is set" if os.environ.get(key_env) else "is not set"))]
            self.card.setText(self._card_html(entry.name, entry.about, rows, [], False,
                                              "Not connected yet: Load asks the server for the model."))
            return
        advice = advise(self.current_device(), self.variant())
        rows = [("Parameters", fmt_count(entry.params) + " (catalog)"), ("Source", entry.source),
                ("License", entry.license or "see the model card")]
        self.card.setText(self._card_html(entry.name, entry.about, rows, advice, entry.synthetic, "Not loaded yet."))

    def _enable_levers(self, enabled: bool) -> None:
        """Precision, int8, layers, runtime and device are ours to pull on a local model only."""
        for widget in (self.runtimeCombo, self.precisionCombo, self.int8Check, self.layersSpin, self.deviceCombo,
                       self.threadsSpin, self.allowPickleCheck):
            widget.setEnabled(enabled)
        if enabled:
            self._apply_runtime_limits()
            self.precisionCombo.setEnabled(not self.int8Check.isChecked())
        self._enable_per_channel()

    def show_summary(self, summary) -> None:
        """The card after a load: measured figures of the loaded variant."""
        info = summary.info
        if summary.kind == "endpoint":
            remote = info["remote"]
            rows = [("Host", remote["host"]), ("Model", remote["model"]), ("API", remote["api"]),
                    ("Key", f"${info['key_env']}"), ("Connected in", f"{info['load_seconds']:.2f} s")]
            self.card.setText(self._card_html(summary.name, "Measured from this machine: latency includes the "
                                              "network and the server's queue.", rows, info["warnings"], False,
                                              "Connected."))
            return
        rows = [("Variant", f"{summary.variant_label} on {summary.device}"),
                ("Parameters", f"{fmt_count(info['params_total'])} total, "
                               f"{fmt_count(info['params_non_embedding'])} non-embedding"),
                ("Weights", fmt_bytes(info["weight_bytes"])
                 + (" (the converted model's file)" if info.get("runtime") else " (sum of tensor bytes)")),
                ("Layers", f"{info['layers']} of {info['layers_full']}"),
                ("Load time", f"{info['load_seconds']:.2f} s"),
                ("RSS", f"{fmt_bytes(info['rss_before_load'])} before, {fmt_bytes(info['rss_after_load'])} after load"),
                ("Source", f"{summary.source}: {info['origin']}"),
                ("License", summary.license or "see the model card"),
                ("Derived", "; ".join(info["derivation"][1:]) or "as published")]
        runtime = info.get("runtime")
        if runtime:  # what runs it, its version, int8 format and precision hint (core.runtimes)
            hint = f", precision hint {runtime['precision_hint']} (in force {runtime['precision_in_force']})" \
                if runtime.get("precision_hint") else ""
            rows.insert(1, ("Runtime", f"{runtime['title']} {runtime['version']}{hint}"
                                       + (f"; {runtime['quantization']}" if runtime.get("quantization") else "")))
            rows.append(("Converted model", f"{runtime['cache']} ({fmt_bytes(runtime['cache_bytes'])}, "
                                            f"{runtime['reused']})"))
        self.card.setText(self._card_html(summary.name, "", rows, info["warnings"], summary.synthetic, "Loaded."))

    def _card_html(self, title, about, rows, warnings, synthetic, state) -> str:
        table = "".join(f"<tr><td style='padding-right:8px'><b>{html.escape(k)}</b></td>"
                        f"<td>{html.escape(str(v))}</td></tr>" for k, v in rows)
        about_html = f"<p>{html.escape(about)}</p>" if about else ""
        return (f"<h3 style='margin:0'>{html.escape(title)}</h3>{about_html}<table>{table}</table>"
                f"{self._warnings_html(warnings, synthetic)}<p><i>{state}</i></p>")

    def show_error(self, message: str) -> None:
        self.errorRaised.emit(message)
