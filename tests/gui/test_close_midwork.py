"""Closing the window in the middle of work: a hub download, int8 quantization, a Compare run.

Each close must return within 5 s, hide the window, cancel the job and let the worker thread end.
The real engine and the bundled model (or a tiny checkpoint built here) do the work; the one stand-in
is snapshot_download at the hub edge (tests/core/test_hub.py does the same), since no hub is
reachable here. Closing during the bundled model's load is tests/gui/test_endurance.py's, and during
a continuous run tests/gui/test_window_errors.py's; the last test here closes the real app, in its
own process, mid-load and times the process's exit.
"""

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from huggingface_hub import errors as hub_errors
from PySide6.QtCore import Qt

from core import derive
from core.catalog import Ladder, LadderMember, ModelEntry
from core.errors import Cancelled
from core.variants import Variant

CLOSE_LIMIT_S = 5.0
REPO = Path(__file__).resolve().parents[2]


def close_and_time(window) -> float:
    started = time.monotonic()
    window.close()
    return time.monotonic() - started


def outcomes_of(window) -> list[str]:
    """Outcomes of the jobs that end from now on (jobFinished is re-emitted on the UI thread)."""
    outcomes: list[str] = []
    window.host.jobFinished.connect(lambda number, outcome: outcomes.append(outcome))
    return outcomes


def assert_closed_cleanly(qtbot, window, seconds: float, outcomes: list[str]) -> None:
    print(f"close() returned in {seconds:.2f} s")
    assert seconds < CLOSE_LIMIT_S, f"close() took {seconds:.1f} s"
    assert not window.isVisible()
    qtbot.waitUntil(lambda: not window.host.thread.isRunning(), timeout=60_000)
    qtbot.waitUntil(lambda: bool(outcomes), timeout=10_000)
    assert outcomes[0] == "cancelled", outcomes


class EndlessDownload:
    """snapshot_download at the hub edge: nothing cached, then a download that never ends by itself.

    Our progress reporter (core.loading._CancellableTqdm) is what raises Cancelled mid-download.
    """

    def __init__(self):
        self.downloading = threading.Event()
        self.stopped_by: BaseException | None = None

    def __call__(self, repo_id, *, allow_patterns=None, local_files_only=False, tqdm_class=None, **kwargs):
        if local_files_only:
            raise hub_errors.LocalEntryNotFoundError("not cached")
        try:
            with tqdm_class(total=10**9, desc="model.safetensors") as bar:
                self.downloading.set()
                while True:
                    time.sleep(0.01)  # a chunk arriving
                    bar.update(1000)
        except BaseException as exc:
            self.stopped_by = exc
            raise


def test_close_during_a_hub_download(qtbot, make_window, monkeypatch):
    import huggingface_hub

    download = EndlessDownload()
    monkeypatch.setattr(huggingface_hub, "snapshot_download", download)  # the hub edge, as in test_hub.py
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    window = make_window()
    window.modelPanel.add_entry(ModelEntry.for_hub("someone/some-model", "classification"))
    outcomes = outcomes_of(window)
    qtbot.mouseClick(window.modelPanel.loadButton, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(download.downloading.is_set, timeout=30_000)
    qtbot.waitUntil(lambda: window.modelPanel.loadProgress.format().startswith("Downloading"), timeout=10_000)

    seconds = close_and_time(window)

    assert_closed_cleanly(qtbot, window, seconds, outcomes)
    assert isinstance(download.stopped_by, Cancelled)  # stopped by the cancel, mid-download


def test_close_during_int8_quantization(qtbot, make_window, monkeypatch):
    """The spy holds quantization until close() has cancelled the job, then quantizes for real:
    so the close certainly falls inside the (uninterruptible) quantization step."""
    window = make_window()
    entered = threading.Event()
    original = derive.quantize_int8
    spans = []

    def quantize_int8(model):
        entered.set()
        deadline = time.monotonic() + 30
        while not any(job.cancel.cancelled for job in list(window.host._active.values())):
            if time.monotonic() > deadline:
                raise AssertionError("the window was not closed within 30 s of quantization starting")
            time.sleep(0.001)
        started = time.monotonic()
        try:
            return original(model)
        finally:
            spans.append((started, time.monotonic()))

    monkeypatch.setattr(derive, "quantize_int8", quantize_int8)  # a spy: the real quantization runs
    window.modelPanel.int8Check.setChecked(True)
    assert window.modelPanel.load_request().variant.int8
    outcomes = outcomes_of(window)
    qtbot.mouseClick(window.modelPanel.loadButton, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(entered.is_set, timeout=60_000)

    close_started = time.monotonic()
    seconds = close_and_time(window)

    assert_closed_cleanly(qtbot, window, seconds, outcomes)
    assert len(spans) == 1 and spans[0][0] >= close_started  # the quantization ran after the close began
    assert window._summary is None  # the quantized model was never handed over


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
    window.tabs.setCurrentWidget(view)
    outcomes = outcomes_of(window)
    qtbot.waitUntil(view.runButton.isEnabled, timeout=60_000)
    qtbot.mouseClick(view.runButton, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.run is not None and view.run["rows"][0]["status"] == "running", timeout=60_000)
    qtbot.waitUntil(lambda: "benchmark: iteration" in view.statusLabel.text(), timeout=60_000)  # row 1 measuring

    seconds = close_and_time(window)

    assert_closed_cleanly(qtbot, window, seconds, outcomes)


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
            if self._load_job is not None and progress not in ("", "Starting…"):
                self._poll.stop()
                print(f"closing {time.time():.6f} loaded={self._summary is not None} during {progress!r}",
                      flush=True)
                self.close()
                print(f"closed {time.time():.6f} worker running {self.host.thread.isRunning()}", flush=True)

    gui.main_window.MainWindow = ClosedMidLoad  # gui.app.main imports it when it runs
    sys.exit(app.main([]))
''')


def test_the_app_process_exits_within_5_s_of_a_close_mid_load(tmp_path):
    """`sizelab` itself, in a child process: autoload starts the bundled model's load; the window
    is closed as soon as the load reports progress; the process must be gone 5 s after the close."""
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER, encoding="utf-8")
    env = os.environ | {"QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path / "home"),
                        "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_CACHE_HOME": str(tmp_path / "cache"),
                        "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, str(driver)], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=180, check=False)
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
