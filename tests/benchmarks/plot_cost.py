"""What the live plots cost the UI thread with full buffers, and whether they limit throughput.

    python -m tests.benchmarks.plot_cost [--ticks 90] [--seconds 8] [--threads N]

Part 1, cost per redraw tick: the main window (1400x900, offscreen: software rendering) with every
plot series holding plots.BUFFER points, the latency series all inside the visible 60 s window
(about 330 requests/s, the rate of the smallest bundled variant on a short text) and records
arriving at that rate. A tick is the window's own redraw-timer slot (one plot: its samples, setData,
ranges; the history and rolling percentiles once a cycle), then the event processing that paints.
Measured with the app's settings and with pyqtgraph's downsampling off, in alternating blocks.

Part 2, does plotting limit throughput: Run continuously on a short text with the plots live and
paused in alternating spans, for the bundled model as it opens (fp32, all layers) and for its
smallest variant (int8, 1 layer: about 2 ms a request, where the UI's share of the GIL shows most),
then the full model on a text of 128 tokens.
Reports requests/s of each and live / paused (1.00: plotting costs the run nothing).
"""

import argparse
import statistics
import sys
import time

from tests.benchmarks.qtapp import application, main_window, wait_until

WINDOW_S = 60.0
RATE = 333.0  # requests per second that fill the buffer within the visible window


def _record(finished_at: float, latency: float):
    from core.records import RunRecord

    return RunRecord(model_name="MiniLM-L6 sentiment", variant_label="int8 L1", device="cpu",
                     task="classification", input_chars=2, input_tokens=3, latency=latency,
                     phases={"tokenize": 0.0002, "model": latency - 0.0003, "decode": 0.0001},
                     summary="positive, 71%", finished_at=finished_at)


def fill_buffers(window) -> None:
    """Every series full: requests densely inside the visible window, memory/throughput at 10 Hz."""
    import numpy as np

    from gui import plots

    now = window.now()
    n = plots.BUFFER
    rng = np.random.default_rng(0)
    per_frame = round(RATE * plots.REDRAW_MS / 1000)
    for i, (t, seconds) in enumerate(zip(np.linspace(now - n / RATE, now, n), 0.0025 + 0.0005 * rng.random(n))):
        window.latencyPlot.add_request(float(t), float(seconds))
        if i % per_frame == per_frame - 1:
            window.latencyPlot.update_percentiles()  # as the redraw timer does, once a frame
    slow = np.linspace(now - n / 10, now, n)
    window.memoryPlot.set_series("RSS", slow, 600e6 + 5e6 * rng.random(n))
    window.throughputPlot.set_series("requests/s (last 1 s)", slow, 300 + 60 * rng.random(n))


def tick_costs(app, window, ticks: int) -> dict[str, list[float]]:
    """Per redraw-timer tick: (data work in the slot, paint), milliseconds, for two plot settings."""
    from PySide6.QtCore import QCoreApplication

    def downsampling(auto: bool):
        def apply(plot):
            for _, _, item in plot._series.values():
                item.setDownsampling(ds=1, auto=auto, method="peak")
        return apply

    settings = {"app's settings": downsampling(True), "downsampling off": downsampling(False)}
    results = {name: ([], []) for name in settings}
    window.redrawTimer.stop()  # this loop drives the ticks itself
    interval_s = window.redrawTimer.interval() / 1000
    per_tick = round(RATE * interval_s)
    blocks = 2  # A, B, A, B: drift hits both settings alike
    for block in range(blocks * len(settings)):
        name = list(settings)[block % len(settings)]
        for plot in window.plots:
            settings[name](plot)
        for i in range(6 + ticks // blocks):  # the first 6 ticks of a block are warm-up
            now = time.monotonic()
            window.session.add_records(_record(now - k / RATE, 0.0025) for k in reversed(range(per_tick)))
            start = time.perf_counter()
            window._on_redraw_timer()
            data = time.perf_counter() - start
            start = time.perf_counter()
            QCoreApplication.processEvents()  # the plots paint here (a QGraphicsView paints on its event)
            paint = time.perf_counter() - start
            if i >= 6:
                results[name][0].append(data * 1000)
                results[name][1].append(paint * 1000)
    window.redrawTimer.start()
    return results


def throughput(window, layers: int, int8: bool, text: str, seconds: float, spans: int = 2) -> dict[str, float]:
    """Requests/s of Run continuously with the plots live and paused, in alternating spans."""
    def run_for(span_s: float) -> int:
        before = window.historyModel._count
        end = time.monotonic() + span_s
        wait_until(lambda: time.monotonic() > end, span_s + 10)
        return window.historyModel._count - before

    window.modelPanel.layersSpin.setValue(layers)
    window.modelPanel.int8Check.setChecked(int8)
    window.modelPanel.loadButton.click()
    wait_until(lambda: window.session.summary is not None and window.session.load_job is None, 120)
    window.runPanel.inputEdit.setPlainText(text)
    window.runPanel.runContinuousButton.click()
    run_for(2.0)  # warm-up
    fill_buffers(window)
    counts = {"live": 0, "paused": 0}
    for _ in range(spans):
        for mode in ("paused", "live"):
            window.pauseCheck.setChecked(mode == "paused")
            counts[mode] += run_for(seconds / spans)
    window.runPanel.stopButton.click()
    wait_until(lambda: window.session.run_job is None, 30)
    return {mode: count / seconds for mode, count in counts.items()}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ticks", type=int, default=90)
    parser.add_argument("--seconds", type=float, default=8.0, help="per mode in part 2")
    parser.add_argument("--threads", type=int, default=0, help="torch threads in part 2 (0: the app's default)")
    args = parser.parse_args()
    app = application()
    window = main_window()
    if args.threads:
        window.modelPanel.threadsSpin.setValue(args.threads)
    window.clock_zero = time.monotonic() - 3 * WINDOW_S  # as if the app had run for a while
    window.windowSpin.setValue(int(WINDOW_S))
    fill_buffers(window)
    costs = tick_costs(app, window, args.ticks)
    from gui import plots

    interval = window.redrawTimer.interval()
    print(f"Plot cost, full buffers ({plots.BUFFER:,} points per series), {len(window.plots)} plots at 1400x900, "
          f"a redraw tick every {interval} ms; ms per tick, median (max):")
    share = {}
    for name, (data, paint) in costs.items():
        total = [d + p for d, p in zip(data, paint)]
        share[name] = statistics.mean(total) / interval
        print(f"  {name:<17} data {statistics.median(data):6.2f} ({max(data):6.2f})  "
              f"paint {statistics.median(paint):6.2f} ({max(paint):6.2f})  "
              f"tick {statistics.median(total):6.2f} ({max(total):6.2f})  = {share[name]:.1%} of the UI thread")
    names = list(share)
    print(f"  UI time ratio {names[0]} / {names[1]}: {share[names[0]] / share[names[1]]:.3f}")
    long_text = " ".join(["good"] * 126)  # 128 tokens with [CLS] and [SEP]
    for layers, int8, label, text, name in ((6, False, "fp32 L6", "ok", "'ok' (3 tokens)"),
                                            (1, True, "int8 L1", "ok", "'ok' (3 tokens)"),
                                            (6, False, "fp32 L6", long_text, "of 128 tokens")):
        rates = throughput(window, layers, int8, text, args.seconds)
        print(f"Run continuously, bundled {label}, a text {name}, {window.modelPanel.threadsSpin.value()} torch "
              f"thread(s), full buffers: live {rates['live']:.0f} requests/s, paused {rates['paused']:.0f} "
              f"requests/s, live / paused {rates['live'] / rates['paused']:.3f}")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
