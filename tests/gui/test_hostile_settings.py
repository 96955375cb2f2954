"""The window and its settings file against hostile values, files and signals (issue 12)."""

import os
import stat
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QSettings

from gui.settings import Settings, settings_path

from .app_process import run_driver


def test_values_out_of_range_read_as_defaults_and_the_window_opens(isolated_settings, make_window):
    """An integer past int32 raised OverflowError in a spin box at start-up: the window never opened."""
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("[General]\nlayers=1099511627776\nthreads=-1\nplot_window_s=2147483648\n"
                    "max_new_tokens=100000000000000000000\nfont_points=1000000000\nprecision=fp64\ntask=poetry\n")
    window = make_window()
    assert window.windowSpin.value() == 60 and window.runPanel.maxTokensSpin.value() == 48
    assert window.modelPanel.variant().layers is None and window.modelPanel.task == "classification"


SETTINGS_VALUE = st.one_of(st.integers(), st.floats(), st.text(max_size=30), st.booleans(),
                           st.sampled_from(["2147483648", "-2147483649", "1e400", "nan", "true", " 7 ", "٣"]))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.dictionaries(st.sampled_from(sorted(Settings._KEYS)), SETTINGS_VALUE))
def test_every_restored_value_is_of_its_type_and_in_range(isolated_settings, values):
    raw = QSettings()
    raw.clear()
    for key, value in values.items():  # Qt stores at most 64-bit integers; bigger ones arrive as text
        raw.setValue(key, value if not isinstance(value, int) or -2**63 <= value < 2**63 else str(value))
    reader = Settings(raw)
    for key, (kind, default, allowed) in Settings._KEYS.items():
        value = reader.get(key)
        assert type(value) is kind, (key, value)
        assert allowed is None or value in allowed, (key, value)
        if key not in values:
            assert value == default


def _device_node(path):
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("making a device node needs root")


@pytest.mark.parametrize("how", ["the file", "a link to it"])
def test_a_settings_file_that_is_a_device_is_neither_read_nor_replaced(isolated_settings, how):
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    device = path if how == "the file" else path.with_name("device")
    _device_node(device)
    if how == "a link to it":
        path.symlink_to(device)
    reader = Settings()
    reader.set("threads", 2)
    reader.sync()
    assert reader.refused and "device" in reader.refused
    assert stat.S_ISCHR(os.lstat(device).st_mode)
    assert how == "the file" or path.is_symlink()


def test_a_settings_file_that_is_a_fifo_does_not_block_the_start(isolated_settings):
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    made = []
    thread = threading.Thread(target=lambda: made.append(Settings()), daemon=True)
    thread.start()
    thread.join(20)
    blocked = thread.is_alive()
    if blocked:  # let the blocked reader go, so the test fails instead of hanging
        with open(path, "wb"):
            pass
        thread.join(20)
    assert not blocked and made[0].refused and "FIFO" in made[0].refused


def test_a_link_to_a_regular_settings_file_writes_its_target(isolated_settings, tmp_path):
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    target = tmp_path / "kept-elsewhere.ini"
    target.write_text("[General]\nthreads=1\n")
    path.symlink_to(target)
    reader = Settings()
    assert reader.get("threads") == 1
    reader.set("threads", 2)
    reader.sync()
    assert path.is_symlink() and "threads=2" in target.read_text()


DRIVER = """
import os, signal, sys

if __name__ == "__main__":
    from PySide6.QtCore import QTimer

    import gui.app as app_module

    original = app_module.close_on_signals

    def close_on_signals(app, window):
        original(app, window)

        def poke():
            window.windowSpin.setValue(42)  # a change only a save on the way out keeps
            os.kill(os.getpid(), signal.{name})

        QTimer.singleShot(300, poke)
        keep_python_busy = QTimer(app)  # a Python slot running often: where KeyboardInterrupt used to land
        keep_python_busy.timeout.connect(lambda: None)
        keep_python_busy.start(5)

    app_module.close_on_signals = close_on_signals
    code = app_module.main(["--no-autoload"])
    print("exit", code, flush=True)
    sys.exit(code)
"""


@pytest.mark.parametrize("name", ["SIGINT", "SIGTERM"])
def test_sigint_and_sigterm_close_the_window_and_save_settings(tmp_path, name):
    result = run_driver(DRIVER.replace("{name}", name), tmp_path, timeout=180)
    assert result.returncode == 0 and "exit 0" in result.stdout, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    saved = list((tmp_path / "config").rglob("*.conf"))
    assert saved and "plot_window_s=42" in saved[0].read_text(), saved


def test_exporting_onto_a_device_is_an_error_banner_and_the_device_stays(qtbot, make_window, tmp_path, monkeypatch):
    """The window's exports use core.safe_files too; its refusal is shown, not an exception in a slot."""
    from functools import partial

    from PySide6.QtWidgets import QFileDialog

    from .fake_engine import FakeEngine

    null = tmp_path / "null"
    _device_node(null)
    window = make_window(partial(FakeEngine))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(null), ""))
    window._on_export_history()
    assert window.errorBanner.isVisible() and "it is a device" in window.errorBanner.text()
    assert stat.S_ISCHR(os.lstat(null).st_mode)
