"""Settings: typed, defaults for bad values, and a damaged file is set aside (not deleted)."""

import os

from PySide6.QtCore import QSettings

from gui.settings import Settings


def test_wrong_types_read_as_defaults(isolated_settings):
    raw = QSettings()
    raw.setValue("threads", "many")
    raw.setValue("int8", "true")
    settings = Settings()
    assert settings.get("threads") == 0
    assert settings.get("int8") is True


def test_garbage_settings_fall_back_to_defaults(isolated_settings, make_window):
    """Qt's INI reader is lenient: garbage values arrive as strings; the window must still start sane."""
    raw = QSettings()
    path = raw.fileName()
    del raw
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(b"[General]\nmodel_id=\"unterminated\n\x00\xff\xfe garbage [[[\nlayers=-7\ntask=poetry\n")
    window = make_window()
    assert window.modelPanel.current_model_id() == "bundled/minilm-l6-sentiment"
    assert window.modelPanel.task == "classification"
    assert window.modelPanel.variant().layers is None
