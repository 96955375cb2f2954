"""The Compare view driven like a user would, on the real engine and small checkpoints built here;
and, with no engine, what it shows and exports of a made-up run (the scatter, the sweep, the files)."""

import json
import os
import stat
from functools import partial

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QFileDialog

from core import compare_data
from core.catalog import Ladder, LadderMember, ModelEntry, load_catalog
from core.variants import Variant
from gui.compare_view import CompareView
from gui.engine_host import EngineHost

from .engine_edges import engine_that_dies_at_row

slow = pytest.mark.slow  # real Compare runs in a real engine process


@pytest.fixture
def make_view(qtbot):
    hosts = []

    def make(members=(), start=True, engine_factory=None):
        host = EngineHost(engine_factory) if engine_factory else EngineHost()
        view = CompareView(load_catalog(), host)
        qtbot.addWidget(view)
        hosts.append(host)
        if start:  # the engine is up when the view lets the user run
            host.start()
            qtbot.waitUntil(view.runButton.isEnabled, timeout=60_000)
        if members:
            view.set_ladders([Ladder("tiny", "Tiny BERT ladder", "classification", tuple(members))])
        view.seqLenSpin.setValue(16)
        view.warmupSpin.setValue(1)
        view.minItersSpin.setValue(3)
        view.minSecondsSpin.setValue(0)
        return view

    yield make
    for host in hosts:
        assert host.shutdown(10_000)


def run_and_wait(qtbot, view, timeout=120_000):
    with qtbot.waitSignal(view.host.jobFinished, timeout=timeout) as blocker:
        qtbot.mouseClick(view.runButton, Qt.MouseButton.LeftButton)
    return blocker.args[0].outcome


def cell(view, row, key):
    return view.tableModel.text(row, view.tableModel.column(key))


@slow
def test_run_a_tiny_ladder_with_a_failing_member_then_export_and_reopen(qtbot, make_view, bert_dir, tmp_path):
    bert = ModelEntry.for_folder(bert_dir, "classification")
    missing = ModelEntry.for_folder(tmp_path / "gone", "classification")
    view = make_view([LadderMember(bert, Variant()), LadderMember(missing, Variant()),
                      LadderMember(bert, Variant(int8=True))])
    assert view.modelList.count() == 3
    assert view.runButton.isEnabled() and not view.cancelButton.isEnabled()

    assert run_and_wait(qtbot, view) == "done"
    assert view.tableModel.rowCount() == 3
    assert cell(view, 0, "status") == "reference"  # most parameters, first of equals
    assert cell(view, 1, "status").startswith("failed: ") and "not a folder" in cell(view, 1, "status")
    assert cell(view, 2, "status") == "done" and cell(view, 2, "variant").startswith("int8")
    assert cell(view, 0, "quality").endswith("%") and cell(view, 0, "agreement") == "100%"
    assert cell(view, 0, "speedup") == "1.00×"
    assert len(view.plotsWidget.scatterPoints.data) == 2
    assert view.statusLabel.text().startswith("Done: 2 of 3 rows measured, 1 failed")
    assert view.runButton.isEnabled() and view.progress.format() == "Done"

    view.referenceCombo.setCurrentIndex(view.referenceCombo.findData(2))
    assert cell(view, 2, "status") == "reference" and cell(view, 2, "speedup") == "1.00×"

    for suffix in ("json", "csv", "png"):
        view.export(tmp_path / f"run.{suffix}")
    saved = json.loads((tmp_path / "run.json").read_text())
    assert saved["outcome"] == "done" and len(saved["rows"][0]["samples"]) == 3
    import csv
    rows = list(csv.DictReader((tmp_path / "run.csv").read_text().splitlines()))
    assert rows[2]["reference"] == "True"  # the chosen reference
    assert (tmp_path / "run.png").stat().st_size > 1000

    other = make_view(start=False)
    with qtbot.waitSignal(other.fileShown):
        other.open_run(tmp_path / "run.json")
    assert other.tableModel.rowCount() == 3 and cell(other, 0, "status") == "reference"
    assert "run.json" in other.statusLabel.text()
    other.show_diff(compare_data.load_run(tmp_path / "run.json"), "again.json")
    assert not other.diffTable.isHidden() and other.diffModel.rowCount() == 3
    assert other.diffModel.text(0, 4) == "+0%"


@slow
def test_cancel_keeps_the_finished_rows(qtbot, make_view, bert_dir):
    bert = ModelEntry.for_folder(bert_dir, "classification")
    view = make_view([LadderMember(bert, Variant())] * 3)
    view.qualityCheck.setChecked(False)
    view.minSecondsSpin.setValue(1.0)
    with qtbot.waitSignal(view.host.jobFinished, timeout=120_000) as blocker:
        qtbot.mouseClick(view.runButton, Qt.MouseButton.LeftButton)
        assert view.cancelButton.isEnabled() and not view.runButton.isEnabled()
        qtbot.waitUntil(lambda: view.run is not None and view.run["rows"][0]["status"] == "done", timeout=60_000)
        qtbot.mouseClick(view.cancelButton, Qt.MouseButton.LeftButton)
    assert blocker.args[0].outcome == "cancelled"
    assert [cell(view, r, "status") for r in range(3)] == ["reference", "cancelled", "cancelled"]
    assert view.statusLabel.text().startswith("Cancelled: 1 of 3 rows measured")


@slow
def test_a_run_that_cannot_start_says_why(qtbot, make_view, bert_dir):
    view = make_view([LadderMember(ModelEntry.for_folder(bert_dir, "classification"), Variant())])
    view.deviceCombo.addItem("cuda:7 · gone", "cuda:7")  # listed once, unplugged since
    view.deviceCombo.setCurrentIndex(view.deviceCombo.count() - 1)
    with qtbot.waitSignal(view.errorRaised, timeout=60_000) as blocker:
        assert run_and_wait(qtbot, view) == "failed"
    assert "cuda:7" in blocker.args[0] and "cuda:7" in view.statusLabel.text()
    assert view.progress.format() == "Failed" and view.runButton.isEnabled()


def test_export_button_adds_the_chosen_suffix(qtbot, make_view, tmp_path, monkeypatch):
    view = make_view(start=False)
    view.show_run(_empty_run(), "empty.json")
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda *args, **kwargs: (str(tmp_path / "table"), "CSV table (*.csv)"))
    qtbot.mouseClick(view.exportButton, Qt.MouseButton.LeftButton)
    assert (tmp_path / "table.csv").read_text().startswith("index,model,variant,status")


def _empty_run() -> dict:
    return {"schema": compare_data.SCHEMA, "outcome": "cancelled", "environment": {}, "peak_gflops": 1.0, "peak_method": "",
            "request": {"protocol": {}, "sweep": None, "device": "cpu"}, "rows": []}


def test_bad_files_and_uncached_hub_ladders(qtbot, make_view, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    view = make_view(start=False)
    ladders = [view.ladderCombo.itemData(i) for i in range(view.ladderCombo.count())]
    assert "bundled-depths" in ladders and "synthetic-bert" in ladders
    assert not any(ladder.startswith("hub-") for ladder in ladders)
    assert not view.runButton.isEnabled()  # until the engine is up
    (tmp_path / "notes.json").write_text("[1, 2]")
    with qtbot.waitSignal(view.errorRaised) as blocker:
        view.open_run(tmp_path / "notes.json")
    assert "not a saved comparison" in blocker.args[0]
    assert "not a saved comparison" in view.statusLabel.text()


@slow
def test_an_engine_that_dies_mid_run_ends_the_unfinished_rows(qtbot, make_view, bert_dir):
    """The engine process ends at row 2 (a crash, the out-of-memory killer): row 1 is kept, and the rows
    it never finished read "not run" instead of staying "running" and "pending" for good."""
    bert = ModelEntry.for_folder(bert_dir, "classification")
    view = make_view([LadderMember(bert, Variant()), LadderMember(bert, Variant(int8=True)),
                      LadderMember(bert, Variant(layers=1))], engine_factory=partial(engine_that_dies_at_row, 1))
    assert run_and_wait(qtbot, view) == "failed"
    assert [row["status"] for row in view.run["rows"]] == ["done", "not run", "not run"]
    assert [cell(view, r, "status") for r in range(3)] == ["reference", "not run", "not run"]
    assert "stopped unexpectedly" in view.statusLabel.text()
    assert view.runButton.isEnabled()


@slow
def test_a_big_saved_run_is_read_off_the_ui_thread_with_progress(qtbot, make_view, tmp_path):
    """Opening a run of 20,000 rows froze the window for minutes: it is read and checked on a thread,
    the progress bar is busy meanwhile, and the table fills when it is done. A stale read is dropped."""
    from tests.benchmarks.open_big_run import ladder_rows

    path = tmp_path / "big.json"
    compare_data.save_run(path, ladder_rows(2000))
    view = make_view(start=False)
    with qtbot.waitSignal(view.fileShown, timeout=60_000):
        view.open_run(path)
        # open_run has returned, and the UI thread has not read the file: the table is still empty
        assert view.tableModel.rowCount() == 0 and view.progress.maximum() == 0 and not view.openButton.isEnabled()
    assert view.tableModel.rowCount() == 2000 and view.progress.maximum() == 1000 and view.openButton.isEnabled()
    # every row is on this ladder's frontier: 20 of them are labelled and named, not 2,000
    assert len(view.plotsWidget._scatter_labels) == 20 and "and 1,980 more" in view.plotsWidget.scatterNote.text()

    (tmp_path / "deep.json").write_bytes(b"[" * 100_000 + b"]" * 100_000)
    with qtbot.waitSignal(view.errorRaised, timeout=60_000) as blocker:
        view.open_run(path)  # stale: the next read replaces it
        view.open_run(tmp_path / "deep.json")
    assert "nests deeper than" in blocker.args[0] and view.openButton.isEnabled()


# ---------------------------------------------------------------- a made-up run, no engine (issue 13)


def made_up_ladder(sweep: bool = False) -> dict:
    """Five models in fp32 and int8, as in a bundled ladder: int8 faster, a little worse, using more RSS."""
    from tests.core.test_compare import made_up_row, made_up_run

    rows = []
    for n, (name, params, p50, mib, accuracy) in enumerate([
            ("MiniLM-L12", 33_000_000, 0.060, 130, 0.882), ("MiniLM-L6", 22_700_000, 0.031, 90, 0.873),
            ("MiniLM-L3", 17_000_000, 0.016, 70, 0.84), ("bert-tiny", 4_400_000, 0.004, 30, 0.77),
            ("distilbert", 66_000_000, 0.090, 260, 0.89)]):
        for int8 in (False, True):
            row = made_up_row(len(rows), name, params, p50 / (1.6 if int8 else 1), int(mib * (1.36 if int8 else 1)) << 20,
                              accuracy - (0.004 if int8 else 0), ["a", "b"], variant="int8" if int8 else "fp32")
            row["model"] |= {"variant": {"precision": "fp32", "int8": int8}, "task": "classification"}
            if sweep and n < 2:
                row["sweep"] = [{"value": v, "latency": {"p50": p50 * v / 128}} for v in (32, 64, 128)]
            rows.append(row)
    run = made_up_run(rows) | {"environment": {"cpu": "AMD EPYC 7B13"}}
    if sweep:
        run["request"]["sweep"] = {"axis": "seq_len", "values": [32, 64, 128]}
    return run


@pytest.fixture
def shown_view(qtbot, make_view):
    def show(run):
        view = make_view(start=False)
        view.resize(1280, 680)
        view.show()
        qtbot.waitExposed(view)
        view.show_run(run, "made-up.json")
        QApplication.processEvents()  # the plots' layout requests: the view boxes get their final geometry
        view.grab()  # painted: the labels have their places
        return view

    return show


def test_every_bubble_says_what_it_is_and_no_labels_overlap(qtbot, shown_view):
    view = shown_view(made_up_ladder())
    plots = view.plotsWidget
    rows = {row["index"]: row for row in compare_data.table(view.run)}
    points = plots.scatterPoints.points()
    assert len(points) == 10
    for point in points:
        row = rows[point.data()]
        tip = plots.scatterPoints.opts["tip"](x=point.pos().x(), y=point.pos().y(), data=point.data())
        assert tip.startswith(f"#{row['index'] + 1} {row['model']} [{row['variant']}]\n")
        for shown in ("p50 latency", " ms", "MiB", "quality", "%"):
            assert shown in tip

    # hovering a bubble off the frontier (no label) shows its tooltip
    hidden = next(p for p in points if not rows[p.data()]["frontier"])
    box = plots.scatter.getViewBox()
    at = plots.scatter.mapFromScene(box.mapViewToScene(QPointF(hidden.pos())))
    name = f"#{hidden.data() + 1} {rows[hidden.data()]['model']} [{rows[hidden.data()]['variant']}]"
    wiggle = iter(range(1_000_000))

    def hovered() -> bool:  # pyqtgraph drops mouse moves closer than 1/60 s apart: move until one counts
        qtbot.mouseMove(plots.scatter.viewport(), at + QPoint(next(wiggle) % 2, 0))
        return name in box.toolTip()  # with the bubbles it touches, if any

    qtbot.waitUntil(hovered)

    # frontier labels only, and none over another
    front = [row for row in rows.values() if row["frontier"]]
    assert len(plots._scatter_labels) == len(front) == 9
    shown = [label.sceneBoundingRect() for label in plots._scatter_labels if label.isVisible()]
    assert len(shown) >= 7
    assert all(box.sceneBoundingRect().contains(rect) for rect in shown)
    assert not any(a.intersects(b) for i, a in enumerate(shown) for b in shown[i + 1:])


def test_the_sweep_plot_is_shown_only_for_a_sweep(qtbot, shown_view):
    view = shown_view(made_up_ladder())
    plots = view.plotsWidget
    assert plots.sweepPlot.isHidden()  # "no sweep asked" took half the room
    assert plots.scatter.width() > 0.9 * plots.width()
    view.show_run(made_up_ladder(sweep=True), "swept.json")
    assert not plots.sweepPlot.isHidden()
    assert len(plots.sweepPlot.getPlotItem().listDataItems()) == 4
    view.show_run(made_up_ladder(), "made-up.json")
    assert plots.sweepPlot.isHidden()


def test_the_png_has_twice_the_pixels_the_settings_and_no_buttons(qtbot, shown_view, tmp_path):
    view = shown_view(made_up_ladder(sweep=True))
    plots = view.plotsWidget
    view.export(tmp_path / "plots.png")
    image = QImage(str(tmp_path / "plots.png"))
    assert image.width() == 2 * plots.width()
    assert image.height() > 2 * plots.scatter.height()  # and room for the caption and the note
    caption = compare_data.caption(view.run)
    assert "batch 1 · sequence length 128" in caption and "AMD EPYC 7B13" in caption
    assert image == QImage.fromData(view.png_bytes()) and plots.image(caption) != plots.image("other settings")

    item = plots.scatter.getPlotItem()
    item.mouseHovering = True  # the mouse over the plot: pyqtgraph shows its "A" (auto-range) button
    item.updateButtons()
    assert item.autoBtn.isVisible()
    with_button = plots.image(caption)
    assert item.autoBtn.isVisible()  # back on screen after the picture
    item.mouseHovering = False
    item.updateButtons()
    assert not item.autoBtn.isVisible()
    assert with_button == plots.image(caption)  # the button is not in the picture


@pytest.fixture
def umask():
    old = os.umask(0o022)
    yield os.umask
    os.umask(old)


def test_exports_are_written_with_one_mode(qtbot, make_view, tmp_path, umask):
    """JSON and CSV were 0600 (tempfile's mode) where the PNG was 0644: new files follow the umask,
    overwritten ones keep their mode, whatever the format."""
    view = make_view(start=False)
    view.show_run(made_up_ladder(), "made-up.json")
    names = ("run.json", "run.csv", "run.png")
    for mask, expected in ((0o022, 0o644), (0o027, 0o640)):
        umask(mask)
        for name in names:
            (tmp_path / name).unlink(missing_ok=True)
            view.export(tmp_path / name)
        assert {name: stat.S_IMODE(os.stat(tmp_path / name).st_mode) for name in names} == dict.fromkeys(names, expected)
    for name in names:
        (tmp_path / name).chmod(0o604)
        view.export(tmp_path / name)
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o604
