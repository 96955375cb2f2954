"""The Compare tab's plots: latency against quality with the Pareto frontier, and latency over a sweep.

Every bubble tells what it is when hovered (model, variant, latency, memory, quality: core.columns'
texts); the frontier's bubbles, up to MAX_FRONT_LABELS, also carry a label, placed beside the bubble
where it covers no other label (one that fits nowhere is left to its tooltip). The sweep plot is
shown only for a run that asked for a sweep. `image` draws the plots for a file: twice the pixels,
the run's settings above, no buttons.
"""

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPoint, QPointF, QRect, QRectF, Qt, Slot
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from core.columns import COLUMNS
from core.compare_data import frontier

from .pictures import without_buttons

MAX_FRONT_LABELS = 20  # frontier points labelled on the scatter and named below it
LABEL_GAP = 3  # pixels between a bubble's edge and its label

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")
_COLUMN = {column.key: column for column in COLUMNS}


def bubble_tip(row: dict) -> str:
    """What a bubble is, in the table's own texts (core.columns)."""
    cell = {key: _COLUMN[key].cell(row) for key in ("p50_s", "memory_bytes", "quality", "params_total")}
    lines = [f"#{row['index'] + 1} {row['model']} [{row['variant']}]",
             f"p50 latency {cell['p50_s']} ms", f"memory {cell['memory_bytes']}", f"quality {cell['quality']}",
             f"params {cell['params_total']}"]
    if row.get("frontier"):
        lines.append("on the Pareto frontier")
    return "\n".join(lines)


class ComparePlots(QWidget):
    """Both plots of a run, drawn from core.compare_data.table's rows (and the run, for its sweep)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("comparePlots")
        self.scatter = pg.PlotWidget(objectName="compareScatter")
        self.scatter.setMinimumHeight(220)
        self.scatter.setBackground("w")
        self.scatter.showGrid(x=True, y=True, alpha=0.25)
        self.scatter.setTitle("Latency vs quality")
        self.scatter.setLabel("bottom", "p50 latency", units="s")  # seconds: pyqtgraph adds the prefix
        self._tips: dict[int, str] = {}  # row index -> its bubble's tooltip
        self.scatterPoints = pg.ScatterPlotItem(pen=pg.mkPen("k"), brush=pg.mkBrush(31, 119, 180, 150),
                                                hoverable=True, tip=self._bubble_tip,
                                                hoverPen=pg.mkPen("#d62728", width=2))
        self.frontierLine = pg.PlotDataItem(pen=pg.mkPen("#d62728", width=2, style=Qt.PenStyle.DashLine))
        self.scatter.addItem(self.frontierLine)
        self.scatter.addItem(self.scatterPoints)
        self._scatter_labels: list[pg.TextItem] = []
        self._label_points: list[tuple[float, float, float]] = []  # per label: x, y (view) and bubble size (px)
        self._bubbles = np.zeros((0, 3))  # every bubble: x, y (view) and size (px)
        self._note = ""  # the note under the scatter, as a file gets it (no "hover")
        self.scatterNote = QLabel("", objectName="compareScatterNote")
        self.scatterNote.setWordWrap(True)
        self.sweepPlot = pg.PlotWidget(objectName="compareSweepPlot")
        self.sweepPlot.setMinimumHeight(220)
        self.sweepPlot.setBackground("w")
        self.sweepPlot.showGrid(x=True, y=True, alpha=0.25)
        self.sweepPlot.setTitle("Latency vs sweep (p50)")
        self.sweepPlot.setLabel("left", "p50 latency", units="s")
        self.sweepPlot.addLegend(offset=(10, 5))
        self.sweepPlot.hide()  # an empty plot took half the room: shown for a run with a sweep only
        for plot in (self.scatter, self.sweepPlot):
            for side in ("left", "bottom"):
                # Grid lines at major ticks only: the minor ones made a repaint of these plots cost up
                # to 22 ms (5 ms now), the longest stall of the window in a compare run
                # (tests/benchmarks/ui_lateness.py).
                plot.getAxis(side).setStyle(maxTickLevel=0)
        view = self.scatter.getViewBox()
        view.sigResized.connect(self._place_labels)
        view.sigRangeChanged.connect(self._place_labels)

        plots = QHBoxLayout(self)
        plots.setContentsMargins(0, 0, 0, 0)
        left = QVBoxLayout()
        left.addWidget(self.scatter, 1)
        left.addWidget(self.scatterNote)
        plots.addLayout(left, 1)
        plots.addWidget(self.sweepPlot, 1)

    def draw(self, run: dict | None, rows: list[dict]) -> None:
        self._draw_scatter(rows)
        self._draw_sweep(run)

    def _bubble_tip(self, x: float, y: float, data) -> str:  # pyqtgraph calls tip(x=, y=, data=)
        return self._tips.get(data, "")

    def _draw_scatter(self, rows: list[dict]) -> None:
        for label in self._scatter_labels:
            self.scatter.removeItem(label)
        self._scatter_labels, self._label_points = [], []
        scored = [r for r in rows if r["status"] == "done" and r["quality"] is not None]
        self._tips = {r["index"]: bubble_tip(r) for r in scored}
        if not scored:
            self.scatterPoints.setData([], [])
            self.frontierLine.setData([], [])
            self._bubbles = np.zeros((0, 3))
            done = any(r["status"] == "done" for r in rows)
            self._note = "No quality to plot: synthetic rows have none (n/a)." if done else ""
            self.scatterNote.setText(self._note)
            return
        metric = scored[0]["quality_metric"]
        scale = 100 if metric == "accuracy" else 1
        self.scatter.setLabel("left", "accuracy (%)" if metric == "accuracy" else metric)
        biggest = max(max(r["memory_bytes"] or 0 for r in scored), 1)
        spots = [{"pos": (r["p50_s"], r["quality"] * scale),
                  "size": 10 + 30 * math.sqrt(max(r["memory_bytes"] or 0, 0) / biggest),
                  "data": r["index"]} for r in scored]
        self.scatterPoints.setData(spots)
        self._bubbles = np.array([(*spot["pos"], spot["size"]) for spot in spots], dtype=float)
        by_index = {r["index"]: (r, spot) for r, spot in zip(scored, spots)}
        front = [by_index[i] for i in frontier(rows)]
        self.frontierLine.setData([r["p50_s"] for r, _ in front], [r["quality"] * scale for r, _ in front])
        for r, spot in front[:MAX_FRONT_LABELS]:  # a saved run of 20,000 rows may have thousands on its frontier
            label = pg.TextItem(f"#{r['index'] + 1} {r['variant']}", color="#222")
            label.setToolTip(self._tips[r["index"]])
            self.scatter.addItem(label)
            self._scatter_labels.append(label)
            self._label_points.append((*spot["pos"], spot["size"]))
        # Ranges by hand: auto-range zooms one point to nothing and ignores the labels' width.
        xs, ys = self._bubbles[:, 0], self._bubbles[:, 1]
        spread = max(float(ys.max() - ys.min()), 4.0)
        self.scatter.setXRange(0, float(xs.max()) * 1.25, padding=0)
        self.scatter.setYRange(float(ys.min()) - 0.25 * spread, float(ys.max()) + 0.25 * spread, padding=0)
        self._place_labels()
        left_out = len([r for r in rows if r["status"] == "done"]) - len(scored)
        named = ", ".join("#" + str(r["index"] + 1) for r, _ in front[:MAX_FRONT_LABELS])
        more = f" and {len(front) - MAX_FRONT_LABELS:,} more" if len(front) > MAX_FRONT_LABELS else ""
        self._note = (f"Dashed: Pareto frontier ({named}{more}). Bigger bubble: more memory."
                      + (f" {left_out} row(s) without quality not plotted." if left_out else ""))
        self.scatterNote.setText(self._note + " Hover a bubble for its row.")

    @Slot()
    def _place_labels(self, *_args) -> None:
        """Put each frontier label beside its bubble (right, left, above, below, then the corners: the first place that
        stays in the plot and covers no label placed before it, and no bubble if it can); hide it if
        no place fits. Again whenever the plot is resized or its range changes (pixels move)."""
        view = self.scatter.getViewBox()
        area = view.sceneBoundingRect()
        if not self._scatter_labels or area.width() < 1:
            return
        origin, unit = view.mapViewToScene(QPointF(0, 0)), view.mapViewToScene(QPointF(1, 1))
        sx, sy = unit.x() - origin.x(), unit.y() - origin.y()  # both axes are linear
        centres = np.column_stack((origin.x() + self._bubbles[:, 0] * sx, origin.y() + self._bubbles[:, 1] * sy))
        radii = self._bubbles[:, 2] / 2

        def covers_bubble(rect: QRectF) -> bool:  # a circle against a rectangle: nearest point of the rectangle
            nx = np.clip(centres[:, 0], rect.left(), rect.right())
            ny = np.clip(centres[:, 1], rect.top(), rect.bottom())
            return bool(np.any((centres[:, 0] - nx) ** 2 + (centres[:, 1] - ny) ** 2 < radii ** 2))

        placed: list[QRectF] = []
        for label, (x, y, size) in zip(self._scatter_labels, self._label_points):
            box = label.textItem.boundingRect()
            w, h = box.width(), box.height()
            cx, cy = origin.x() + x * sx, origin.y() + y * sy
            gap = size / 2 + LABEL_GAP
            # (where the label's anchor goes, in scene pixels; the anchor: which point of the label is there)
            slant = gap * 0.7
            candidates = [((cx + gap, cy), (0, 0.5)), ((cx - gap, cy), (1, 0.5)),
                          ((cx, cy - gap), (0.5, 1)), ((cx, cy + gap), (0.5, 0)),
                          ((cx + slant, cy - slant), (0, 1)), ((cx + slant, cy + slant), (0, 0)),
                          ((cx - slant, cy - slant), (1, 1)), ((cx - slant, cy + slant), (1, 0))]
            fits = []
            for (px, py), (ax, ay) in candidates:
                rect = QRectF(px - ax * w, py - ay * h, w, h)
                if area.contains(rect) and not any(rect.intersects(other) for other in placed):
                    fits.append((covers_bubble(rect), rect, (px, py), (ax, ay)))
            if not fits:
                label.hide()
                continue
            _covers, rect, (px, py), anchor = min(fits, key=lambda fit: fit[0])  # the first that covers no bubble
            label.setAnchor(anchor)
            label.setPos(view.mapSceneToView(QPointF(px, py)))
            label.show()
            placed.append(rect)

    def _draw_sweep(self, run: dict | None) -> None:
        self.sweepPlot.clear()
        sweep = run["request"].get("sweep") if run else None
        self.sweepPlot.setVisible(bool(sweep))
        if not sweep:
            return
        axis = sweep["axis"]
        self.sweepPlot.setTitle(f"p50 latency vs {'sequence length' if axis == 'seq_len' else 'batch size'}")
        self.sweepPlot.setLabel("bottom", "sequence length" if axis == "seq_len" else "batch size")
        for n, row in enumerate(r for r in run["rows"] if r["status"] == "done" and r.get("sweep")):
            xs = [point["value"] for point in row["sweep"]]
            ys = [point["latency"]["p50"] for point in row["sweep"]]
            color = PALETTE[n % len(PALETTE)]
            self.sweepPlot.plot(xs, ys, pen=pg.mkPen(color, width=2), symbol="o", symbolBrush=color,
                                symbolSize=6, name=f"#{row['index'] + 1} {row['label']}")

    # ------------------------------------------------------------ a picture for a file

    def image(self, caption: str, scale: float = 2.0) -> QImage:
        """The plots as they are on screen, at `scale` times the pixels, with `caption` (the run's
        settings) above and the note below, in black on white; without pyqtgraph's buttons."""
        plots = [plot for plot in (self.scatter, self.sweepPlot) if not plot.isHidden()]
        width = self.width()
        font = QFont(self.font())
        metrics = QFontMetrics(font)
        pad = 8

        def text_height(text: str) -> int:
            if not text:
                return 0
            flags = int(Qt.TextFlag.TextWordWrap)
            return metrics.boundingRect(QRect(0, 0, width - 2 * pad, 10_000), flags, text).height() + pad

        top = text_height(caption) + pad
        plots_height = max(plot.height() for plot in plots)
        note = self._note
        height = top + plots_height + text_height(note) + pad
        image = QImage(round(width * scale), round(height * scale), QImage.Format.Format_ARGB32_Premultiplied)
        image.setDevicePixelRatio(scale)
        image.fill(QColor("white"))
        painter = QPainter(image)
        try:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
            painter.setFont(font)
            painter.setPen(QColor("black"))
            flags = int(Qt.TextFlag.TextWordWrap)
            painter.drawText(QRect(pad, pad, width - 2 * pad, top), flags, caption)
            with without_buttons(plots):
                for plot in plots:  # the scene itself, drawn at the picture's resolution
                    source = plot.viewport().rect()
                    left = plot.mapTo(self, QPoint(0, 0)).x()
                    plot.render(painter, QRectF(left, top, source.width(), source.height()), source)
            painter.setPen(QColor("black"))
            painter.drawText(QRect(pad, top + plots_height + pad // 2, width - 2 * pad, height), flags, note)
        finally:
            painter.end()
        return image
