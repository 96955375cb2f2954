"""The window's comparison tables show core.columns' cells: the same text the CLI prints (no engine)."""

from PySide6.QtCore import Qt

from core import compare_data
from core.columns import SHOWN, diff_headers
from gui.compare_table import CompareTableModel, DiffTableModel
from tests.core.test_compare import made_up_row, made_up_run


def a_run():
    failed = {"index": 2, "status": "failed", "error": "boom", "model": {
        "id": "m/x", "name": "x", "synthetic": False, "variant": {}, "variant_label": "int8"}}
    return made_up_run([made_up_row(0, "big", 22_700_000, 0.0373, 87 << 20, 0.873, ["a", "b"]),
                        made_up_row(1, "small", 13_800_000, 0.0057, 53 << 20, 0.768, ["a", "c"]), failed])


def test_the_window_and_the_terminal_show_the_same_cells(qtbot):
    run = a_run()
    model = CompareTableModel()
    model.set_rows(compare_data.table(run))
    assert [model.headerData(i, Qt.Orientation.Horizontal) for i in range(model.columnCount())] == [column.title for column in SHOWN]
    text = compare_data.text_table(run).splitlines()
    for row in range(2):
        cells = [model.text(row, column) for column in range(model.columnCount())]
        assert text[row + 1].split() == " ".join(cells).split()  # same cells, whatever the padding
    assert model.text(0, model.column("params_total")) == "22.7 M"  # one formatter: core.columns
    assert model.text(0, model.column("status")) == "reference"
    assert model.text(1, model.column("speedup")) == "6.54×"
    assert model.text(2, model.column("status")) == "failed: boom" and model.text(2, model.column("p50_s")) == ""
    assert "failed: boom" in text[3]


def test_the_diff_has_the_columns_the_terminal_prints(qtbot):
    run = a_run()
    diff = compare_data.diff_runs(run, made_up_run(run["rows"][:2], seq_len=64))
    model = DiffTableModel()
    model.set_rows(diff["rows"])
    assert model.rowCount() == 3 and model.columnCount() == len(diff_headers())
    assert model.text(0, 4) == "+0%"
    lines = compare_data.text_diff(diff).splitlines()
    assert lines[1].split() == " ".join(diff_headers()).split()
    assert lines[2].split() == " ".join(model.text(0, c) for c in range(model.columnCount())).split()


def test_the_presenter_shows_a_saved_run_without_an_engine(qtbot):
    from gui.compare_presenter import ComparePresenter
    from gui.engine_host import EngineHost

    presenter = ComparePresenter(EngineHost())  # never started: showing a saved run needs no engine
    with qtbot.waitSignal(presenter.changed):
        presenter.show(a_run(), "saved.json")
    assert presenter.source == "saved.json" and not presenter.running()
    assert presenter.summary() == "2 of 3 rows measured, 1 failed"
    assert not presenter.cancel()
