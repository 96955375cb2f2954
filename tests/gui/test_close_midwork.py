"""Closing the window in the middle of work: a hub download, int8 quantization, a Compare run.

Each close must return within 5 s, hide the window, cancel the job and end the engine process.
The real engine and the bundled model (or a tiny checkpoint built here) do the work; the stand-ins,
made in the engine process by tests/gui/engine_edges.py, are snapshot_download at the hub edge
(tests/core/test_hub.py does the same), since no hub is reachable here, and a quantization that never
returns, for a step nothing can interrupt. Closing during the bundled model's load is
tests/gui/test_endurance.py's, and during a continuous run tests/gui/test_window_errors.py's; the
last test here closes the real app, in its own process, mid-load and times the process's exit.
"""

import pytest

import textwrap
import time
from functools import partial

import psutil
from PySide6.QtCore import Qt

from core.catalog import Ladder, LadderMember, ModelEntry
from core.variants import Variant

from .app_process import run_driver
from .engine_edges import engine_with_endless_download, engine_with_stalled_quantization

CLOSE_LIMIT_S = 5.0

pytestmark = pytest.mark.slow  # a real engine, stopped mid-work


def close_and_time(window) -> float:
    started = time.monotonic()
    window.close()
    return time.monotonic() - started


def outcomes_of(window) -> list[str]:
    """Outcomes of the jobs that end from now on (jobFinished is emitted on the UI thread)."""
    outcomes: list[str] = []
    window.host.jobFinished.connect(lambda event: outcomes.append(event.outcome))
    return outcomes


def assert_closed_cleanly(window, seconds: float, outcomes: list[str]) -> None:
    print(f"close() returned in {seconds:.2f} s")
    assert seconds < CLOSE_LIMIT_S, f"close() took {seconds:.1f} s"
    assert not window.isVisible()
    assert not window.host.running()
    assert outcomes and outcomes[0] == "cancelled", outcomes


def test_close_during_a_hub_download(qtbot, make_window, tmp_path):
    window = make_window(partial(engine_with_endless_download, str(tmp_path)))
    window.modelPanel.add_entry(ModelEntry.for_hub("someone/some-model", "classification"))
    outcomes = outcomes_of(window)
    qtbot.mouseClick(window.modelPanel.loadButton, Qt.MouseButton.LeftButton)
    qtbot.waitUntil((tmp_path / "downloading").exists, timeout=30_000)
    qtbot.waitUntil(lambda: window.modelPanel.loadProgress.format().startswith("Downloading"), timeout=10_000)

    seconds = close_and_time(window)

    assert_closed_cleanly(window, seconds, outcomes)
    # Stopped by the cancel, mid-download, before the engine process was told to end.
    assert (tmp_path / "stopped_by").read_text(encoding="utf-8") == "Cancelled"


def test_close_during_a_step_nothing_can_interrupt(qtbot, make_window, tmp_path):
    """Quantization cannot be interrupted; the close ends the engine process instead of waiting for it."""
    window = make_window(partial(engine_with_stalled_quantization, str(tmp_path)))
    window.modelPanel.int8Check.setChecked(True)
    assert window.modelPanel.load_request().variant.int8
    outcomes = outcomes_of(window)
    engine = window.host.pid()
    qtbot.mouseClick(window.modelPanel.loadButton, Qt.MouseButton.LeftButton)
    qtbot.waitUntil((tmp_path / "quantizing").exists, timeout=60_000)

    seconds = close_and_time(window)

    assert_closed_cleanly(window, seconds, outcomes)
    assert not psutil.pid_exists(engine)  # ended, not left behind to finish its step
    assert window.session.summary is None  # no model was ever handed over


def test_close_during_a_compare_run(qtbot, make_window, bert_dir):
    window = make_window()
    view = window.compareView
    bert = ModelEntry.for_folder(bert_dir, "classification")
    view.set_ladders([Ladder("tiny", "Tiny BERT ladder", "classification",
                             (LadderMember(bert, Variant()), LadderMember(bert, Variant(int8=True))))])
    view.qualityCheck.setChecked(False)
    view.seqLenSpin.setValue(16)
    view.warmupSpin.setValue(1)
    view.minSecondsSpin.setValue(600)  # each row would measure for ten minutes
    window.tabs.setCurrentIndex(window.tabs.indexOf(window.compareScroll))
    outcomes = outcomes_of(window)
    qtbot.waitUntil(view.runButton.isEnabled, timeout=60_000)
    qtbot.mouseClick(view.runButton, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.run is not None and view.run["rows"][0]["status"] == "running", timeout=60_000)
    qtbot.waitUntil(lambda: "benchmark: iteration" in view.statusLabel.text(), timeout=60_000)  # row 1 measuring

    seconds = close_and_time(window)

    assert_closed_cleanly(window, seconds, outcomes)


DRIVER = textwrap.dedent('''
    """Runs the real app (gui.app.main) and closes its window as soon as the bundled model is loading."""
    import sys
    import time

    from PySide6.QtCore import QTimer

    import gui.main_window
    from gui import app

    class ClosedMidLoad(gui.main_window.MainWindow):
        def show(self):
            super().show()
            self._poll = QTimer(self)
            self._poll.setInterval(5)
            self._poll.timeout.connect(self._close_when_loading)
            self._poll.start()

        def _close_when_loading(self):
            progress = self.modelPanel.loadProgress.format()
            if self.session.load_job is not None and progress not in ("", "Starting…"):
                self._poll.stop()
                print(f"closing {time.time():.6f} loaded={self.session.summary is not None} during {progress!r}",
                      flush=True)
                self.close()
                print(f"closed {time.time():.6f} engine running {self.host.running()}", flush=True)

    if __name__ == "__main__":  # not in the engine process, which multiprocessing starts from this file
        gui.main_window.MainWindow = ClosedMidLoad  # gui.app.main imports it when it runs
        sys.exit(app.main([]))
''')


def test_the_app_process_exits_within_5_s_of_a_close_mid_load(tmp_path):
    """`sizelab` itself, in a child process: autoload starts the bundled model's load; the window
    is closed as soon as the load reports progress; the process must be gone 5 s after the close."""
    result = run_driver(DRIVER, tmp_path, timeout=180)
    exited = time.time()
    lines = result.stdout.splitlines()
    closing = [line for line in lines if line.startswith("closing ")]
    assert closing, f"the window was never closed mid-load:\n{result.stdout}\n{result.stderr[-3000:]}"
    assert "loaded=False" in closing[0], closing  # closed while loading, not after
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert (tmp_path / "config").is_dir()  # settings went to the temporary folder, not the user's
    seconds = exited - float(closing[0].split()[1])
    print(*lines, f"exit {seconds:.2f} s after the close", sep="\n")
    assert seconds < CLOSE_LIMIT_S
