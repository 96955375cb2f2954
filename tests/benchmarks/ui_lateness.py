"""How late the UI event loop runs while the app works: a heartbeat timer measures its own lateness.

    python -m tests.benchmarks.ui_lateness [--seconds 15] [--layers 6] [--threads N] [--compare-threads N]

Phases, in one window (1400x900, offscreen):
  engine start      the window is shown (its first paints) while the engine process starts and
                    imports torch
  load              loading the bundled model (all layers, or --layers)
  run-continuously  Run continuously with every plot series already full (plots.BUFFER points, as
                    after a long session), all plots redrawing
  generation        a synthetic DistilGPT-2 streaming its text token by token into the window
                    (greedy, 64 new tokens a run, run after run for --seconds), with the
                    per-token latency, tokens/s and KV-cache lines drawing
  compare           a Compare-tab run of the bundled ladder (its own defaults), cut
                    after --seconds
Prints p50 / p99 / max lateness per phase (targets: p99 < 16 ms, max < 50 ms).
"""

import argparse
import sys
import time

import numpy as np

from tests.benchmarks.qtapp import application, main_window, wait_until

HEARTBEAT_MS = 5


class Heartbeat:
    """A 5 ms precise timer; each tick records how much later than 5 ms after the previous it came."""

    def __init__(self):
        from PySide6.QtCore import QElapsedTimer, Qt, QTimer

        self.clock = QElapsedTimer()
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(HEARTBEAT_MS)
        self.timer.timeout.connect(self._on_timeout)
        self.phase = "engine start"
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
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--threads", type=int, default=0, help="live-view torch threads (0: the app's default)")
    parser.add_argument("--compare-threads", type=int, default=0, help="Compare torch threads (0: the app's default)")
    args = parser.parse_args()
    application()
    window = main_window(wait_for_engine=False)  # built and shown: start-up is tests/benchmarks' startup
    beat = Heartbeat()
    beat.start()
    wait_until(window.host.ready, 120)

    def sleep(seconds: float) -> None:
        end = time.monotonic() + seconds
        wait_until(lambda: time.monotonic() > end, seconds + 10)

    beat.phase = "load"
    window.modelPanel.layersSpin.setValue(args.layers)
    if args.threads:
        window.modelPanel.threadsSpin.setValue(args.threads)
    window.modelPanel.loadButton.click()
    wait_until(lambda: window.session.summary is not None and window.session.load_job is None, 300)

    from tests.benchmarks.plot_cost import fill_buffers
    beat.phase = "setup"  # the benchmark's own work on the UI thread, not the app's: not reported
    fill_buffers(window)
    sleep(0.5)
    beat.phase = "run-continuously"
    before = window.historyModel._count
    window.runPanel.inputEdit.setPlainText("An honest, well-made tool: I would recommend it to anyone.")
    window.runPanel.runContinuousButton.click()
    sleep(args.seconds)
    requests = window.historyModel._count - before
    beat.phase = "stopping"
    window.runPanel.stopButton.click()
    wait_until(lambda: window.session.run_job is None, 60)

    beat.phase = "setup"  # loading the generator is the load phase's business, measured above
    panel = window.modelPanel
    panel.taskCombo.setCurrentIndex(panel.taskCombo.findData("generation"))
    panel.select_model("synthetic/distilgpt2")
    panel.loadButton.click()
    wait_until(lambda: window.session.summary is not None and window.session.load_job is None, 300)
    window.runPanel.inputEdit.setPlainText("The lighthouse keeper opened her ledger and wrote")
    window.runPanel.maxTokensSpin.setValue(64)
    tokens = []
    window.session.tokenGenerated.connect(tokens.append)
    beat.phase = "generation"
    end = time.monotonic() + args.seconds
    while time.monotonic() < end:
        window.runPanel.runButton.click()
        wait_until(lambda: window.session.run_job is None, 120)
    beat.phase = "stopping"

    view = window.compareView
    window.tabs.setCurrentIndex(window.tabs.indexOf(window.compareScroll))
    if args.compare_threads:
        view.threadsSpin.setValue(args.compare_threads)
    view.minItersSpin.setValue(10)
    view.minSecondsSpin.setValue(0.5)
    beat.phase = "compare"
    view.runButton.click()
    sleep(args.seconds)
    beat.phase = "stopping"
    view.cancelButton.click()
    wait_until(lambda: not view.running(), 120)
    window.close()

    print(f"UI event-loop lateness (heartbeat {HEARTBEAT_MS} ms), bundled model L{args.layers}, "
          f"{window.modelPanel.threadsSpin.value()} live-view torch threads "
          f"({requests} requests in {args.seconds:.0f} s of Run continuously), "
          f"{view.threadsSpin.value()} compare threads, {len(tokens)} tokens streamed:")
    for phase in ("engine start", "load", "run-continuously", "generation", "compare"):
        values = np.asarray(beat.samples.get(phase, [0.0]))
        print(f"  {phase:<17} n={len(values):6d}  p50 {np.percentile(values, 50):6.2f} ms  "
              f"p99 {np.percentile(values, 99):6.2f} ms  max {values.max():6.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
