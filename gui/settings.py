"""Typed access to QSettings: every key named once, with its default and type.

A value of the wrong type (a hand-edited or damaged file) reads as the default.
"""

import time
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

ORGANIZATION = "ModelSizeLab"
APPLICATION = "Model Size Lab"


class Settings:
    _KEYS = {
        "task": (str, "classification"),
        "model_id": (str, "bundled/minilm-l6-sentiment"),
        "precision": (str, "fp32"),
        "int8": (bool, False),
        "layers": (int, 0),  # 0: all layers
        "device": (str, "cpu"),
        "threads": (int, 0),  # 0: torch's default
        "font_points": (int, 0),  # 0: the system's size
        "plot_window_s": (int, 60),
        "max_new_tokens": (int, 48),
    }

    def __init__(self, qsettings: QSettings | None = None):
        self._s = qsettings or QSettings()
        self.set_aside: Path | None = None
        if self._s.status() == QSettings.Status.FormatError:
            # A damaged file: keep it for inspection, start again from defaults.
            damaged = Path(self._s.fileName())
            self.set_aside = damaged.with_name(f"{damaged.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
            damaged.replace(self.set_aside)
            self._s = QSettings(self._s.fileName(), self._s.format())

    def get(self, key: str):
        kind, default = self._KEYS[key]
        value = self._s.value(key, default)
        try:
            if kind is bool:
                return value if isinstance(value, bool) else str(value).lower() in ("true", "1")
            return kind(value)
        except (TypeError, ValueError):
            return default

    def set(self, key: str, value) -> None:
        if key not in self._KEYS:
            raise KeyError(key)
        self._s.setValue(key, value)

    def geometry(self, name: str) -> QByteArray | None:
        value = self._s.value(f"window/{name}")
        return value if isinstance(value, QByteArray) else None

    def set_geometry(self, name: str, value: QByteArray) -> None:
        self._s.setValue(f"window/{name}", value)

    def sync(self) -> None:
        self._s.sync()
