"""Smoke test of the desktop app, frozen or not: `sizelab --smoke-test`.

Opens the real main window (offscreen on a Linux machine with no display; QT_QPA_PLATFORM decides
otherwise), loads the bundled model through the window's own engine process, classifies one sentence, prints
ONE JSON line and returns 0; on any failure or after 120 s it prints {"ok": false, "error": ...} and
returns 1. Settings go to a temporary folder, so the user's own settings are never read or written
(qutebrowser's build_release.py smoke_test).

Times in the JSON are seconds from the start of the process (so they include the frozen app's
bootloader and the imports) except load_seconds and run_seconds, which are the two jobs' own times.
"""

import json
import os
import sys
import tempfile
import time
import traceback

TIMEOUT_S = 120.0
SENTENCE = "What a wonderful, delightful little app: I love it."
POLL_MS = 20


def _process_age() -> float:
    """Seconds since this process started (Linux: from /proc, to the clock tick; else psutil)."""
    try:
        with open("/proc/self/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: starttime, in ticks since boot
        return time.clock_gettime(time.CLOCK_BOOTTIME) - started
    except (OSError, ValueError, IndexError, AttributeError):
        import psutil
        return max(0.0, time.time() - psutil.Process().create_time())


class SmokeFailed(Exception):
    """The smoke test saw something wrong; the message says what."""


def run_smoke_test(timeout_s: float = TIMEOUT_S) -> int:
    """Run the smoke test and print one JSON line. Returns the process exit code (0: passed)."""
    zero = time.monotonic() - _process_age()
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # no display: must be set before QApplication
    settings_dir = tempfile.TemporaryDirectory(prefix="sizelab-smoke-")
    result: dict = {"ok": False}
    code = 1
    try:
        result |= _run(zero, settings_dir.name, timeout_s)
        result["ok"] = True
        code = 0
    except SmokeFailed as exc:
        result["error"] = str(exc)
    except Exception as exc:  # noqa: BLE001 - any failure is the test's answer, printed as JSON
        traceback.print_exc()
        result["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        result["frozen"] = bool(getattr(sys, "frozen", False))
        result["total_seconds"] = round(time.monotonic() - zero, 3)
        print(json.dumps(result, ensure_ascii=False), flush=True)
        settings_dir.cleanup()
    return code


def _run(zero: float, settings_dir: str, timeout_s: float) -> dict:
    from PySide6.QtCore import QCoreApplication, QEventLoop, QObject, QSettings, QTimer, Slot
    from PySide6.QtWidgets import QApplication

    from gui.main_window import MainWindow  # absolute: the same file runs from packaging/ and gui/
    from gui.settings import APPLICATION, ORGANIZATION

    deadline = time.monotonic() + timeout_s
    app = QApplication.instance() or QApplication([sys.argv[0]])
    QCoreApplication.setOrganizationName(ORGANIZATION)
    QCoreApplication.setApplicationName(APPLICATION)
    # Settings() uses the default QSettings(): INI files under the temporary folder, never the user's.
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
        QSettings.setPath(QSettings.Format.IniFormat, scope, settings_dir)
    app.setProperty("defaultPointSize", app.font().pointSize())

    class Recorder(QObject):
        """Collects the engine's signals on the UI thread, for the waits below to poll."""

        def __init__(self):
            super().__init__()
            self.failures: list[str] = []
            self.engine_ready = False
            self.versions: dict = {}

        @Slot(object)
        def on_failed(self, event) -> None:
            self.failures.append(event.message)

        @Slot(object)
        def on_started(self, event) -> None:
            self.engine_ready = True
            self.versions = event.versions  # the engine process's: the window's never imports torch

    def wait(condition, what: str) -> None:
        """Run the event loop until condition() holds; fail on an engine error or at the deadline."""
        loop = QEventLoop()
        timer = QTimer()
        timer.setInterval(POLL_MS)
        state = {"timed_out": False}

        def check():
            if recorder.failures or condition():
                loop.quit()
            elif time.monotonic() > deadline:
                state["timed_out"] = True
                loop.quit()

        timer.timeout.connect(check)
        timer.start()
        if not (recorder.failures or condition()):
            loop.exec()
        timer.stop()
        if recorder.failures:
            raise SmokeFailed(f"while waiting for {what}: {recorder.failures[0]}")
        if state["timed_out"]:
            raise SmokeFailed(f"timed out after {timeout_s:.0f} s waiting for {what}")

    recorder = Recorder()
    window = MainWindow(autoload=False)
    try:
        window.host.engineFailed.connect(recorder.on_failed)
        window.host.started.connect(recorder.on_started)
        window.show()
        wait(lambda: window.isVisible() and window.windowHandle() is not None
             and window.windowHandle().isExposed(), "the window to be shown")
        window_shown = time.monotonic() - zero
        wait(lambda: recorder.engine_ready, "the inference engine to start")
        engine_ready = time.monotonic() - zero

        entry = window.modelPanel.current_entry()
        if entry is None or entry.source != "bundled":
            raise SmokeFailed(f"the default model is not the bundled one: {entry!r}")
        started = time.monotonic()
        window.modelPanel.loadButton.click()
        load_job = window.session.load_job
        if load_job is None:
            raise SmokeFailed("pressing Load submitted no job")
        load_job.failed.connect(recorder.on_failed)
        wait(load_job.done, "the bundled model to load")
        load_seconds = time.monotonic() - started
        if load_job.outcome != "done" or window.session.summary is None:
            raise SmokeFailed(f"loading ended {load_job.outcome!r}: {window.errorBanner.text()}")

        window.runPanel.inputEdit.setPlainText(SENTENCE)
        if not window.runPanel.runButton.isEnabled():
            raise SmokeFailed("Run is disabled after a successful load")
        started = time.monotonic()
        window.runPanel.runButton.click()
        run_job = window.session.run_job
        if run_job is None:
            raise SmokeFailed("pressing Run submitted no job")
        run_job.failed.connect(recorder.on_failed)
        wait(lambda: run_job.done() and window.historyModel.rowCount() > 0, "the first result")
        run_seconds = time.monotonic() - started
        first_result = time.monotonic() - zero
        if run_job.outcome != "done":
            raise SmokeFailed(f"the run ended {run_job.outcome!r}: {window.errorBanner.text()}")
        description = window.runPanel.resultView.accessibleDescription()
        label = description.split(",", 1)[0].strip()
        if not label:
            raise SmokeFailed(f"no result shown (description {description!r})")
        return {"label": label, "description": description,
                "load_seconds": round(load_seconds, 3), "run_seconds": round(run_seconds, 3),
                "window_shown_seconds": round(window_shown, 3), "engine_ready_seconds": round(engine_ready, 3),
                "first_result_seconds": round(first_result, 3),
                "torch": recorder.versions.get("torch"), "platform": app.platformName()}
    finally:
        window.close()  # saves settings (to the temporary folder) and ends the engine process
        window.deleteLater()
        app.processEvents()


if __name__ == "__main__":
    sys.exit(run_smoke_test())
