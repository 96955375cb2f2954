"""Typed access to QSettings: every key named once, with its default, type and range.

A value of the wrong type or out of range (a hand-edited or damaged file) reads as the default.
The file itself follows core.safe_files' policy: a link is followed to a regular file only; a
device, FIFO or folder in its place is never read (a FIFO would block the start-up) nor replaced.
"""

import shutil
import sys
import tempfile
import time
import weakref
from pathlib import Path

from PySide6.QtCore import QByteArray, QCoreApplication, QSettings

from core.requests import RunRequest
from core.safe_files import FileRefused, write_target

ORGANIZATION = "ModelSizeLab"
APPLICATION = "Model Size Lab"
MAX_FILE_BYTES = 2**20  # ours is under a kilobyte; a bigger one is damaged, not settings
MAX_TEXT = 1000  # characters of a restored string (an id, a device name)


class Settings:
    # key: (type, default, allowed values: a range for numbers, a tuple for words, None for any)
    _KEYS = {
        "task": (str, "classification", ("classification", "translation")),
        "model_id": (str, "bundled/minilm-l6-sentiment", None),
        "precision": (str, "fp32", ("fp32", "fp16", "bf16")),
        "int8": (bool, False, None),
        "layers": (int, 0, range(0, 97)),  # 0: all layers; the layers box goes to 96
        "device": (str, "cpu", None),
        "threads": (int, 0, range(0, 1025)),  # 0: torch's default
        "font_points": (int, 0, range(0, 41)),  # 0: the system's size; the window allows 6-40
        "plot_window_s": (int, 60, range(5, 3601)),
        "max_new_tokens": (int, RunRequest.max_new_tokens, range(1, 513)),
    }

    def __init__(self, qsettings: QSettings | None = None):
        self.set_aside: Path | None = None
        self.refused: str | None = None
        self._s = qsettings or self._open()
        if self._s.status() == QSettings.Status.FormatError:
            self._set_aside(Path(self._s.fileName()))

    def _open(self) -> QSettings:
        path = settings_path()
        try:
            target, _mode = write_target(path)
        except FileRefused as exc:
            # Never read it (a FIFO blocks) nor write it (a rename over a device replaces the device):
            # this session keeps its settings in a scratch file, and says so once.
            self.refused = f"Settings not read or saved: {exc}"
            print(f"sizelab: {self.refused}", file=sys.stderr)
            scratch = tempfile.mkdtemp(prefix="sizelab-settings-")
            weakref.finalize(self, shutil.rmtree, scratch, True)
            return QSettings(str(Path(scratch) / path.name), QSettings.Format.IniFormat)
        if target.exists() and target.stat().st_size > MAX_FILE_BYTES:
            self._set_aside(target)
        return QSettings(str(target), QSettings.defaultFormat())

    def _set_aside(self, damaged: Path) -> None:
        """Keep a damaged file for inspection, and start again from defaults."""
        self.set_aside = damaged.with_name(f"{damaged.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
        damaged.replace(self.set_aside)
        if getattr(self, "_s", None) is not None:
            self._s = QSettings(self._s.fileName(), self._s.format())

    def get(self, key: str):
        kind, default, allowed = self._KEYS[key]
        value = self._s.value(key, default)
        try:
            if kind is bool:
                value = value if isinstance(value, bool) else str(value).lower() in ("true", "1")
            else:
                value = kind(value)
        except (TypeError, ValueError, OverflowError):
            return default
        if kind is str and len(value) > MAX_TEXT:
            return default
        if allowed is not None and value not in allowed:  # an int past int32 raised OverflowError in a spin box
            return default
        return value

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


def settings_path() -> Path:
    """Where QSettings() keeps this app's settings, found without opening that file.

    QSettings reads its file when it is made, and a FIFO there blocked the start-up; so Qt is
    asked for the path of a sibling that does not exist, and the name is swapped for ours.
    """
    application = QCoreApplication.applicationName()
    probe = QSettings(QSettings.defaultFormat(), QSettings.Scope.UserScope,
                      QCoreApplication.organizationName(), f"{application}.sizelab-path-probe")
    probed = Path(probe.fileName())
    return probed.with_name(f"{application}{probed.suffix}")
