"""The Compare tab's plots: latency against quality with the Pareto frontier, and latency over a sweep."""

import math

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from core.compare_data import frontier

MAX_FRONT_LABELS = 20  # frontier points labelled on the scatter and named below it

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")


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
        self.scatterPoints = pg.ScatterPlotItem(pen=pg.mkPen("k"), brush=pg.mkBrush(31, 119, 180, 150))
        self.frontierLine = pg.PlotDataItem(pen=pg.mkPen("#d62728", width=2, style=Qt.PenStyle.DashLine))
        self.scatter.addItem(self.frontierLine)
        self.scatter.addItem(self.scatterPoints)
        self._scatter_labels: list[pg.TextItem] = []
        self.scatterNote = QLabel("", objectName="compareScatterNote")
        self.scatterNote.setWordWrap(True)
        self.sweepPlot = pg.PlotWidget(objectName="compareSweepPlot")
        self.sweepPlot.setMinimumHeight(220)
        self.sweepPlot.setBackground("w")
        self.sweepPlot.showGrid(x=True, y=True, alpha=0.25)
        self.sweepPlot.setTitle("Latency vs sweep (p50)")
        self.sweepPlot.setLabel("left", "p50 latency", units="s")
        self.sweepPlot.addLegend(offset=(10, 5))
        for plot in (self.scatter, self.sweepPlot):
            for side in ("left", "bottom"):
                # Grid lines at major ticks only: the minor ones made a repaint of these plots cost up
                # to 22 ms (5 ms now), the longest stall of the window in a compare run
                # (tests/benchmarks/ui_lateness.py).
                plot.getAxis(side).setStyle(maxTickLevel=0)

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

    def _draw_scatter(self, rows: list[dict]) -> None:
        for label in self._scatter_labels:
            self.scatter.removeItem(label)
        self._scatter_labels = []
        scored = [r for r in rows if r["status"] == "done" and r["quality"] is not None]
        if not scored:
            self.scatterPoints.setData([], [])
            self.frontierLine.setData([], [])
            done = any(r["status"] == "done" for r in rows)
            self.scatterNote.setText("No quality to plot: synthetic rows have none (n/a)." if done else "")
            return
        metric = scored[0]["quality_metric"]
        scale = 100 if metric == "accuracy" else 1
        self.scatter.setLabel("left", "accuracy (%)" if metric == "accuracy" else metric)
        biggest = max(max(r["memory_bytes"] for r in scored), 1)
        spots = [{"pos": (r["p50_s"], r["quality"] * scale),
                  "size": 10 + 30 * math.sqrt(max(r["memory_bytes"], 0) / biggest),
                  "data": r["index"]} for r in scored]
        self.scatterPoints.setData(spots)
        by_index = {r["index"]: r for r in scored}
        front = [by_index[i] for i in frontier(rows)]
        self.frontierLine.setData([r["p50_s"] for r in front], [r["quality"] * scale for r in front])
        # Ranges by hand: auto-range zooms one point to nothing and ignores the labels' width.
        xs = [spot["pos"][0] for spot in spots]
        ys = [spot["pos"][1] for spot in spots]
        spread = max(max(ys) - min(ys), 4.0)
        self.scatter.setXRange(0, max(xs) * 1.25, padding=0)
        self.scatter.setYRange(min(ys) - 0.25 * spread, max(ys) + 0.25 * spread, padding=0)
        for r in front[:MAX_FRONT_LABELS]:  # a saved run of 20,000 rows may have thousands on its frontier
            label = pg.TextItem(f"#{r['index'] + 1} {r['variant']}", color="#222", anchor=(0, 1))
            label.setPos(r["p50_s"], r["quality"] * scale)
            self.scatter.addItem(label)
            self._scatter_labels.append(label)
        left_out = len([r for r in rows if r["status"] == "done"]) - len(scored)
        named = ", ".join("#" + str(r["index"] + 1) for r in front[:MAX_FRONT_LABELS])
        more = f" and {len(front) - MAX_FRONT_LABELS:,} more" if len(front) > MAX_FRONT_LABELS else ""
        self.scatterNote.setText(f"Dashed: Pareto frontier ({named}{more}). "
                                 "Bigger bubble: more memory."
                                 + (f"; {left_out} row(s) without quality not plotted." if left_out else ""))

    def _draw_sweep(self, run: dict | None) -> None:
        self.sweepPlot.clear()
        if not run or not run["request"].get("sweep"):
            self.sweepPlot.setTitle("Latency vs sweep (p50): no sweep asked")
            return
        axis = run["request"]["sweep"]["axis"]
        self.sweepPlot.setTitle(f"p50 latency vs {'sequence length' if axis == 'seq_len' else 'batch size'}")
        self.sweepPlot.setLabel("bottom", "sequence length" if axis == "seq_len" else "batch size")
        for n, row in enumerate(r for r in run["rows"] if r["status"] == "done" and r.get("sweep")):
            xs = [point["value"] for point in row["sweep"]]
            ys = [point["latency"]["p50"] for point in row["sweep"]]
            color = PALETTE[n % len(PALETTE)]
            self.sweepPlot.plot(xs, ys, pen=pg.mkPen(color, width=2), symbol="o", symbolBrush=color,
                                symbolSize=6, name=f"#{row['index'] + 1} {row['label']}")
