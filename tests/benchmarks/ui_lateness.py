"""How late the UI event loop runs while the app works: a heartbeat timer measures its own lateness.

    python -m tests.benchmarks.ui_lateness [--seconds 20] [--layers 6]

Phases: loading the bundled model, then Run continuously with all plots updating at 20 Hz.
Prints p50 / p99 / max lateness per phase (targets: p99 < 16 ms, max < 50 ms).
"""

import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PySide6.QtCore import QCoreApplication, QElapsedTimer, QSettings, Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

HEARTBEAT_MS = 5


class Heartbeat:
    def __init__(self):
        self.clock = QElapsedTimer()
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(HEARTBEAT_MS)
        self.timer.timeout.connect(self._on_timeout)
        self.phase = "start-up"
        self.samples: dict[str, list[float]] = {}
        self._last = None

    def start(self):
        self.clock.start()
        self._last = self.clock.nsecsElapsed()
        self.timer.start()

    def _on_timeout(self):
        now = self.clock.nsecsElapsed()
        late = (now - self._last) / 1e6 - HEARTBEAT_MS
        self._last = now
        self.samples.setdefault(self.phase, []).append(max(0.0, late))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--threads", type=int, default=0, help="worker threads (0: the app's default)")
    args = parser.parse_args()
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, tempfile.mkdtemp())
    app = QApplication([])
    QCoreApplication.setOrganizationName("ModelSizeLabBench")
    app.setProperty("defaultPointSize", app.font().pointSize())
    from gui.main_window import MainWindow

    window = MainWindow()
    window.resize(1400, 900)
    window.show()
    beat = Heartbeat()
    beat.start()
    state = {"phase_started": time.monotonic()}

    def on_finished(number, outcome):
        if beat.phase == "load":
            beat.phase = "run-continuously"
            state["phase_started"] = time.monotonic()
            window.runPanel.runContinuousButton.click()
            QTimer.singleShot(int(args.seconds * 1000), finish)

    def finish():
        beat.phase = "done"
        window.runPanel.stopButton.click()
        QTimer.singleShot(500, window.close)
        QTimer.singleShot(800, app.quit)

    def start_load():
        beat.phase = "load"
        window.modelPanel.layersSpin.setValue(args.layers)
        if args.threads:
            window.modelPanel.threadsSpin.setValue(args.threads)
        window.modelPanel.loadButton.click()

    window.host.jobFinished.connect(on_finished)
    window.host.worker.started.connect(lambda *a: QTimer.singleShot(200, start_load))
    app.exec()
    requests = window.historyModel.rowCount()
    print(f"UI event-loop lateness (heartbeat {HEARTBEAT_MS} ms), bundled model L{args.layers}, "
          f"{window.modelPanel.threadsSpin.value()} worker threads, "
          f"{requests} requests in {args.seconds:.0f} s of Run continuously:")
    for phase in ("start-up", "load", "run-continuously"):
        values = np.asarray(beat.samples.get(phase, [0.0]))
        print(f"  {phase:<17} n={len(values):6d}  p50 {np.percentile(values, 50):6.2f} ms  "
              f"p99 {np.percentile(values, 99):6.2f} ms  max {values.max():6.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
