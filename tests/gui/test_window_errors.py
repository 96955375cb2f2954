"""Error paths of the window, driven against a fake engine (the only stand-in: at the engine's edge).

The fake runs where the real engine runs, in the engine process; what it did is read back from a file.
"""

import time
from functools import partial

from PySide6.QtCore import Qt

from core.errors import ModelSourceError
from core.protocol import JobKind

from .fake_engine import FakeEngine, broken_engine, slow_starting_engine


def load(qtbot, window):
    with qtbot.waitSignal(window.host.jobFinished, timeout=10_000):
        qtbot.mouseClick(window.modelPanel.loadButton, Qt.MouseButton.LeftButton)


def run_once(qtbot, window):
    with qtbot.waitSignal(window.host.jobFinished, timeout=10_000):
        qtbot.mouseClick(window.runPanel.runButton, Qt.MouseButton.LeftButton)


def test_load_failure_is_shown_and_the_app_goes_on(qtbot, make_window):
    window = make_window(partial(FakeEngine, load_error=ModelSourceError("The weights in x cannot be read (damaged?)")))
    load(qtbot, window)
    assert window.errorBanner.isVisible()
    assert "cannot be read" in window.errorBanner.text()
    assert window.modelPanel.loadButton.isEnabled()
    assert window.runPanel.loadFirstHint.isVisible()  # nothing is loaded: Run would load it first
    assert window.modelPanel.loadProgress.format() == "Load failed"


def test_memory_error_during_a_run_is_a_message(qtbot, make_window, tmp_path):
    counts = tmp_path / "counts.json"
    window = make_window(partial(FakeEngine, counts, run_error=MemoryError(), run_errors=1))
    load(qtbot, window)
    assert window.runPanel.runButton.isEnabled()
    run_once(qtbot, window)
    assert "Out of memory" in window.errorBanner.text()
    assert "int8" in window.errorBanner.text()
    assert FakeEngine.counts(counts)["unloads"] >= 1  # the model was released
    run_once(qtbot, window)
    assert FakeEngine.counts(counts)["runs"] == 1


def test_an_engine_that_dies_mid_run_is_reported_and_restarted(qtbot, make_window, tmp_path):
    """A crash or the kernel's out-of-memory killer ends the engine process, not the app."""
    window = make_window(partial(FakeEngine, exit_on_run=True))
    load(qtbot, window)
    first_engine = window.host.pid()
    with qtbot.waitSignal(window.host.started, timeout=60_000):  # the fresh engine is up
        with qtbot.waitSignal(window.host.jobFinished, timeout=10_000,
                              check_params_cb=lambda event: event.outcome == "failed"):
            qtbot.mouseClick(window.runPanel.runButton, Qt.MouseButton.LeftButton)
    assert "stopped unexpectedly" in window.errorBanner.text()
    assert "exited with code 3" in window.errorBanner.text()
    assert window.host.pid() != first_engine and window.host.running()
    assert window.session.summary is None and window.runPanel.loadFirstHint.isVisible()  # its model went with it
    assert window.modelPanel.loadProgress.format() == "Engine stopped"
    assert window.modelPanel.loadButton.isEnabled()
    load(qtbot, window)  # and the app goes on
    assert window.runPanel.runButton.isEnabled()


def test_cancel_during_load(qtbot, make_window, tmp_path):
    counts = tmp_path / "counts.json"
    window = make_window(partial(FakeEngine, counts, load_steps=200, step_seconds=0.02))
    qtbot.mouseClick(window.modelPanel.loadButton, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Fake step" in window.modelPanel.loadProgress.format(), timeout=10_000)
    assert window.modelPanel.cancelButton.isEnabled()
    with qtbot.waitSignal(window.host.jobFinished, timeout=5_000,
                          check_params_cb=lambda event: event.outcome == "cancelled"):
        qtbot.mouseClick(window.modelPanel.cancelButton, Qt.MouseButton.LeftButton)
    assert window.modelPanel.loadProgress.format() == "Cancelled"
    assert FakeEngine.counts(counts)["loads"] == 0
    assert window.modelPanel.loadButton.isEnabled() and window.runPanel.loadFirstHint.isVisible()


def test_close_during_a_continuous_run(qtbot, make_window, tmp_path):
    counts = tmp_path / "counts.json"
    window = make_window(partial(FakeEngine, counts, run_seconds=0.005))
    load(qtbot, window)
    qtbot.mouseClick(window.runPanel.runContinuousButton, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: FakeEngine.counts(counts)["runs"] > 10, timeout=10_000)
    window.close()
    assert not window.host.running()


def test_stale_load_results_are_dropped(qtbot, make_window, tmp_path):
    counts = tmp_path / "counts.json"
    window = make_window(partial(FakeEngine, counts, load_steps=20, step_seconds=0.01))
    session, request = window.session, window.modelPanel.load_request()
    loaded = []
    session.loaded.connect(loaded.append)
    session.load(request)
    first = session.load_job
    session.load(request)  # a newer load supersedes it
    qtbot.waitUntil(lambda: session.load_job is None and first.done(), timeout=10_000)
    assert first.abandoned and first is not session.load_job
    assert FakeEngine.counts(counts)["loads"] == 1  # the first was cancelled in the queue or mid-way
    assert len(loaded) == 1


def test_stop_ends_a_continuous_run(qtbot, make_window):
    window = make_window(partial(FakeEngine, run_seconds=0.002))
    load(qtbot, window)
    qtbot.mouseClick(window.runPanel.runContinuousButton, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.historyModel.rowCount() > 20, timeout=10_000)
    with qtbot.waitSignal(window.host.jobFinished, timeout=5_000):
        qtbot.keyClick(window.runPanel.inputEdit, Qt.Key.Key_Escape)
    assert window.runPanel.runButton.isEnabled() and not window.runPanel.stopButton.isEnabled()
    assert window.latencyPlot.points() > 20


def test_an_engine_that_cannot_start_says_why(qtbot, make_window):
    window = make_window(broken_engine)
    qtbot.waitUntil(lambda: window.host.pid() is None, timeout=10_000)  # its process's end was handled
    assert "The inference engine could not start: libtorch_cpu.so" in window.errorBanner.text()
    # and added no second message
    assert window.errorBanner.text().count("could not start") == 1
    failures = []
    job = window.host.submit(JobKind.LOAD, window.modelPanel.load_request())
    job.failed.connect(lambda event: failures.append(event.message))
    with qtbot.waitSignal(job.finished, timeout=5_000, check_params_cb=lambda event: event.outcome == "failed"):
        pass
    assert failures == ["The inference engine is not running."]


def test_no_engine_process_at_all_is_a_message(qtbot, make_window, monkeypatch):
    from gui import engine_host

    class NoProcess:  # the operating system's edge: it refuses a new process
        def __init__(self, *args, **kwargs):
            pass

        def start(self):
            raise OSError(12, "Cannot allocate memory")

    monkeypatch.setattr(engine_host._CONTEXT, "Process", NoProcess)
    window = make_window()
    assert "could not start: [Errno 12] Cannot allocate memory" in window.errorBanner.text()
    assert not window.host.running()


def test_closing_while_the_engine_starts_ends_it_at_once(qtbot):
    from gui.main_window import MainWindow

    window = MainWindow(partial(slow_starting_engine, 60))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(window.host.running, timeout=10_000)  # the engine process is up, starting
    assert not window.host.ready()
    started = time.monotonic()
    window.close()
    assert time.monotonic() - started < 1.0
    assert not window.host.running()
