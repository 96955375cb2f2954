"""GUI fixtures: isolated settings, a guard against leftover threads, the window, a fake engine."""

import time
import weakref

import pytest
from PySide6.QtCore import QCoreApplication, QSettings, QThread

from core.engine import ModelSummary, RunRecord
from core.errors import Cancelled


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path, qapp):
    """Tests never touch the user's settings: INI files under a temporary folder."""
    QCoreApplication.setOrganizationName("ModelSizeLabTests")
    QCoreApplication.setApplicationName("tests")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    qapp.setProperty("defaultPointSize", qapp.font().pointSize())
    yield tmp_path / "settings"


@pytest.fixture(autouse=True)
def no_threads_left(monkeypatch):
    """Fail any test that leaves a QThread running (napari's guard)."""
    started = []
    original = QThread.start

    def start(self, *args):
        started.append(weakref.ref(self))
        return original(self, *args)

    monkeypatch.setattr(QThread, "start", start)
    yield
    running = [ref() for ref in started if ref() is not None and ref().isRunning()]
    assert not running, f"{len(running)} QThread(s) left running"


@pytest.fixture
def make_window(qtbot):
    from gui.main_window import MainWindow

    windows = []

    def make(engine_factory=None):
        window = MainWindow(engine_factory) if engine_factory else MainWindow()
        qtbot.addWidget(window)
        window.show()
        qtbot.waitUntil(lambda: window.statusBar().currentMessage().startswith("Ready")
                        or window.errorBanner.isVisible(), timeout=60_000)
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()


class FakeEngine:
    """Stands in for core.engine.Engine at the worker's edge, to drive error paths on demand."""

    def __init__(self, load_steps=3, step_seconds=0.0, load_error=None, run_error=None, run_seconds=0.0):
        self.load_steps, self.step_seconds = load_steps, step_seconds
        self.load_error, self.run_error, self.run_seconds = load_error, run_error, run_seconds
        self.loads = self.runs = self.unloads = 0

    def devices(self):
        from core.advisor import cpu_device
        return [cpu_device()]

    def load(self, request, cancel, progress):
        for step in range(self.load_steps):
            cancel.check()
            progress(step / self.load_steps, f"Fake step {step}")
            time.sleep(self.step_seconds)
        cancel.check()
        if self.load_error is not None:
            raise self.load_error
        self.loads += 1
        return ModelSummary(model_id=request.entry.id, name=request.entry.name, task=request.entry.task,
                            source=request.entry.source, kind="sentence", variant_label="fp32", device="cpu",
                            labels=("negative", "positive"), synthetic=False, license="",
                            info={"params_total": 10, "params_non_embedding": 5, "weight_bytes": 40, "layers": 1,
                                  "layers_full": 1, "derivation": ["fake"], "warnings": [], "origin": "fake",
                                  "load_seconds": 0.01, "rss_before_load": 1 << 20, "rss_after_load": 2 << 20,
                                  "rss_peak_load": 2 << 20, "max_length": 8})

    def unload(self):
        self.unloads += 1

    def run(self, request, cancel, on_text=None):
        cancel.check()
        time.sleep(self.run_seconds)
        if self.run_error is not None:
            raise self.run_error
        self.runs += 1
        return RunRecord(model_name="fake", variant_label="fp32", device="cpu", task="classification",
                         input_chars=len(request.texts[0]), input_tokens=3, latency=0.001,
                         phases={"tokenize": 0.0002, "model": 0.0007, "decode": 0.0001},
                         summary="positive, 90%", scores={"negative": 0.1, "positive": 0.9},
                         finished_at=time.monotonic())

    def run_continuously(self, request, cancel):
        while not cancel.cancelled:
            try:
                yield self.run(request, cancel)
            except Cancelled:
                return
