"""Live plots: latency per request (rolling p50/p90), the engine process's memory, throughput.

Each curve is created once. Records go into bounded ring buffers; the main window's one QTimer
redraws them at 10 Hz, with ranges set by hand (auto-ranging on every update was most of the stall
measured in offscreen mode), clipped to the view and peak-downsampled to the plot's width; the
rolling percentiles get one point a frame. tests/benchmarks/plot_cost.py measures a frame with
full buffers.
"""

import csv
import math
from collections import deque
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QWidget

from core.stats import percentile

BUFFER = 20_000  # points kept per series; older ones fall off
ROLLING = 25  # requests in the rolling percentile window
SYMBOL_LIMIT = 200  # requests in the buffer above which the latency plot draws no dots
MAX_EVENTS = 10  # load markers kept on a plot
REDRAW_MS = 100  # 10 Hz; the timer lives in the main window

pg.setConfigOptions(antialias=False, foreground="k")


def _theme(widget: QWidget) -> tuple[QColor, QColor]:
    palette = widget.palette()
    return palette.color(QPalette.ColorRole.Base), palette.color(QPalette.ColorRole.Text)


class LivePlot(pg.PlotWidget):
    """A time-axis plot with bounded series and a hand-managed range."""

    def __init__(self, title: str, y_label: str, units: str | None = None, parent=None):
        super().__init__(parent=parent)
        self._labels = (title, y_label, units)
        self.apply_theme()
        # No grid: with a scrolling time axis, grid lines are repainted every frame and were most of the
        # redraw cost measured here (tests/benchmarks/ui_lateness.py).
        self.plotItem.showGrid(x=False, y=False)
        self.plotItem.disableAutoRange()
        # auto: at most about two points per pixel column (peak keeps spikes visible); without it
        # every point in the buffer was drawn each frame (tests/benchmarks/plot_cost.py).
        self.plotItem.setDownsampling(auto=True, mode="peak")
        self.plotItem.setClipToView(True)
        self.plotItem.addLegend(offset=(10, 5), labelTextColor=_theme(self)[1].name())
        self.setMinimumHeight(140)
        self._series: dict[str, tuple[deque, deque, pg.PlotDataItem]] = {}
        self._events: list[pg.InfiniteLine] = []
        self._event_count = 0  # events marked so far: places each label at its own height
        self._y_top = 0.0

    def apply_theme(self, points: int | None = None) -> None:
        """Colours from the palette (light or dark) and text as large as the window's font."""
        background, text = _theme(self)
        self.setBackground(background)
        points = points or self.font().pointSize()
        title, y_label, units = self._labels
        self.plotItem.setTitle(title, color=text.name(), size=f"{round(points * 1.2)}pt")
        style = {"color": text.name(), "font-size": f"{points}pt"}
        self.plotItem.setLabel("left", y_label, units=units, **style)
        self.plotItem.setLabel("bottom", "time", units="s", **style)
        font = self.font()
        font.setPointSize(points)
        for axis in ("left", "bottom"):
            self.plotItem.getAxis(axis).setTickFont(font)
            self.plotItem.getAxis(axis).setTextPen(text)

    def add_series(self, name: str, color: str, width: int = 1, symbol: str | None = None,
                   style=Qt.PenStyle.SolidLine) -> None:
        pen = pg.mkPen(color=color, width=width, style=style)
        # connect="finite": a NaN point breaks the line, so separate runs are not joined by a slope.
        item = self.plotItem.plot([], [], name=name, pen=pen, symbol=symbol, symbolSize=4,
                                  symbolBrush=color if symbol else None, symbolPen=None, connect="finite")
        self._series[name] = (deque(maxlen=BUFFER), deque(maxlen=BUFFER), item)

    def append(self, name: str, t: float, value: float) -> None:
        xs, ys, _ = self._series[name]
        xs.append(t)
        ys.append(value)

    def set_series(self, name: str, xs, ys) -> None:
        x_buf, y_buf, _ = self._series[name]
        x_buf.clear(), y_buf.clear()
        x_buf.extend(xs), y_buf.extend(ys)

    def values(self, name: str) -> tuple[list[float], list[float]]:
        xs, ys, _ = self._series[name]
        return list(xs), list(ys)

    def points(self) -> int:
        return sum(len(xs) for xs, _, _ in self._series.values())

    def clear_data(self) -> None:
        for xs, ys, item in self._series.values():
            xs.clear(), ys.clear()
            item.setData([], [])
        self._y_top = 0.0

    def redraw(self, now: float, window: float, y_floor: float = 0.0) -> None:
        """Show [now - window, now]; grow the y range with headroom, shrink it only when far off."""
        top = y_floor
        start = max(0.0, now - window)  # until the window fills, the axis grows from the start
        end = max(now, start + min(window, 10.0))
        for xs, ys, item in self._series.values():
            if not xs:
                item.setData([], [])
                continue
            x = np.fromiter(xs, float, len(xs))
            y = np.fromiter(ys, float, len(ys))
            item.setData(x, y)
            visible = y[(x >= start) & np.isfinite(y)]
            if visible.size:
                top = max(top, float(visible.max()))
        self.plotItem.setXRange(start, end, padding=0)
        if top > 0 and (top > self._y_top or top < self._y_top * 0.5):
            self._y_top = top * 1.2
            self.plotItem.setYRange(0, self._y_top, padding=0)
        # Apply the new range now: left to the paint (pyqtgraph's default), the transform it sets there
        # dirties the scene again and every redraw was painted twice (tests/benchmarks/plot_cost.py).
        self.plotItem.vb.prepareForPaint()

    def break_lines(self, t: float, names=None) -> None:
        """End the current lines of these series (all by default): the next points start new ones.

        Only after a real point: a series of nothing but NaN makes pyqtgraph's bounding-rect
        code warn inside a paint event (and pytest turns that warning into a crash).
        """
        for name in names or list(self._series):
            ys = self._series[name][1]
            if ys and math.isfinite(ys[-1]):
                self.append(name, t, float("nan"))

    def mark_event(self, t: float, label: str) -> None:
        """A vertical line where something happened (a model was loaded); the oldest go first."""
        _, text = _theme(self)
        # Labels at three heights in turn: events close in time (a load, then a restart) stay readable.
        height = 0.95 - 0.12 * (self._event_count % 3)
        self._event_count += 1
        line = pg.InfiniteLine(pos=t, angle=90, pen=pg.mkPen("#aaaaaa", style=Qt.PenStyle.DotLine), label=label,
                               labelOpts={"position": height, "color": text.name(), "anchors": [(0, 0), (0, 0)]})
        self.plotItem.addItem(line, ignoreBounds=True)
        self._events.append(line)
        while len(self._events) > MAX_EVENTS:
            self.plotItem.removeItem(self._events.pop(0))

    def export_png(self, path: str | Path) -> None:
        if not self.grab().save(str(path)):
            raise OSError(f"Could not write {path}")


class LatencyPlot(LivePlot):
    P50 = f"p50 (last {ROLLING})"
    P90 = f"p90 (last {ROLLING})"
    TOKEN = "per token (first: TTFT)"

    def __init__(self, parent=None):
        super().__init__("Latency per request", "latency", "s", parent)
        self.setObjectName("latencyPlot")
        self.add_series("request", "#1f77b4", width=1, symbol="o")
        # The newest request as a dot, always: a lone run-once request has no line to show it.
        self.latest = pg.ScatterPlotItem(size=9, brush=pg.mkBrush("#1f77b4"), pen=None)
        self.plotItem.addItem(self.latest)
        self.add_series(self.P50, "#2ca02c", width=2)
        self.add_series(self.P90, "#d62728", width=2, style=Qt.PenStyle.DashLine)
        self.add_series(self.TOKEN, "#ff7f0e", width=1)  # text generation: each token as it arrives
        self._rolling: deque[float] = deque(maxlen=ROLLING)  # the latest latencies
        self._newest_unscored: float | None = None  # time of the newest request since the last percentile point

    def add_request(self, t: float, seconds: float) -> None:
        self.append("request", t, seconds)
        self._rolling.append(seconds)
        self._newest_unscored = t

    def redraw(self, now: float, window: float, y_floor: float = 0.0) -> None:
        # Dots make a lone request visible, but cost about 10 ms a frame with hundreds of points:
        # draw them only while the buffer is small.
        item = self._series["request"][2]
        wanted = "o" if len(self._series["request"][0]) <= SYMBOL_LIMIT else None
        if item.opts["symbol"] != wanted:
            item.setSymbol(wanted)
        xs, ys, _ = self._series["request"]
        finite = [(x, y) for x, y in zip(list(xs)[-2:], list(ys)[-2:]) if math.isfinite(y)]
        self.latest.setData([finite[-1][0]], [finite[-1][1]]) if finite else self.latest.clear()
        super().redraw(now, window, y_floor)

    def add_break(self, t: float) -> None:
        """End the current lines: the next request starts new ones (a new run or model)."""
        self.update_percentiles()
        self.break_lines(t)

    def update_percentiles(self) -> None:
        """One point of the rolling p50/p90 (over the last ROLLING requests) per call: per frame, not per request.

        A point per request cost about 14 ms a frame to recompute and 60 ms to paint with full
        buffers (tests/benchmarks/plot_cost.py); at 10 frames a second the lines look the same.
        """
        if self._newest_unscored is None:
            return
        ordered = sorted(self._rolling)
        self.append(self.P50, self._newest_unscored, percentile(ordered, 50))
        self.append(self.P90, self._newest_unscored, percentile(ordered, 90))
        self._newest_unscored = None

    def clear_data(self) -> None:
        super().clear_data()
        self._rolling.clear()
        self._newest_unscored = None


class MemoryPlot(LivePlot):
    KV = "baseline + weights + KV cache"

    def __init__(self, parent=None):
        super().__init__("Engine process memory", "memory", "B", parent)
        self.setObjectName("memoryPlot")
        self.add_series("RSS", "#9467bd", width=2)
        self.add_series("CUDA allocated", "#ff7f0e", width=2)
        self.add_series(self.KV, "#2ca02c", width=2)  # text generation: grows with the context
        _, text = _theme(self)
        self.baseline = pg.InfiniteLine(angle=0, pen=pg.mkPen("#7f7f7f", style=Qt.PenStyle.DashLine),
                                        label="baseline (before load)", labelOpts={"color": text.name(), "position": 0.15})
        self.weights = pg.InfiniteLine(angle=0, pen=pg.mkPen("#8c564b", style=Qt.PenStyle.DotLine),
                                       label="baseline + weights", labelOpts={"color": text.name(), "position": 0.45})
        for line in (self.baseline, self.weights):
            line.setVisible(False)
            self.plotItem.addItem(line, ignoreBounds=True)

    def unmark_model(self) -> None:
        """The model is gone (unloaded, or its engine process ended): its baseline lines no longer apply."""
        self.baseline.setVisible(False)
        self.weights.setVisible(False)

    def mark_model(self, baseline: int, weight_bytes: int) -> None:
        self.baseline.setValue(baseline)
        self.weights.setValue(baseline + weight_bytes)
        self.baseline.setVisible(True)
        self.weights.setVisible(True)
        self._y_top = 0.0  # re-range to include the marks

    def redraw(self, now: float, window: float, y_floor: float = 0.0) -> None:
        floor = self.weights.value() if self.weights.isVisible() else 0.0
        super().redraw(now, window, max(y_floor, floor))


class ThroughputPlot(LivePlot):
    TOKENS = "tokens/s (decode, per token)"

    def __init__(self, parent=None):
        super().__init__("Throughput", "requests/s", None, parent)
        self.setObjectName("throughputPlot")
        self.add_series("requests/s (last 1 s)", "#17becf", width=2)
        self.add_series(self.TOKENS, "#ff7f0e", width=1)  # text generation


def export_csv(path: str | Path, plots: list[LivePlot]) -> Path:
    """Every plotted point, one row each: plot, series, time, value."""
    import io

    from core.report import write_atomic

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["plot", "series", "time_s", "value"])
    for plot in plots:
        for name in plot._series:
            xs, ys = plot.values(name)
            writer.writerows((plot.objectName(), name, f"{x:.6f}", f"{y:.9g}") for x, y in zip(xs, ys))
    return write_atomic(path, buffer.getvalue())

