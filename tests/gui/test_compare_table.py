"""The window's comparison tables show core.columns' cells: the same text the CLI prints (no engine)."""

from PySide6.QtCore import Qt

from core import compare_data
from core.columns import SHOWN, diff_headers
from gui.compare_table import CompareTableModel, DiffTableModel, FrozenColumnTable, frozen_count
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


# ---------------------------------------------------------------- issue 13


def a_wide_run(rows=30):
    """A run of fp32 and int8 rows, the int8 ones using more memory than the reference."""
    made = []
    for i in range(rows):
        row = made_up_row(i, f"model-{i // 2}", 30_000_000 - i, 0.04 / (1 + i), 100 << 20, 0.9 - i / 100, ["a"],
                          variant="int8" if i % 2 else "fp32")
        row["model"]["variant"] = {"precision": "fp32", "int8": bool(i % 2)}
        if i % 2:
            row["memory_bytes"] = 136 << 20
            row["efficiency"] = {"gflops": 34.0, "fraction_of_peak": 1.7}
        made.append(row)
    return made_up_run(made)


def shown_table(qtbot, rows):
    model = CompareTableModel()
    table = FrozenColumnTable(frozen_count(), objectName="compareTable")
    table.setModel(model)
    qtbot.addWidget(table)
    table.resize(500, 240)
    table.show()
    qtbot.waitExposed(table)
    model.set_rows(rows)
    table.resizeColumnsToContents()
    # the scroll ranges follow the rows at the next layout pass
    qtbot.waitUntil(lambda: table.verticalScrollBar().maximum() > 0 and table.horizontalScrollBar().maximum() > 0)
    return table, model


def test_the_model_and_variant_columns_stay_when_the_table_scrolls(qtbot):
    table, model = shown_table(qtbot, compare_data.table(a_wide_run()))
    frozen = table.frozenView
    assert frozen_count() == 3 and [SHOWN[c].key for c in range(3)] == ["index", "model", "variant"]
    assert frozen.isVisible() and frozen.model() is model and frozen.selectionModel() is table.selectionModel()
    assert [frozen.isColumnHidden(c) for c in range(model.columnCount())] == [False] * 3 + [True] * (model.columnCount() - 3)
    assert frozen.width() == sum(table.columnWidth(c) for c in range(3))

    bar = table.horizontalScrollBar()
    bar.setValue(bar.maximum())
    assert bar.value() > 0
    assert table.columnViewportPosition(1) < 0  # the table's own model column has scrolled away...
    assert frozen.columnViewportPosition(1) == table.columnWidth(0)  # ...the frozen one has not
    assert frozen.horizontalScrollBar().value() == 0

    table.verticalScrollBar().setValue(table.verticalScrollBar().maximum())
    assert table.verticalScrollBar().value() > 0
    assert frozen.verticalScrollBar().value() == table.verticalScrollBar().value()
    assert frozen.rowViewportPosition(29) == table.rowViewportPosition(29)
    table.setRowHeight(29, 50)
    assert frozen.rowHeight(29) == 50
    table.setColumnWidth(1, 150)
    assert frozen.columnWidth(1) == 150 and frozen.width() == sum(table.columnWidth(c) for c in range(3))

    # one Tab stop: the frozen view takes no focus, and Tab leaves the table instead of walking its cells
    assert frozen.focusPolicy() == Qt.FocusPolicy.NoFocus
    assert not table.tabKeyNavigation() and not frozen.tabKeyNavigation()


def test_scrolling_to_a_cell_keeps_it_out_from_under_the_frozen_columns(qtbot):
    table, model = shown_table(qtbot, compare_data.table(a_wide_run()))
    table.horizontalScrollBar().setValue(table.horizontalScrollBar().maximum())
    target = model.index(0, 3)  # the first column right of the frozen ones
    table.scrollTo(target)
    assert table.visualRect(target).x() >= table.frozenView.width()
    before = table.horizontalScrollBar().value()
    table.scrollTo(model.index(20, 1))  # a frozen cell: the row comes into view, the columns stay put
    assert table.horizontalScrollBar().value() == before
    assert table.rowViewportPosition(20) >= 0


def test_of_peak_and_mem_saved_explain_themselves(qtbot):
    model = CompareTableModel()
    model.set_rows(compare_data.table(a_wide_run(4)))
    peak, saved = model.column("fraction_of_peak"), model.column("memory_saving")
    tip = Qt.ItemDataRole.ToolTipRole
    assert model.text(0, peak) == "50%" and model.text(1, peak) == "n/a"  # int8 read 170% of the fp32 peak
    assert "fp32 matmul peak" in model.data(model.index(1, peak), tip)
    assert model.data(model.index(0, peak), tip) is None
    assert model.text(1, saved) == "-36%"
    assert model.data(model.index(1, saved), tip) == (
        "Negative: 36% more memory than the reference row (#1 model-0 [fp32]).")
    header = model.headerData(saved, Qt.Orientation.Horizontal, tip)
    assert "Negative" in header and header.endswith("The reference row now: #1 model-0 [fp32].")


def test_the_diff_shows_quality_as_the_table_does(qtbot):
    run = a_run()
    table = CompareTableModel()
    table.set_rows(compare_data.table(run))
    diff = DiffTableModel()
    diff.set_rows(compare_data.diff_runs(run, run)["rows"])
    quality_a = diff_headers().index("quality A")
    assert diff.text(0, quality_a) == table.text(0, table.column("quality")) == "87.3%"  # was 0.873
    assert diff.text(0, quality_a + 2) == "+0.0 pts"
