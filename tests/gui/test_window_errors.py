"""Error paths of the window, driven against a fake engine (the only stand-in: at the worker's edge)."""

from PySide6.QtCore import Qt

from core.errors import ModelSourceError

from .conftest import FakeEngine


def load(qtbot, window):
    with qtbot.waitSignal(window.host.jobFinished, timeout=10_000):
        qtbot.mouseClick(window.modelPanel.loadButton, Qt.MouseButton.LeftButton)


def test_load_failure_is_shown_and_the_app_goes_on(qtbot, make_window):
    engine = FakeEngine(load_error=ModelSourceError("The weights in x cannot be read (damaged?)"))
    window = make_window(lambda: engine)
    load(qtbot, window)
    assert window.errorBanner.isVisible()
    assert "cannot be read" in window.errorBanner.text()
    assert window.modelPanel.loadButton.isEnabled()
    assert not window.runPanel.runButton.isEnabled()
    assert window.modelPanel.loadProgress.format() == "Load failed"


def test_memory_error_during_a_run_is_a_message(qtbot, make_window):
    engine = FakeEngine(run_error=MemoryError())
    window = make_window(lambda: engine)
    load(qtbot, window)
    assert window.runPanel.runButton.isEnabled()
    with qtbot.waitSignal(window.host.jobFinished, timeout=10_000):
        qtbot.mouseClick(window.runPanel.runButton, Qt.MouseButton.LeftButton)
    assert "Out of memory" in window.errorBanner.text()
    assert "int8" in window.errorBanner.text()
    assert engine.unloads >= 1  # the model was released
    engine.run_error = None
    with qtbot.waitSignal(window.host.jobFinished, timeout=10_000):
        qtbot.mouseClick(window.runPanel.runButton, Qt.MouseButton.LeftButton)
    assert engine.runs == 1


def test_cancel_during_load(qtbot, make_window):
    engine = FakeEngine(load_steps=200, step_seconds=0.02)
    window = make_window(lambda: engine)
    qtbot.mouseClick(window.modelPanel.loadButton, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Fake step" in window.modelPanel.loadProgress.format(), timeout=10_000)
    assert window.modelPanel.cancelButton.isEnabled()
    with qtbot.waitSignal(window.host.jobFinished, timeout=5_000,
                          check_params_cb=lambda number, outcome: outcome == "cancelled"):
        qtbot.mouseClick(window.modelPanel.cancelButton, Qt.MouseButton.LeftButton)
    assert window.modelPanel.loadProgress.format() == "Cancelled"
    assert engine.loads == 0
    assert window.modelPanel.loadButton.isEnabled() and not window.runPanel.runButton.isEnabled()


def test_close_during_a_continuous_run(qtbot, make_window):
    engine = FakeEngine(run_seconds=0.005)
    window = make_window(lambda: engine)
    load(qtbot, window)
    qtbot.mouseClick(window.runPanel.runContinuousButton, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: engine.runs > 10, timeout=10_000)
    window.close()
    assert not window.host.thread.isRunning()


def test_stale_load_results_are_dropped(qtbot, make_window):
    engine = FakeEngine(load_steps=20, step_seconds=0.01)
    window = make_window(lambda: engine)
    panel = window.modelPanel
    panel.loadButton.setEnabled(True)
    first = window.host.submit("load", panel.load_request())
    window._load_job = first
    window._on_model_panel_load_requested(panel.load_request())  # a newer load supersedes it
    qtbot.waitUntil(lambda: window._load_job is None, timeout=10_000)
    assert engine.loads == 1  # the first was cancelled in the queue or mid-way


def test_stop_ends_a_continuous_run(qtbot, make_window):
    engine = FakeEngine(run_seconds=0.002)
    window = make_window(lambda: engine)
    load(qtbot, window)
    qtbot.mouseClick(window.runPanel.runContinuousButton, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.historyModel.rowCount() > 20, timeout=10_000)
    with qtbot.waitSignal(window.host.jobFinished, timeout=5_000):
        qtbot.keyClick(window.runPanel.inputEdit, Qt.Key.Key_Escape)
    assert window.runPanel.runButton.isEnabled() and not window.runPanel.stopButton.isEnabled()
    assert window.latencyPlot.points() > 20
