"""Live plots: latency per request (rolling p50/p90), the engine process's memory, throughput.

Each curve is created once. Records go into bounded ring buffers; the main window's one QTimer
redraws them at 10 Hz, with ranges set by hand (auto-ranging on every update was most of the stall
measured in offscreen mode), clipped to the view and peak-downsampled to the plot's width; the
rolling percentiles get one point a frame. tests/benchmarks/plot_cost.py measures a frame with
full buffers.

What is written on a plot never covers its data and never leaves the widget: the title, the live
numbers and the legend share one wrapped header above the plot area (a legend inside the view covered
the lines and the event labels); event labels sit in lanes at the top of the view, in headroom the y
range keeps free for them, kept inside the view and pinned to its left edge while their segment is
still on screen. Every font follows apply_theme(points), so presenter mode scales all of it.
"""

import csv
import html
import math
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPalette
from PySide6.QtWidgets import QWidget

from core.columns import fmt_bytes
from core.stats import percentile

BUFFER = 20_000  # points kept per series; older ones fall off
ROLLING = 25  # requests in the rolling percentile window
SYMBOL_LIMIT = 200  # requests in the buffer above which the latency plot draws no dots
MAX_EVENTS = 10  # load markers kept on a plot
MAX_LANES = 3  # rows of event labels at the top of a plot; a label with no room left is not drawn
REDRAW_MS = 100  # 10 Hz; the timer lives in the main window
HEADROOM = 1.1  # the y range's top over the highest visible value (linear scale)
LOG_HEADROOM = 0.1  # decades above and below the visible values (log scale)

pg.setConfigOptions(antialias=False, foreground="k")


def _theme(widget: QWidget) -> tuple[QColor, QColor]:
    palette = widget.palette()
    return palette.color(QPalette.ColorRole.Base), palette.color(QPalette.ColorRole.Text)


def clock(seconds: float, spacing: float = 1.0) -> str:
    """Seconds as mm:ss (h:mm:ss past an hour; tenths when the ticks are closer than a second)."""
    sign = "-" if seconds < 0 else ""
    tenths = spacing < 1
    total = round(abs(seconds), 1 if tenths else 0)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    secs_text = f"{secs:04.1f}" if tenths else f"{int(secs):02d}"
    if hours:
        return f"{sign}{int(hours)}:{int(minutes):02d}:{secs_text}"
    return f"{sign}{int(minutes):02d}:{secs_text}"


def _number(value: float) -> str:
    """About three significant figures, never an exponent: 0.42, 3.12, 31.2, 312, 3120."""
    if value >= 100:
        return f"{value:.0f}"
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


class TimeAxis(pg.AxisItem):
    """Seconds since the window opened, ticked at clock steps and printed as mm:ss.

    pyqtgraph's default axis printed "time (ks)" and ticks like 1.035 after about 16 minutes
    (its SI prefix), and ticked at decimal steps (200 s) that read badly as times.
    """

    STEPS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400)

    def __init__(self):
        super().__init__("bottom")
        self.enableAutoSIPrefix(False)
        self._major = None

    def _label_px(self) -> float:
        font = self.style.get("tickFont") or self.font()
        return QFontMetricsF(font).horizontalAdvance("00:00:0")  # a label and a gap of about two digits

    def tickSpacing(self, minVal: float, maxVal: float, size: float):
        span = abs(maxVal - minVal)
        if span == 0 or size <= 0:
            return []
        per_px = span / size
        major = next((s for s in self.STEPS if s / per_px >= self._label_px()), None)
        if major is None:
            major = self.STEPS[-1] * math.ceil(self._label_px() * per_px / self.STEPS[-1])
        self._major = major
        # Minor ticks: the finest step that divides the major one at most six times, 8 pixels apart or more.
        minor = [s for s in self.STEPS if s < major and major / s <= 6 and s / per_px >= 8
                 and abs(major / s - round(major / s)) < 1e-6]
        return [(major, 0), (minor[0], 0)] if minor else [(major, 0)]

    def tickValues(self, minVal: float, maxVal: float, size: float):
        """pyqtgraph's ticks, less the labelled ones within half a label of either end: their text is
        centred on the tick and was cut in half at the plot's edge ("00:0")."""
        levels = super().tickValues(minVal, maxVal, size)
        if size <= 0 or maxVal <= minVal:
            return levels
        margin = self._label_px() / 2 * (maxVal - minVal) / size
        return [(spacing, [v for v in values if minVal + margin <= v <= maxVal - margin]
                 if self._major is not None and math.isclose(spacing, self._major) else values)
                for spacing, values in levels]

    def tickStrings(self, values, scale, spacing):
        # Minor ticks carry no text: their labels were squeezed between the major ones.
        if self._major is not None and not math.isclose(spacing, self._major):
            return [""] * len(values)
        return [clock(v, spacing) for v in values]


class ValueAxis(pg.AxisItem):
    """One fixed unit, named in the label: no SI prefix, so the axis cannot switch between ms and s.

    unit_scale converts the plotted values to that unit (seconds to ms). In log mode the ticks print
    plain values (0.5, 2, 10) instead of pyqtgraph's 10ⁿ notation.
    """

    def __init__(self, orientation: str = "left", unit_scale: float = 1.0):
        super().__init__(orientation)
        self.enableAutoSIPrefix(False)
        self._unit_scale = unit_scale
        self.setScale(unit_scale)

    def tickSpacing(self, minVal: float, maxVal: float, size: float):
        """pyqtgraph's steps (1, 2, 5 x 10^k), wider apart when the tick font is large.

        Its spacing follows the axis' length only: at 20 pt in a short plot the labels overlapped.
        """
        levels = super().tickSpacing(minVal, maxVal, size)
        span = abs(maxVal - minVal)
        if not levels or self.logMode or span == 0:
            return levels
        need = 1.5 * QFontMetricsF(self.style.get("tickFont") or self.font()).height()
        major = levels[0][0]
        if major * size / span >= need:
            return levels
        while major * size / span < need:
            exponent = math.floor(math.log10(major))
            mantissa = major / 10**exponent
            major = (2 if mantissa < 1.5 else 5 if mantissa < 3.5 else 10) * 10**exponent
        return [(major, 0)]

    def setLogMode(self, *args, **kwargs):
        super().setLogMode(*args, **kwargs)
        # pyqtgraph multiplies the tick range by the scale, which in log mode is in decades: the unit
        # is applied to the tick strings instead.
        self.setScale(1.0 if self.logMode else self._unit_scale)

    def logTickStrings(self, values, scale, spacing):
        strings = []
        for v in values:
            value = 10 ** float(v) * self._unit_scale
            strings.append(f"{value:.0f}" if value >= 1 else f"{value:.2g}")
        return strings


@dataclass(frozen=True)
class LiveNumbers:
    """The current run's requests (since the last add_break, the newest BUFFER of them)."""

    count: int
    p50_ms: float | None
    p90_ms: float | None
    requests_per_s: float | None


@dataclass
class _Event:
    t: float
    text: str
    line: pg.InfiniteLine
    label: pg.TextItem


class LivePlot(pg.PlotWidget):
    """A time-axis plot with bounded series and a hand-managed range.

    Values are kept and drawn in their own unit (seconds, bytes); the y axis prints them times
    y_scale, in the unit its label names (ms, MiB). A plot too short for all its text drops the time
    axis' title, then shortens the y title to its unit (y_unit), then drops it.
    """

    def __init__(self, title: str, y_label: str, y_unit: str, y_scale: float = 1.0, parent=None):
        super().__init__(parent=parent, axisItems={"bottom": TimeAxis(), "left": ValueAxis("left", y_scale)})
        self._title = title
        self._y_labels = (y_label, y_unit)
        self._chrome = None  # (time axis titled, y title) as last fitted to the plot's height
        self._header_height = 0
        self._points = None
        self._series: dict[str, tuple[deque, deque, pg.PlotDataItem]] = {}
        self._legend: dict[str, str] = {}  # series (or line) name -> its sample, as HTML
        self._legend_text: dict[str, str] = {}  # a shorter name to show, where the legend has one
        self._shown: list[str] = []  # legend entries, in the order their lines appeared (a sort is stable)
        self._skip_zeros: set[str] = set()  # series drawn only from their first nonzero value
        self._events: list[_Event] = []
        self._header_html = None
        self._header_width = None
        self._range_lo = self._range_hi = None  # the data the y range was last fitted to
        self._range_log = False  # on which scale (log: in decades)
        self._reserved = 0.0  # pixels kept free at the top of the view for event labels
        self._fitted_height = 0.0  # the view's height when the y range was last set
        self._lanes: list[tuple[_Event, float, int]] = []  # the labels drawn: event, x in pixels, lane
        self._lane_height = 0.0
        self.plotItem.layout.removeItem(self.plotItem.titleLabel)
        self.plotItem.titleLabel.setParentItem(None)
        self.plotItem.titleLabel = _HeaderLabel(parent=self.plotItem)
        self.plotItem.layout.addItem(self.plotItem.titleLabel, 0, 0, 1, 3)  # the header spans the axes too
        self.plotItem.titleLabel.setAttr("justify", "left")
        self.plotItem.titleLabel.setVisible(True)
        # pyqtgraph draws the y title 5 pixels left of its axis: with its 1-pixel margin, the title's
        # first letter was cut at the widget's edge. On the right, the last time tick's text is centred
        # on the view's edge: half of it was cut ("00:0") without room there.
        self.plotItem.layout.setContentsMargins(5, 1, 16, 1)
        # No grid: with a scrolling time axis, grid lines are repainted every frame and were most of the
        # redraw cost measured here (tests/benchmarks/ui_lateness.py).
        self.plotItem.showGrid(x=False, y=False)
        self.plotItem.disableAutoRange()
        # auto: at most about two points per pixel column (peak keeps spikes visible); without it
        # every point in the buffer was drawn each frame (tests/benchmarks/plot_cost.py).
        self.plotItem.setDownsampling(auto=True, mode="peak")
        self.plotItem.setClipToView(True)
        self.setMinimumHeight(140)  # the window may set its own: a short plot drops its axis titles first
        self.apply_theme()

    # ------------------------------------------------------------ look

    def apply_theme(self, points: int | None = None) -> None:
        """Colours from the palette (light or dark); every text on the plot as large as `points`."""
        background, text = _theme(self)
        self.setBackground(background)
        self._points = points = points or self._points or self.font().pointSize()
        font = self._font()
        for name in ("left", "bottom"):
            axis = self.plotItem.getAxis(name)
            axis.setTickFont(font)
            axis.setTextPen(text)
            axis.setStyle(tickTextOffset=max(2, points // 3))
            axis.label.setFont(font)  # its height, which the axis reserves, follows the label's size
        self.plotItem.titleLabel.setAttr("color", text.name())
        for event in self._events:
            self._style_label(event.label)
        self._header_html = None  # rebuild with the new sizes
        self._chrome = None
        self._update_header()

    def _font(self) -> QFont:
        font = QFont(self.font())
        font.setPointSize(self._points)
        return font

    def _style_label(self, label: pg.TextItem) -> None:
        background, text = _theme(self)
        fill = QColor(background)
        fill.setAlpha(210)
        label.setColor(text)
        label.fill = pg.mkBrush(fill)
        label.setFont(self._font())
        label.textItem.document().setDocumentMargin(1)

    def header_text(self) -> str:
        """The header as plain text: title, live numbers, legend."""
        return self.plotItem.titleLabel.item.toPlainText()

    def legend_names(self) -> list[str]:
        """The legend's entries: one per line drawn; the series first (in their order), then level lines."""
        series = list(self._series)
        return sorted(self._shown, key=lambda name: series.index(name) if name in series else len(series))

    def _numbers_html(self) -> str:
        return ""

    def _show_in_legend(self, name: str) -> None:
        if name not in self._shown:
            self._shown.append(name)
            self._header_html = None

    def _hide_from_legend(self, name: str) -> None:
        if name in self._shown:
            self._shown.remove(name)
            self._header_html = None

    def _update_header(self) -> None:
        """Title, live numbers and legend in one label above the plot area, wrapped to the plot's width."""
        label = self.plotItem.titleLabel
        width = max(120.0, self.width() - 12.0)
        title = (f"<span style='font-size:{self._points + 2}pt; font-weight:600'>"
                 f"{html.escape(self._title)}</span>")
        numbers = self._numbers_html()
        entries = [f"<span style='white-space:nowrap'>{self._legend[name]}&nbsp;"
                   f"{html.escape(self._legend_text.get(name, name))}</span>" for name in self.legend_names()]
        text = "&nbsp; ".join([title + (f"&nbsp;&nbsp; {numbers}" if numbers else "")] + entries)
        if text != self._header_html or width != self._header_width:
            self._header_html, self._header_width = text, width
            # The text item itself, not LabelItem.setText: that re-lays out the whole plot (axes
            # included) on every call, and the live numbers change every frame.
            label.item.document().setDocumentMargin(1)
            label.item.setTextWidth(width)
            color = label.opts["color"]
            label.item.setHtml(f"<span style='color:{color}; font-size:{self._points}pt'>{text}</span>")
            height = math.ceil(label.itemRect().height()) + 2
            if height != self._header_height:
                self._header_height = height
                label.updateMin()
                label.setMaximumHeight(height)
                self.plotItem.layout.setRowFixedHeight(0, height)
        self._fit_chrome()

    def _fit_chrome(self) -> None:
        """Axis titles as the plot's height allows: the time axis' title goes first, then the y title's name.

        The ticks (mm:ss, plain numbers) still read without them; at presenter sizes in a short plot
        they took the room of the data, and a y title longer than its axis ran into the header.
        """
        metrics = QFontMetricsF(self._font())
        line = metrics.height()
        ticks = line + max(2, self._points // 3) + 5  # the time axis without its title
        view = self.height() - self._header_height - ticks - 6
        titled = view - line >= 4 * line
        if titled:
            view -= line
        # Rotated along the view's height: its text, the space pyqtgraph appends, the text item's margins.
        y_title = next((label for label in self._y_labels
                        if metrics.horizontalAdvance(label + " ") + 10 <= view), None)
        if (titled, y_title) == self._chrome:
            return
        self._chrome = titled, y_title
        _, text = _theme(self)
        style = {"color": text.name(), "font-size": f"{self._points}pt"}
        self.plotItem.setLabel("left", y_title or self._y_labels[1], units=None, **style)
        self.plotItem.setLabel("bottom", "time (mm:ss)", units=None, **style)
        self.plotItem.showLabel("bottom", titled)
        self.plotItem.showLabel("left", y_title is not None)  # not even the unit fits: the ticks alone
        # Fixed: the height pyqtgraph works out from the tick text it last drew cut the digits' feet
        # at 20 pt (the widget's bottom edge clipped them).
        self.plotItem.getAxis("bottom").setHeight(math.ceil(ticks + (line if titled else 0) + 3))

    def resizeEvent(self, event) -> None:
        # The header first: the plot item is laid out to the new size, and the header's height is part of it.
        if getattr(self, "_header_width", None) is not None:  # built (GraphicsView's __init__ resizes too)
            self._update_header()
        super().resizeEvent(event)

    # ------------------------------------------------------------ data

    def add_series(self, name: str, color: str, width: int = 1, symbol: str | None = None,
                   style=Qt.PenStyle.SolidLine, skip_leading_zeros: bool = False) -> None:
        """A line; its legend entry appears with its first value (with its first nonzero one if asked)."""
        pen = pg.mkPen(color=color, width=width, style=style)
        # connect="finite": a NaN point breaks the line, so separate runs are not joined by a slope.
        item = self.plotItem.plot([], [], pen=pen, symbol=symbol, symbolSize=4,
                                  symbolBrush=color if symbol else None, symbolPen=None, connect="finite")
        self._series[name] = (deque(maxlen=BUFFER), deque(maxlen=BUFFER), item)
        self._legend[name] = _sample_html(color, width, style, symbol)
        if skip_leading_zeros:
            self._skip_zeros.add(name)

    def append(self, name: str, t: float, value: float) -> None:
        xs, ys, _ = self._series[name]
        if name not in self._shown:
            if name in self._skip_zeros and value == 0:
                return  # nothing has happened yet: no line at 0 before the first run
            if math.isfinite(value):
                self._show_in_legend(name)
        xs.append(t)
        ys.append(value)

    def set_series(self, name: str, xs, ys) -> None:
        x_buf, y_buf, _ = self._series[name]
        x_buf.clear(), y_buf.clear()
        x_buf.extend(xs), y_buf.extend(ys)
        if any(math.isfinite(y) for y in y_buf):
            self._show_in_legend(name)

    def values(self, name: str) -> tuple[list[float], list[float]]:
        xs, ys, _ = self._series[name]
        return list(xs), list(ys)

    def points(self) -> int:
        return sum(len(xs) for xs, _, _ in self._series.values())

    def clear_data(self) -> None:
        for name, (xs, ys, item) in self._series.items():
            xs.clear(), ys.clear()
            item.setData([], [])
            self._hide_from_legend(name)
        self._range_lo = self._range_hi = None
        self._update_header()

    def break_lines(self, t: float, names=None) -> None:
        """End the current lines of these series (all by default): the next points start new ones.

        Only after a real point: a series of nothing but NaN makes pyqtgraph's bounding-rect
        code warn inside a paint event (and pytest turns that warning into a crash).
        """
        for name in names or list(self._series):
            ys = self._series[name][1]
            if ys and math.isfinite(ys[-1]):
                self._series[name][0].append(t)
                ys.append(float("nan"))

    # ------------------------------------------------------------ scale and range

    def set_log_scale(self, on: bool) -> None:
        """A logarithmic y axis: a slow request no longer flattens the fast ones. Zeros are not drawn.

        The y range is refitted at once, over the time range in view: paused plots are not redrawn.
        """
        self.plotItem.setLogMode(y=on)
        self.plotItem.disableAutoRange()  # setLogMode turned auto-range on
        self._range_lo = self._range_hi = None
        (start, end), _ = self.plotItem.viewRange()
        self._fit_y(start, end)

    def log_scale(self) -> bool:
        return self.plotItem.ctrl.logYCheck.isChecked()

    def _extra_values(self) -> list[float]:
        """Stored values the y range must include besides the series (lines drawn across the plot)."""
        return []

    def redraw(self, now: float, window: float, y_floor: float = 0.0) -> None:
        """Show [now - window, now], the y range fitted to what is visible in it, and lay out the labels."""
        start = max(0.0, now - window)  # until the window fills, the axis grows from the start
        end = max(now, start + min(window, 10.0))
        for xs, ys, item in self._series.values():
            if xs:
                item.setData(np.fromiter(xs, float, len(xs)), np.fromiter(ys, float, len(ys)))
            else:
                item.setData([], [])
        self._redraw_items(start, end)
        self.plotItem.setXRange(start, end, padding=0)
        self._fit_y(start, end, y_floor)
        self._update_header()
        # Apply the new range now: left to the paint (pyqtgraph's default), the transform it sets there
        # dirties the scene again and every redraw was painted twice (tests/benchmarks/plot_cost.py).
        self.plotItem.vb.prepareForPaint()

    def _redraw_items(self, start: float, end: float) -> None:
        """Subclasses' own items, before the range is set."""

    def _fit_y(self, start: float, end: float, y_floor: float = 0.0) -> None:
        """The y range for what is visible in [start, end], below the lanes of event labels it lays out."""
        log = self.log_scale()
        lo, hi = math.inf, -math.inf
        for xs, ys, item in self._series.values():
            if not xs:
                continue
            # The arrays setData was given, not copies: this runs on every frame.
            x, y = item.xData, item.yData
            if x is None or len(x) != len(xs):
                x, y = np.fromiter(xs, float, len(xs)), np.fromiter(ys, float, len(ys))
            visible = y[(x >= start) & np.isfinite(y)]
            if log:
                visible = visible[visible > 0]
            if visible.size:
                lo, hi = min(lo, float(visible.min())), max(hi, float(visible.max()))
        for value in [y_floor, *self._extra_values()]:
            if value > 0:
                lo, hi = min(lo, value), max(hi, value)
        reserved = self._layout_labels(start, end)
        refit = hi > 0 and self._refit(lo, hi, log)
        if refit or reserved != self._reserved or self.plotItem.vb.height() != self._fitted_height:
            self._reserved = reserved
            self._set_y_range(log)
        self._place_labels()

    def _refit(self, lo: float, hi: float, log: bool) -> bool:
        """Whether the y range should change: grow at once, shrink only when the data use a small part of it.

        Computed from the visible window only, so one slow request stops mattering once it has scrolled out.
        """
        old_lo, old_hi = self._range_lo, self._range_hi
        if log != self._range_log:  # the scale changed (here or from pyqtgraph's context menu)
            old_lo = old_hi = None
        self._range_log = log
        if log:
            lo_l, hi_l = math.log10(lo) - LOG_HEADROOM, math.log10(hi) + LOG_HEADROOM
            if old_hi is not None and old_lo <= lo_l and hi_l <= old_hi and (old_hi - old_lo) < (hi_l - lo_l) + 1:
                return False
            self._range_lo, self._range_hi = lo_l, hi_l
        else:
            if old_hi is not None and old_lo == 0 and hi <= old_hi and hi * HEADROOM >= old_hi * 0.6:
                return False
            self._range_lo, self._range_hi = 0.0, hi * HEADROOM
        return True

    def _set_y_range(self, log: bool) -> None:
        if self._range_hi is None:
            return
        lo, hi = self._range_lo, self._range_hi
        if lo == hi:
            hi = lo + (1 if log else max(abs(lo), 1.0))
        view = self._fitted_height = self.plotItem.vb.height()
        free = 1 - min(0.6, self._reserved / view) if view > 1 else 1.0
        self.plotItem.setYRange(lo, lo + (hi - lo) / free, padding=0)

    # ------------------------------------------------------------ events

    def mark_event(self, t: float, label: str) -> None:
        """A vertical line where something happened (a model was loaded); the oldest go first.

        Its label names the segment that starts there: while that segment is on screen the label
        stays in view, pinned to the left edge once the line has scrolled out.
        """
        line = pg.InfiniteLine(pos=t, angle=90, pen=pg.mkPen("#aaaaaa", style=Qt.PenStyle.DotLine))
        text = pg.TextItem(label, anchor=(0, 0))
        text.setToolTip(label)
        self._style_label(text)
        text.setVisible(False)  # placed by the next redraw
        text.setZValue(10)
        self.plotItem.addItem(line, ignoreBounds=True)
        self.plotItem.addItem(text, ignoreBounds=True)
        self._events.append(_Event(t, label, line, text))
        while len(self._events) > MAX_EVENTS:
            old = self._events.pop(0)
            self.plotItem.removeItem(old.line)
            self.plotItem.removeItem(old.label)

    def event_labels(self) -> list[pg.TextItem]:
        """The event labels drawn now (after the last redraw)."""
        return [event.label for event in self._events if event.label.isVisible()]

    def _layout_labels(self, start: float, end: float) -> float:
        """Choose each visible segment's label x (in pixels) and lane; returns the pixels its lanes need.

        The newest labels get the top lanes first; one that fits in no lane is not drawn.
        """
        vb = self.plotItem.vb
        width = vb.width()
        self._lanes = []
        if width < 20 or not self._events:
            for event in self._events:
                event.label.setVisible(False)
            return 0.0
        pad = 3.0
        per_px = (end - start) / width
        metrics = QFontMetricsF(self._font())
        # Lanes in 40% of the view's height (one lane in up to half of it): in a short plot at presenter
        # sizes, fewer lanes; in one too short for any, no labels.
        lane_px = metrics.height() + 2
        room = max(int(0.4 * vb.height() // lane_px), 1 if vb.height() >= 2 * lane_px else 0)
        lanes: list[list[tuple[float, float]]] = [[] for _ in range(min(MAX_LANES, room))]
        height = 0.0
        for i in range(len(self._events) - 1, -1, -1):
            event = self._events[i]
            segment_end = self._events[i + 1].t if i + 1 < len(self._events) else math.inf
            if event.t > end or segment_end <= start:
                event.label.setVisible(False)
                continue
            text = metrics.elidedText(event.text, Qt.TextElideMode.ElideMiddle, width - 2 * pad - 10)
            if event.label.toPlainText() != text:
                event.label.setText(text)
            rect = event.label.textItem.boundingRect()
            # The text item's bounding rect leaves out its own margin at some scales (the last
            # character was cut at 150%): keep a few more pixels from the right edge.
            x = min((max(event.t, start) - start) / per_px + pad, width - rect.width() - 2 * pad - 4)
            x = max(pad, x)
            lane = next((k for k, taken in enumerate(lanes)
                         if all(x + rect.width() + pad <= a or b + pad <= x for a, b in taken)), None)
            if lane is None:
                event.label.setVisible(False)
                continue
            lanes[lane].append((x, x + rect.width()))
            self._lanes.append((event, x, lane))
            height = max(height, rect.height())
        self._lane_height = height
        used = 1 + max((lane for _, _, lane in self._lanes), default=-1)
        return used * height + pad if used else 0.0

    def _place_labels(self) -> None:
        vb = self.plotItem.vb
        (x0, x1), (y0, y1) = vb.viewRange()
        width, height = vb.width(), vb.height()
        if width < 20 or height < 1:
            return
        for event, x, lane in self._lanes:
            event.label.setPos(x0 + x * (x1 - x0) / width, y1 - (2 + lane * self._lane_height) * (y1 - y0) / height)
            event.label.setVisible(True)

    def export_png(self, path: str | Path) -> None:
        if not self.grab().save(str(path)):
            raise OSError(f"Could not write {path}")


class _HeaderLabel(pg.LabelItem):
    """The plot's header: as tall as its text, but no wider than it is given, because it wraps.

    pyqtgraph's LabelItem makes its text's width its minimum (updateMin, at every resize too): a
    header laid out for a wider plot then held the whole plot wider than its widget, and the right
    end was cut off (the last tick read "00:0", labels lost their last letters).
    """

    def updateMin(self) -> None:  # noqa: N802 - pyqtgraph's name
        height = self.itemRect().height()
        self.setMinimumSize(0, height)
        self._sizeHint = {Qt.SizeHint.MinimumSize: (0, height), Qt.SizeHint.PreferredSize: (0, height),
                          Qt.SizeHint.MaximumSize: (-1, -1), Qt.SizeHint.MinimumDescent: (0, 0)}
        self.updateGeometry()


def _sample_html(color: str, width: int, style, symbol: str | None) -> str:
    """A legend sample drawn with text: the line's colour, weight and dashes."""
    if style == Qt.PenStyle.DashLine:
        glyphs = "╍╍" if width > 1 else "╌╌"
    elif style == Qt.PenStyle.DotLine:
        glyphs = "┉┉" if width > 1 else "┈┈"
    else:
        glyphs = "━━" if width > 1 else "──"
    if symbol:
        glyphs = glyphs[0] + "●" + glyphs[1]
    return f"<span style='color:{color}'>{glyphs}</span>"


class LatencyPlot(LivePlot):
    P50 = f"p50 (last {ROLLING})"
    P90 = f"p90 (last {ROLLING})"
    TOKEN = "per token (first: TTFT)"

    def __init__(self, parent=None):
        super().__init__("Latency", "latency (ms)", "ms", 1000.0, parent)  # per request: the legend says so
        self.setObjectName("latencyPlot")
        self.add_series("request", "#1f77b4", width=1, symbol="o")
        # The newest request as a dot, always: a lone run-once request has no line to show it. A
        # PlotDataItem (not a ScatterPlotItem) so that it follows the log scale too.
        self.latest = pg.PlotDataItem([], [], pen=None, symbol="o", symbolSize=9,
                                      symbolBrush=pg.mkBrush("#1f77b4"), symbolPen=None)
        self.plotItem.addItem(self.latest)
        self.add_series(self.P50, "#2ca02c", width=2)
        self.add_series(self.P90, "#d62728", width=2, style=Qt.PenStyle.DashLine)
        self.add_series(self.TOKEN, "#ff7f0e", width=1)  # text generation: each token as it arrives
        self._legend_text[self.P50] = "p50"  # "p50 ╍╍ p90 (last 25)": one line less at presenter sizes
        self._rolling: deque[float] = deque(maxlen=ROLLING)  # the latest latencies
        self._newest_unscored: float | None = None  # time of the newest request since the last percentile point
        self._run: deque[float] = deque(maxlen=BUFFER)  # the current run's latencies
        self._run_start: float | None = None  # the last add_break
        self._run_first = self._run_last = None  # when the current run's first and newest requests ended
        self._numbers: LiveNumbers | None = None  # cached until the next request

    def add_request(self, t: float, seconds: float) -> None:
        self.append("request", t, seconds)
        self._rolling.append(seconds)
        self._newest_unscored = t
        self._run.append(seconds)
        if self._run_first is None:
            self._run_first = t
        self._run_last = t
        self._numbers = None

    def live_numbers(self) -> LiveNumbers:
        """p50 and p90 latency and requests/s of the current run (the requests since the last add_break)."""
        if self._numbers is None:
            count = len(self._run)
            if not count:
                self._numbers = LiveNumbers(0, None, None, None)
            else:
                p50, p90 = np.percentile(np.fromiter(self._run, float, count), [50, 90]) * 1000
                first, last = self._run_first, self._run_last
                # None for a lone request: one request over its own latency is no rate.
                rate = None
                if count > 1 and self._run_start is not None and last > self._run_start:
                    rate = count / (last - self._run_start)
                elif count > 1 and last > first:
                    rate = (count - 1) / (last - first)
                self._numbers = LiveNumbers(count, float(p50), float(p90), rate)
        return self._numbers

    def _numbers_html(self) -> str:
        if getattr(self, "_run", None) is None:  # LivePlot.__init__ draws the header before ours has run
            return ""
        numbers = self.live_numbers()
        if not numbers.count:
            return ""
        # Each number wraps as a unit, the three of them not as one: a tighter header at presenter sizes.
        parts = [f"this&nbsp;run: p50&nbsp;<b>{_number(numbers.p50_ms)}</b>&nbsp;ms",
                 f"p90&nbsp;<b>{_number(numbers.p90_ms)}</b>&nbsp;ms"]
        if numbers.requests_per_s:
            parts.append(f"<b>{_number(numbers.requests_per_s)}</b>&nbsp;req/s")
        return " ".join(f"<span style='white-space:nowrap'>{part}{'&nbsp;·' if k < len(parts) - 1 else ''}</span>"
                        for k, part in enumerate(parts))

    def _redraw_items(self, start: float, end: float) -> None:
        # Dots make a lone request visible, but cost about 10 ms a frame with hundreds of points:
        # draw them only while the buffer is small.
        xs, ys, item = self._series["request"]
        wanted = "o" if len(xs) <= SYMBOL_LIMIT else None
        if item.opts["symbol"] != wanted:
            item.setSymbol(wanted)
        finite = [(xs[i], ys[i]) for i in (-2, -1) if len(ys) >= -i and math.isfinite(ys[i])]  # no copy of the deque
        if finite:
            self.latest.setData([finite[-1][0]], [finite[-1][1]])
        else:
            self.latest.setData([], [])

    def add_break(self, t: float) -> None:
        """End the current lines: the next request starts new ones (a new run or model), and a new run's numbers."""
        self.update_percentiles()
        self.break_lines(t)
        self._run.clear()
        self._run_start = t
        self._run_first = self._run_last = None
        self._numbers = None

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
        self._rolling.clear()
        self._newest_unscored = None
        self._run.clear()
        self._run_first = self._run_last = None
        self._numbers = None
        super().clear_data()
        self.latest.setData([], [])


class MemoryPlot(LivePlot):
    KV = "baseline + weights + KV cache"
    BASELINE = "baseline (before load)"
    WEIGHTS = "baseline + weights"

    def __init__(self, parent=None):
        super().__init__("Engine process memory", "memory (MiB)", "MiB", 1 / 2**20, parent)
        self.setObjectName("memoryPlot")
        self.add_series("RSS", "#9467bd", width=2)
        self.add_series("CUDA allocated", "#ff7f0e", width=2)  # in the legend only once CUDA data arrives
        self.add_series(self.KV, "#2ca02c", width=2)  # text generation: grows with the context
        # The two levels are named in the legend, not on their lines: there the names covered the RSS
        # line, each other and the event labels.
        self.baseline = pg.InfiniteLine(angle=0, pen=pg.mkPen("#7f7f7f", style=Qt.PenStyle.DashLine))
        self.weights = pg.InfiniteLine(angle=0, pen=pg.mkPen("#8c564b", width=2, style=Qt.PenStyle.DotLine))
        self._line_samples = {self.BASELINE: _sample_html("#7f7f7f", 1, Qt.PenStyle.DashLine, None),
                              self.WEIGHTS: _sample_html("#8c564b", 2, Qt.PenStyle.DotLine, None)}
        self._line_names: list[str] = []  # their legend entries now
        for line in (self.baseline, self.weights):
            line.setVisible(False)
            self.plotItem.addItem(line, ignoreBounds=True)

    def unmark_model(self) -> None:
        """The model is gone (unloaded, or its engine process ended): its baseline lines no longer apply."""
        self.baseline.setVisible(False)
        self.weights.setVisible(False)
        self._set_line_legend([])

    def mark_model(self, baseline: int, weight_bytes: int) -> None:
        """The RSS before the load and that plus the weights' size, as lines.

        A model with no weights in this process (a remote endpoint reports 0) gets no lines: a
        "weights" line at the baseline would say the weights cost nothing.
        """
        if not weight_bytes or weight_bytes < 0:
            self.unmark_model()
            return
        self.baseline.setValue(baseline)
        self.weights.setValue(baseline + weight_bytes)
        self.baseline.setVisible(True)
        self.weights.setVisible(True)
        size = fmt_bytes(weight_bytes)
        # Shown shorter, read in a row: "╌╌ before load ┉┉ + weights (85.8 MiB)" (a line less at presenter sizes).
        self._set_line_legend([(self.BASELINE, self.BASELINE, "before load"),
                               (self.WEIGHTS, f"{self.WEIGHTS} ({size})", f"+ weights ({size})")])
        self._range_lo = self._range_hi = None  # re-range to include the marks

    def _set_line_legend(self, entries: list[tuple[str, str, str]]) -> None:
        """Legend entries for the level lines: (kind, name, the text shown)."""
        for name in self._line_names:
            self._hide_from_legend(name)
        self._line_names = [name for _, name, _ in entries]
        for kind, name, shown in entries:
            self._legend[name] = self._line_samples[kind]
            self._legend_text[name] = shown
            self._show_in_legend(name)
        self._update_header()

    def _extra_values(self) -> list[float]:
        return [self.weights.value()] if self.weights.isVisible() else []


class ThroughputPlot(LivePlot):
    REQUESTS = "requests/s (last 1 s)"
    TOKENS = "tokens/s (decode, per token)"

    def __init__(self, parent=None):
        super().__init__("Throughput", "per second", "/s", 1.0, parent)
        self.setObjectName("throughputPlot")
        # Sampled every frame from the start: zeros before the first request are no line at all.
        self.add_series(self.REQUESTS, "#17becf", width=2, skip_leading_zeros=True)
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
