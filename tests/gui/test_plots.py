"""The live plots: bounded buffers, rolling percentiles, exports, and the PySide6/pyqtgraph pairing."""

import csv
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from gui import plots
from gui.plots import LatencyPlot, MemoryPlot, export_csv


def test_buffers_are_bounded(qtbot, monkeypatch):
    plot = LatencyPlot()
    qtbot.addWidget(plot)
    for i in range(plots.BUFFER + 500):
        plot.add_request(i * 0.001, 0.01)
    assert plot.points() == plots.BUFFER
    plot.clear_data()
    assert plot.points() == 0


def test_rolling_percentiles_match_numpy(qtbot):
    """One p50/p90 point per update (the window calls it once a frame), over the last ROLLING requests."""
    plot = LatencyPlot()
    qtbot.addWidget(plot)
    rng = np.random.default_rng(0)
    values = rng.exponential(0.01, 200)
    frames = [(0, 1), (1, 10), (10, 11), (11, 120), (120, 200)]  # requests that arrived between frames
    for start, end in frames:
        for i in range(start, end):
            plot.add_request(i * 0.1, float(values[i]))
        plot.update_percentiles()
    plot.update_percentiles()  # nothing new: no point
    xs, p50 = plot.values(plot.P50)
    _, p90 = plot.values(plot.P90)
    assert len(p50) == len(p90) == len(frames)
    for k, (_, end) in enumerate(frames):
        window = values[max(0, end - plots.ROLLING):end]
        assert xs[k] == pytest.approx((end - 1) * 0.1)
        assert p50[k] == pytest.approx(np.percentile(window, 50))
        assert p90[k] == pytest.approx(np.percentile(window, 90))


def test_redraw_keeps_the_window_and_export_csv(qtbot, tmp_path):
    latency, memory = LatencyPlot(), MemoryPlot()
    for widget in (latency, memory):
        qtbot.addWidget(widget)
    for i in range(100):
        latency.add_request(i, 0.02)
        memory.append("RSS", i, 100e6 + i)
    memory.mark_model(50e6, 20e6)
    latency.redraw(now=100, window=30)
    memory.redraw(now=100, window=30)
    (x0, x1), (y0, y1) = latency.plotItem.viewRange()
    assert (x0, x1) == pytest.approx((70, 100)) and y1 > 0.02
    assert memory.plotItem.viewRange()[1][1] > 100e6
    path = export_csv(tmp_path / "plots.csv", [latency, memory])
    rows = list(csv.reader(path.read_text().splitlines()))
    assert rows[0] == ["plot", "series", "time_s", "value"]
    assert sum(1 for r in rows if r[0] == "latencyPlot" and r[1] == "request") == 100
    latency.export_png(tmp_path / "latency.png")
    assert (tmp_path / "latency.png").stat().st_size > 1000


def test_timer_driven_setdata_does_not_abort_the_process():
    """PySide6 6.12.0 with pyqtgraph aborted here (none_dealloc) when a QTimer called setData."""
    code = textwrap.dedent("""
        import os
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        import numpy as np
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication
        import pyqtgraph as pg
        app = QApplication([])
        widget = pg.PlotWidget()
        curve = widget.plot([], [])
        widget.show()
        ticks = [0]
        def tick():
            ticks[0] += 1
            curve.setData(np.arange(ticks[0] * 10.0), np.random.rand(ticks[0] * 10))
            if ticks[0] == 200:
                app.quit()
        timer = QTimer()
        timer.timeout.connect(tick)
        timer.start(1)
        app.exec()
        print("ticks", ticks[0])
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "ticks 200" in result.stdout


def test_breaks_never_leave_an_all_nan_series(qtbot):
    plot = LatencyPlot()
    qtbot.addWidget(plot)
    plot.add_break(0.0)
    assert plot.values("request") == ([], [])
    plot.add_request(1.0, 0.01)
    plot.add_break(2.0)
    plot.add_break(2.5)
    xs, ys = plot.values("request")
    assert len(ys) == 2 and np.isnan(ys[-1])
    plot.add_request(3.0, 0.02)
    plot.update_percentiles()
    assert np.isnan(plot.values(plot.P50)[1][1])  # the percentile lines break too
    plot.redraw(now=4.0, window=10.0)
    plot.grab()  # paints: must not warn (warnings are errors here)
