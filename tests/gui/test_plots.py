"""The live plots: bounded buffers, rolling percentiles, exports, and the PySide6/pyqtgraph pairing."""

import csv
import math
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import pyqtgraph as pg

from gui import plots
from gui.plots import LatencyPlot, MemoryPlot, ThroughputPlot, export_csv


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


# ------------------------------------------------------------ plots that read well (issue 13)


def _shown(qtbot, *widgets, width=800, height=300):
    """The plots in one widget, shown at this size (labels are laid out in pixels)."""
    from PySide6.QtWidgets import QVBoxLayout, QWidget

    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(widget)
    qtbot.addWidget(box)
    box.resize(width, height)
    box.show()
    qtbot.waitExposed(box)
    return box


def _redraw(qtbot, plots_, now, window):
    """Twice, with the layout settled in between: the first redraw may change the header's height."""
    for _ in range(2):
        for plot in plots_:
            plot.redraw(now, window)
        qtbot.wait(1)  # processes the posted layout requests; not a sleep for a condition


def _tick_strings(axis, lo, hi, size):
    strings = []
    for spacing, values in axis.tickValues(lo, hi, size):
        strings += [s for s in axis.tickStrings(values, axis.autoSIPrefixScale * axis.scale, spacing) if s]
    return strings


def _texts(plot):
    """Every text drawn inside the plot area, as scene rectangles."""
    return [(item, item.mapRectToScene(item.boundingRect())) for item in plot.scene().items()
            if isinstance(item, pg.TextItem) and item.isVisible()]


def _view_rect(plot):
    vb = plot.plotItem.vb
    return vb.mapRectToScene(vb.boundingRect())


def _inside(inner, outer, slack=0.5):
    return (inner.left() >= outer.left() - slack and inner.right() <= outer.right() + slack
            and inner.top() >= outer.top() - slack and inner.bottom() <= outer.bottom() + slack)


def test_time_axis_reads_minutes_and_seconds_after_16_minutes(qtbot):
    """pyqtgraph's SI prefix made it "time (ks)" with ticks 1.035, 1.04 after about 16 minutes."""
    plot = LatencyPlot()
    _box = _shown(qtbot, plot)
    for i in range(1100):
        plot.add_request(float(i), 0.003)
    _redraw(qtbot, [plot], now=1100.0, window=60.0)
    axis = plot.plotItem.getAxis("bottom")
    assert "mm:ss" in axis.labelString() and "ks" not in axis.labelString()
    (x0, x1), _ = plot.plotItem.viewRange()
    strings = _tick_strings(axis, x0, x1, axis.width())
    assert strings and all(re.fullmatch(r"\d\d:\d\d", s) for s in strings), strings
    assert any(s.startswith("18:") for s in strings), strings
    # No labelled tick within half a label of either end: its centred text was cut in half ("00:0").
    levels = axis.tickValues(x0, x1, axis.width())
    half = axis._label_px() / 2 * (x1 - x0) / axis.width()
    assert all(x0 + half <= v <= x1 - half for v in levels[0][1]), (x0, x1, levels[0])
    assert plots.clock(5) == "00:05" and plots.clock(65.4) == "01:05" and plots.clock(3725) == "1:02:05"
    assert plots.clock(12.34, spacing=0.5) == "00:12.3"


def test_latency_axis_stays_in_ms_follows_the_visible_window_and_has_a_log_scale(qtbot):
    """One slow request among 3 ms ones: the unit stays ms, the range follows what is in view."""
    plot = LatencyPlot()
    _box = _shown(qtbot, plot)
    for i in range(2000):
        t = i * 0.1
        plot.add_request(t, 1.2 if i == 1000 else 0.003)
    plot.append(plot.TOKEN, 150.0, 0.0)  # a zero: nothing to draw on a log scale, and no warning
    axis = plot.plotItem.getAxis("left")
    _redraw(qtbot, [plot], now=120.0, window=60.0)  # the slow request in view
    (_, _), (y0, y1) = plot.plotItem.viewRange()
    assert y1 >= 1.2 and "(ms)" in axis.labelString()
    strings = _tick_strings(axis, y0, y1, axis.height())
    assert "1000" in strings and "1.0" not in strings, strings  # milliseconds, never seconds
    _redraw(qtbot, [plot], now=199.9, window=60.0)  # it has scrolled out
    (_, _), (y0, y1) = plot.plotItem.viewRange()
    assert 0.003 < y1 < 0.006 and "(ms)" in axis.labelString()
    assert "2" in _tick_strings(axis, y0, y1, axis.height())

    plot.set_log_scale(True)
    assert plot.log_scale()
    assert plot.plotItem.viewRange()[1][0] < -2  # refitted at once, in decades (a paused plot is not redrawn)
    _redraw(qtbot, [plot], now=120.0, window=60.0)
    (_, _), (y0, y1) = plot.plotItem.viewRange()
    assert math.log10(0.001) < y0 < math.log10(0.003) and y1 > math.log10(1.2)  # decades of seconds
    strings = _tick_strings(axis, y0, y1, axis.height())
    assert {"10", "100", "1000"} <= set(strings), strings
    plot.grab()  # paints with the zero on a log scale: must not warn
    plot.set_log_scale(False)
    _redraw(qtbot, [plot], now=120.0, window=60.0)
    assert plot.plotItem.viewRange()[1][0] == 0


def test_legend_lists_only_lines_that_have_data_and_sits_outside_the_plot_area(qtbot):
    memory, throughput = MemoryPlot(), ThroughputPlot()
    _box = _shown(qtbot, memory, throughput, height=500)
    assert memory.legend_names() == [] and throughput.legend_names() == []
    memory.append("RSS", 1.0, 300e6)
    assert memory.legend_names() == ["RSS"]  # no "CUDA allocated" on a machine that reports none
    memory.append("CUDA allocated", 2.0, 50e6)
    assert memory.legend_names() == ["RSS", "CUDA allocated"]
    for t in range(5):
        throughput.append(ThroughputPlot.REQUESTS, float(t), 0.0)  # sampled before any run
    assert throughput.legend_names() == [] and throughput.values(ThroughputPlot.REQUESTS) == ([], [])
    throughput.append(ThroughputPlot.REQUESTS, 5.0, 12.0)
    throughput.append(ThroughputPlot.REQUESTS, 6.0, 0.0)  # after a run, a zero is real
    assert throughput.legend_names() == [ThroughputPlot.REQUESTS]
    assert throughput.values(ThroughputPlot.REQUESTS)[1] == [12.0, 0.0]
    _redraw(qtbot, [memory, throughput], now=10.0, window=60.0)
    for plot in (memory, throughput):
        header = plot.plotItem.titleLabel
        assert all(name in plot.header_text() for name in plot.legend_names())
        assert header.sceneBoundingRect().bottom() <= _view_rect(plot).top() + 0.5
    memory.clear_data()
    assert memory.legend_names() == [] and "RSS" not in memory.header_text()


def test_event_labels_stay_in_view_apart_and_pinned_while_their_segment_shows(qtbot):
    """Long names, loads close together and near the right edge, one whose load has scrolled out."""
    latency, memory = LatencyPlot(), MemoryPlot()
    _box = _shown(qtbot, latency, memory, height=600)
    names = ["distilbert-base-uncased-finetuned-sst-2-english [fp32, all 6 layers]",
             "bundled/minilm-l6-sentiment [int8 dynamic, 3 of 6 layers]",
             "prajjwal1/bert-tiny [fp16]", "google/bert_uncased_L-2_H-128_A-2 [bf16, all layers]"]
    for t, name in zip((10.0, 470.0, 560.0, 598.0), names):
        for plot in (latency, memory):
            plot.mark_event(t, name)
    memory.mark_model(300_000_000, 90_000_000)
    memory.mark_event(590.0, "engine restarted")
    for i in range(6000):
        latency.add_request(i * 0.1, 0.003 + 0.002 * (i % 7 == 0))
        memory.append("RSS", i * 0.1, 420e6)
    _redraw(qtbot, [latency, memory], now=600.0, window=120.0)  # the first load, at 10 s, is out of view
    for plot in (latency, memory):
        texts = _texts(plot)
        view = _view_rect(plot)
        assert texts, "no event label drawn"
        for item, rect in texts:
            assert _inside(rect, view), (item.toPlainText(), rect, view)
        for k, (_, a) in enumerate(texts):
            for _, b in texts[k + 1:]:
                assert not a.intersects(b), (a, b)
        # The data's top stays below the labels.
        top = max(max(plot.values(name)[1] or [0]) for name in ("request", "RSS") if name in plot._series)
        data_y = plot.plotItem.vb.mapViewToScene(pg.Point(550.0, top)).y()
        assert all(data_y >= rect.bottom() - 0.5 for _, rect in texts)
    # The segment that began at 470 s (out of view) is still named, at the left edge.
    pinned = [(item, rect) for item, rect in _texts(latency) if item.toPlainText().startswith("bundled/")]
    assert pinned and pinned[0][1].left() - _view_rect(latency).left() < 10
    assert all(not item.toPlainText().startswith("distilbert") for item, _ in _texts(latency))  # its segment is over
    assert latency.event_labels()


def test_memory_marks_no_weights_for_a_model_without_weights_here(qtbot):
    """A remote endpoint reports weight_bytes 0: no baseline/weights lines, nothing about weights."""
    plot = MemoryPlot()
    _box = _shown(qtbot, plot)
    plot.append("RSS", 1.0, 300e6)
    plot.mark_model(280_000_000, 0)
    assert not plot.weights.isVisible() and not plot.baseline.isVisible()
    assert "weights" not in plot.header_text() and "before load" not in plot.header_text()
    plot.mark_model(280_000_000, 90_000_000)
    assert plot.weights.isVisible() and plot.weights.value() == 370_000_000  # bytes: the window adds KV bytes to it
    assert "baseline + weights (85.8 MiB)" in plot.legend_names()
    _redraw(qtbot, [plot], now=10.0, window=60.0)
    assert plot.plotItem.viewRange()[1][1] > 370_000_000
    assert not [item for item, _ in _texts(plot)]  # the levels are named in the legend, not across the RSS line
    plot.mark_model(280_000_000, 0)  # then a remote endpoint
    assert not plot.weights.isVisible() and "weights" not in plot.header_text()


def test_live_numbers_of_the_current_run(qtbot):
    plot = LatencyPlot()
    _box = _shown(qtbot, plot)
    assert plot.live_numbers() == plots.LiveNumbers(0, None, None, None)
    plot.add_break(0.0)
    for i in range(50):
        plot.add_request(1.0 + i * 0.5, 0.2)  # an earlier run, slow
    plot.add_break(30.0)
    latencies = np.linspace(0.002, 0.011, 40)
    for i, seconds in enumerate(latencies):
        plot.add_request(30.0 + (i + 1) * 0.25, float(seconds))
    numbers = plot.live_numbers()
    assert numbers.count == 40
    assert numbers.p50_ms == pytest.approx(np.percentile(latencies, 50) * 1000)
    assert numbers.p90_ms == pytest.approx(np.percentile(latencies, 90) * 1000)
    assert numbers.requests_per_s == pytest.approx(40 / 10.0)
    _redraw(qtbot, [plot], now=45.0, window=60.0)
    assert "this run: p50 6.50 ms · p90 10.1 ms · 4.00 req/s" in plot.header_text()  # three significant figures
    plot.add_break(50.0)
    assert plot.live_numbers().count == 0
    plot.add_request(50.2, 0.004)
    assert plot.live_numbers().requests_per_s is None and "req/s" not in plot._numbers_html()  # one request: no rate


@pytest.mark.parametrize("points", [9, 18, 20])
def test_presenter_sizes_scale_every_text_and_nothing_overlaps_or_clips(qtbot, points):
    """apply_theme(points) as presenter mode calls it, in 800x600 (the three plots as the window stacks them)."""
    latency, memory, throughput = LatencyPlot(), MemoryPlot(), ThroughputPlot()
    trio = [latency, memory, throughput]
    _box = _shown(qtbot, *trio, height=600)
    for plot in trio:
        plot.apply_theme(points)
    memory.mark_model(300_000_000, 90_000_000)
    for t, name in ((900.0, "distilbert-base-uncased-finetuned-sst-2-english [fp32]"),
                    (1150.0, "prajjwal1/bert-tiny [fp16, all layers]")):
        latency.mark_event(t, name)
        memory.mark_event(t, name)
    latency.add_break(900.0)
    for i in range(3000):
        t = 900.0 + i * 0.1
        latency.add_request(t, 1.2 if i == 2500 else 0.003)
        memory.append("RSS", t, 420e6)
        throughput.append("requests/s (last 1 s)", t, 300.0)  # as the window names it
        if i % 10 == 0:
            latency.update_percentiles()
    _redraw(qtbot, trio, now=1200.0, window=60.0)
    for plot in trio:
        item = plot.plotItem
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            assert axis.style["tickFont"].pointSize() == points
            assert axis.labelStyle["font-size"] == f"{points}pt"
        header = item.titleLabel
        assert f"font-size: {points}pt" in header.item.toHtml() or f"font-size:{points}pt" in header.item.toHtml()
        assert "font-size:" + str(points + 2) + "pt" in header.item.toHtml().replace(" ", "")
        # The header is not clipped (its row holds all its lines) and stays inside the widget.
        assert header.geometry().height() + 0.5 >= header.itemRect().height()
        widget = pg.QtCore.QRectF(0, 0, plot.width(), plot.height())
        assert _inside(header.mapRectToScene(header.itemRect()), widget)
        view = _view_rect(plot)
        assert header.sceneBoundingRect().bottom() <= view.top() + 0.5
        for item_, rect in _texts(plot):
            assert item_.textItem.font().pointSize() == points
            assert _inside(rect, view)
        left = item.getAxis("left")
        if left.label.isVisible():  # the y title: within its axis, clear of the header
            rect = left.label.mapRectToScene(left.label.boundingRect())
            assert rect.top() >= header.sceneBoundingRect().bottom() - 0.5 and rect.left() >= -0.5
            assert rect.bottom() <= plot.height() + 0.5
        bottom = item.getAxis("bottom")
        assert bottom.sceneBoundingRect().bottom() <= plot.height() + 0.5
        metrics = pg.QtGui.QFontMetricsF(bottom.style["tickFont"])
        assert bottom.height() >= metrics.height()  # the time ticks' digits are not cut
        (x0, x1), _ = item.viewRange()
        levels = bottom.tickValues(x0, x1, bottom.width())
        spacing_px = levels[0][0] * bottom.width() / (x1 - x0)
        assert spacing_px > metrics.horizontalAdvance("00:00")  # time ticks do not overlap
        (y0, y1) = item.viewRange()[1]
        levels = left.tickValues(y0, y1, left.height())
        assert levels[0][0] * left.height() / (y1 - y0) > metrics.height()  # nor do the value ticks
    for plot in (latency, memory):
        assert any(item.toPlainText().startswith("prajjwal1") for item, _ in _texts(plot))


def test_the_plot_fits_its_widget_however_long_its_header(qtbot):
    """The header's text width was the plot item's minimum: the plot stood wider than its widget, and
    its right end (the last tick, "00:0", and the labels there) was cut off."""
    plot = LatencyPlot()
    _box = _shown(qtbot, plot, width=420, height=220)
    for i in range(30):
        plot.add_request(float(i), 0.01)
    _redraw(qtbot, [plot], now=30.0, window=60.0)
    right = plot.plotItem.vb.sceneBoundingRect().right()
    assert right <= plot.viewport().width(), (right, plot.viewport().width())
    assert plot.plotItem.titleLabel.minimumWidth() == 0
