"""The Compare view driven like a user would, on the real engine and small checkpoints built here."""

import json
from functools import partial

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from core import compare_data
from core.catalog import Ladder, LadderMember, ModelEntry, load_catalog
from core.variants import Variant
from gui.compare_view import CompareView
from gui.engine_host import EngineHost

from .engine_edges import engine_that_dies_at_row

pytestmark = pytest.mark.slow  # real Compare runs in a real engine process


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
