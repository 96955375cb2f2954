"""Long runs and closing mid-work, with the real engine and the bundled model."""

import time

import psutil
import pytest
from PySide6.QtCore import Qt

from gui import history, plots


@pytest.mark.slow  # the real engine loading the real model: about 4 s
def test_close_while_the_bundled_model_loads(qtbot, make_window):
    window = make_window()
    qtbot.mouseClick(window.modelPanel.loadButton, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.session.load_job is not None, timeout=5_000)
    started = time.monotonic()
    window.close()
    assert time.monotonic() - started < 5.0
    assert not window.isVisible()
    assert not window.host.running()  # the engine process ended with the window


@pytest.mark.slow
def test_twenty_thousand_requests_stay_bounded_and_flat(qtbot, make_window):
    window = make_window()
    window.modelPanel.layersSpin.setValue(1)
    window.modelPanel.int8Check.setChecked(True)
    with qtbot.waitSignal(window.host.jobFinished, timeout=120_000):
        qtbot.mouseClick(window.modelPanel.loadButton, Qt.MouseButton.LeftButton)
    window.runPanel.inputEdit.setPlainText("ok")
    qtbot.mouseClick(window.runPanel.runContinuousButton, Qt.MouseButton.LeftButton)
    processes = {"window": psutil.Process(), "engine": psutil.Process(window.host.pid())}
    qtbot.waitUntil(lambda: window.historyModel._count >= 5_000, timeout=600_000)
    rss_early = {name: process.memory_info().rss for name, process in processes.items()}
    qtbot.waitUntil(lambda: window.historyModel._count >= 20_000, timeout=1_200_000)
    rss_late = {name: process.memory_info().rss for name, process in processes.items()}
    with qtbot.waitSignal(window.host.jobFinished, timeout=10_000):
        qtbot.mouseClick(window.runPanel.stopButton, Qt.MouseButton.LeftButton)
    for name in processes:
        print(f"{name} RSS at 5,000 requests {rss_early[name] / 2**20:.0f} MiB, "
              f"at 20,000 {rss_late[name] / 2**20:.0f} MiB")
    assert window.historyModel.rowCount() == history.MAX_ROWS
    assert len(window.latencyPlot.values("request")[0]) <= plots.BUFFER
    for name in processes:
        assert rss_late[name] - rss_early[name] < 50 * 2**20, name
