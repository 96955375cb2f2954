"""Add an OpenAI-compatible endpoint (a hosted API, or a team's vLLM / llama.cpp / Ollama server).

The dialog asks for the API root, the model name and the NAME of the environment variable that
holds the key, never the key itself: the key is read by the engine when it sends a request, and so
never reaches the settings, a saved run or the screen.
"""

import os

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QVBoxLayout

from core.catalog import ModelEntry
from core.errors import SizeLabError


class EndpointDialog(QDialog):
    """Returns a ModelEntry (ModelEntry.for_endpoint) from entry() once accepted."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("OpenAI-compatible endpoint")
        self.urlEdit = QLineEdit(objectName="endpointUrl", placeholderText="http://127.0.0.1:8000/v1")
        self.modelEdit = QLineEdit(objectName="endpointModel", placeholderText="the model name the server knows")
        self.keyEnvEdit = QLineEdit("OPENAI_API_KEY", objectName="endpointKeyEnv")
        self.keyState = QLabel(objectName="endpointKeyState", wordWrap=True)
        self.apiCombo = QComboBox(objectName="endpointApi")
        self.apiCombo.addItem("Chat completions (/chat/completions)", "chat")
        self.apiCombo.addItem("Completions (/completions, raw prompt)", "completions")
        self.error = QLabel(objectName="endpointError", wordWrap=True)
        self.error.setStyleSheet("color: #c0392b")
        note = QLabel("The key is read from that environment variable when a request is sent; it is never "
                      "saved or shown. Plain http is allowed for this machine and private addresses only.",
                      wordWrap=True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        form = QFormLayout()
        form.addRow("Base URL", self.urlEdit)
        form.addRow("Model", self.modelEdit)
        form.addRow("Key variable", self.keyEnvEdit)
        form.addRow("", self.keyState)
        form.addRow("API", self.apiCombo)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self._entry: ModelEntry | None = None
        self.keyEnvEdit.textChanged.connect(self._on_key_env_changed)
        self.buttons.accepted.connect(self._on_accepted)
        self.buttons.rejected.connect(self.reject)
        self._on_key_env_changed(self.keyEnvEdit.text())

    def entry(self) -> ModelEntry | None:
        return self._entry

    @Slot(str)
    def _on_key_env_changed(self, name: str) -> None:
        name = name.strip()
        self.keyState.setText(f"${name} is set." if name and os.environ.get(name) else
                              f"${name or '…'} is not set: servers that need no key still work.")

    @Slot()
    def _on_accepted(self) -> None:
        try:
            self._entry = ModelEntry.for_endpoint(self.urlEdit.text(), self.modelEdit.text(),
                                                  key_env=self.keyEnvEdit.text(), api=self.apiCombo.currentData())
        except SizeLabError as exc:  # a bad URL or an empty model: said here, the dialog stays open
            self.error.setText(str(exc))
            return
        self.accept()
