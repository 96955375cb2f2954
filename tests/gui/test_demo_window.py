"""The window as a demo uses it (issue 13): Run runs what the panel shows, nothing the user did is lost,
stale results go, it fits a projector, presenter mode, the keyboard. Against the fake engine (the only
stand-in, at the engine's edge); what it did is read back from its file.
"""

from functools import partial

from PySide6.QtCore import Qt
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QApplication

from core.catalog import DEFAULT_MODEL_ID
from core.errors import ModelSourceError
from core.records import RunRecord

from .fake_engine import FakeEngine

OTHER_CLASSIFIER = "synthetic/bert-tiny"


def load(qtbot, window):
    with qtbot.waitSignal(window.host.jobFinished, timeout=10_000):
        qtbot.mouseClick(window.modelPanel.loadButton, Qt.MouseButton.LeftButton)


def run_once(qtbot, window):
    """Run, and wait until the window has shown the result (it takes records in at its redraw)."""
    rows = window.historyModel.rowCount()
    with qtbot.waitSignal(window.session.runFinished, timeout=10_000):
        qtbot.mouseClick(window.runPanel.runButton, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.historyModel.rowCount() > rows, timeout=5_000)


def choose(window, task=None, model_id=None):
    panel = window.modelPanel
    if task:
        panel.taskCombo.setCurrentIndex(panel.taskCombo.findData(task))
    if model_id:
        assert panel.select_model(model_id)


def test_run_loads_what_the_panel_shows_first(qtbot, make_window, tmp_path):
    """The bug: with MiniLM loaded, Task -> Translation left Run enabled, and it answered "positive, 99%"."""
    counts = tmp_path / "counts.json"
    window = make_window(partial(FakeEngine, counts))
    load(qtbot, window)
    assert window.session.summary.task == "classification" and not window.runPanel.loadFirstHint.isVisible()
    choose(window, task="translation")
    assert window.runPanel.loadFirstHint.isVisible()
    assert "Marian" in window.runPanel.loadFirstHint.text() or "marian" in window.runPanel.loadFirstHint.text()
    with qtbot.waitSignal(window.session.runFinished, timeout=10_000):
        qtbot.mouseClick(window.runPanel.runButton, Qt.MouseButton.LeftButton)
    assert window.session.summary.task == "translation"  # it loaded the panel's model, then ran it
    assert window.session.loaded_request == window.modelPanel.load_request()
    assert FakeEngine.counts(counts)["loads"] == 2 and FakeEngine.counts(counts)["runs"] == 1
    assert not window.runPanel.loadFirstHint.isVisible()


def test_a_variant_change_is_loaded_before_it_runs(qtbot, make_window, tmp_path):
    counts = tmp_path / "counts.json"
    window = make_window(partial(FakeEngine, counts))
    load(qtbot, window)
    window.modelPanel.int8Check.setChecked(True)
    assert "int8" in window.runPanel.loadFirstHint.text()
    window.modelPanel.int8Check.setChecked(False)  # back to what is loaded: nothing to load
    assert not window.runPanel.loadFirstHint.isVisible()


def test_a_failed_load_keeps_the_model_that_worked(qtbot, make_window, tmp_path):
    counts = tmp_path / "counts.json"
    window = make_window(partial(FakeEngine, counts, fail_model=OTHER_CLASSIFIER,
                                 load_error=ModelSourceError("Could not download x: the hub is unreachable")))
    load(qtbot, window)
    working = window.session.loaded_request
    choose(window, model_id=OTHER_CLASSIFIER)
    load(qtbot, window)
    assert "unreachable" in window.errorBanner.text()
    assert window.session.summary is not None and window.session.loaded_request == working
    assert window.modelPanel.current_model_id() == DEFAULT_MODEL_ID  # the panel shows the model still loaded
    assert "still loaded" in window.modelPanel.loadProgress.format()
    assert FakeEngine.counts(counts)["unloads"] == 0
    run_once(qtbot, window)  # and it runs, with no load first
    assert FakeEngine.counts(counts) == {"loads": 1, "runs": 1, "unloads": 0}


def test_a_folder_that_fails_to_load_is_taken_off_the_list(qtbot, make_window, tmp_path):
    from core.catalog import ModelEntry

    window = make_window(partial(FakeEngine, load_error=ModelSourceError("tmp is not a transformers checkpoint")))
    entry = ModelEntry.for_folder(str(tmp_path), "classification")
    window.modelPanel.add_entry(entry)
    assert window.modelPanel.modelCombo.findData(entry.id) >= 0
    load(qtbot, window)
    assert window.modelPanel.modelCombo.findData(entry.id) < 0
    assert "not a transformers checkpoint" in window.errorBanner.text()


def test_the_users_text_survives_loads_and_task_switches(qtbot, make_window):
    window = make_window(partial(FakeEngine))
    edit = window.runPanel.inputEdit
    mine = "Mediocre pasta, but the waiter made our evening."
    edit.setPlainText(mine)
    load(qtbot, window)
    choose(window, task="translation")
    assert edit.toPlainText() == mine
    choose(window, task="classification")
    window.modelPanel.int8Check.setChecked(True)
    load(qtbot, window)
    assert edit.toPlainText() == mine
    # An example of the same task is the user's choice too: loading a variant keeps it.
    window.runPanel.examplesCombo.setCurrentIndex(3)
    window.runPanel.examplesCombo.activated.emit(3)
    example = edit.toPlainText()
    window.modelPanel.int8Check.setChecked(False)
    load(qtbot, window)
    assert edit.toPlainText() == example
    # Another task's example gives way to this task's: it would be nonsense input.
    choose(window, task="generation")
    assert edit.toPlainText() != example and edit.toPlainText()


def test_stale_results_are_greyed_then_cleared(qtbot, make_window):
    window = make_window(partial(FakeEngine))
    load(qtbot, window)
    run_once(qtbot, window)
    view = window.runPanel.resultView
    assert view.isEnabled() and "positive" in view.headline.text()
    window.runPanel.inputEdit.insertPlainText(" Edited.")
    assert not view.isEnabled()  # greyed: the text changed since
    choose(window, task="translation")
    assert view.headline.text() == "No result yet."  # another task: the old bars would mislead


def test_a_new_model_clears_the_result_of_the_one_before(qtbot, make_window):
    window = make_window(partial(FakeEngine))
    load(qtbot, window)
    run_once(qtbot, window)
    choose(window, model_id=OTHER_CLASSIFIER)
    load(qtbot, window)
    assert window.runPanel.resultView.headline.text() == "No result yet."


def test_pinned_result_sits_beside_the_next(qtbot, make_window):
    window = make_window(partial(FakeEngine))
    load(qtbot, window)
    run_once(qtbot, window)
    panel = window.runPanel
    assert not panel.pinnedView.isVisible()
    qtbot.mouseClick(panel.pinButton, Qt.MouseButton.LeftButton)
    assert panel.pinnedView.isVisible() and "Pinned" in panel.pinnedCaption.text() and "fp32" in panel.pinnedCaption.text()
    choose(window, model_id=OTHER_CLASSIFIER)
    run_once(qtbot, window)  # loads the other model first, then runs the same text
    assert panel.pinnedView.isVisible()
    assert "against pinned" in panel.sideBySide.text() and ("faster" in panel.sideBySide.text()
                                                            or "slower" in panel.sideBySide.text())
    window.presenterAction.trigger()  # both headlines grow alike
    assert panel.pinnedView.headline.font().pointSizeF() == panel.resultView.headline.font().pointSizeF()
    window.presenterAction.trigger()
    qtbot.mouseClick(panel.unpinButton, Qt.MouseButton.LeftButton)
    assert not panel.pinnedView.isVisible()


def test_the_error_banner_goes_when_the_user_moves_on_and_moves_nothing(qtbot, make_window):
    window = make_window(partial(FakeEngine, load_error=ModelSourceError("The weights in x cannot be read")))
    tabs_top = window.tabs.mapTo(window, window.tabs.rect().topLeft())
    load(qtbot, window)
    assert window.errorBanner.isVisible()
    assert window.tabs.mapTo(window, window.tabs.rect().topLeft()) == tabs_top  # nothing was pushed down
    qtbot.keyClicks(window.runPanel.inputEdit, "x")
    assert not window.errorBanner.isVisible()
    window.show_error("again")
    window.tabs.setCurrentIndex(1)
    assert not window.errorBanner.isVisible()
    window.tabs.setCurrentIndex(0)
    window.show_error("and again")
    qtbot.mouseClick(window.errorBanner.closeButton, Qt.MouseButton.LeftButton)
    assert not window.errorBanner.isVisible()


def test_a_long_error_is_whole_in_the_banner_and_short_in_the_status_bar(qtbot, make_window):
    window = make_window(partial(FakeEngine))
    message = "Could not download owner/model: " + "the hub is unreachable from here " * 8
    window.show_error(message)
    assert message in window.errorBanner.text()
    status = window.statusBar().currentMessage()
    assert status.endswith("…") and len(status) <= 90


def test_focus_stays_in_the_text_box_after_run(qtbot, make_window):
    window = make_window(partial(FakeEngine))
    load(qtbot, window)
    window.activateWindow()
    window.runPanel.inputEdit.setFocus()
    qtbot.waitUntil(window.runPanel.inputEdit.hasFocus, timeout=2_000)
    run_once(qtbot, window)
    assert QApplication.focusWidget() is window.runPanel.inputEdit
    assert window.runPanel.runButton.focusPolicy() == Qt.FocusPolicy.TabFocus  # a click does not take it


def test_one_tab_stop_per_table_and_none_on_the_plots(qtbot, make_window):
    window = make_window(partial(FakeEngine))
    assert not window.historyTable.tabKeyNavigation()
    assert all(plot.focusPolicy() == Qt.FocusPolicy.NoFocus for plot in window.plots)


def test_history_follows_the_newest_row(qtbot, make_window):
    window = make_window(partial(FakeEngine, run_seconds=0.001))
    window.resize(1280, 690)
    load(qtbot, window)
    qtbot.mouseClick(window.runPanel.runContinuousButton, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.historyModel.rowCount() > 60, timeout=10_000)
    with qtbot.waitSignal(window.session.runFinished, timeout=5_000):
        window.runPanel.stopButton.click()
    qtbot.wait(300)
    table = window.historyTable
    assert table.height() >= 4 * table.verticalHeader().defaultSectionSize()  # more than 2 rows in view
    last = window.historyModel.rowCount() - 1
    qtbot.waitUntil(lambda: table.rowAt(table.viewport().height() - 2) in (last, -1)
                    and table.rowAt(0) > 0, timeout=3_000)


def test_the_window_fits_a_1280x720_projector(qtbot, make_window):
    window = make_window(partial(FakeEngine))
    hint = window.minimumSizeHint()
    assert hint.width() <= 1280 and hint.height() <= 680, hint  # 720 less the title bar
    window.resize(1280, 680)
    window.presenterAction.trigger()
    hint = window.minimumSizeHint()
    assert hint.width() <= 1280 and hint.height() <= 680, hint  # bigger text, fewer controls
    window.presenterAction.trigger()


def test_presenter_mode_enlarges_text_and_plots_and_hides_controls(qtbot, make_window):
    window = make_window(partial(FakeEngine))
    points = QApplication.font().pointSize()
    window.presenterAction.trigger()
    assert window.presenterAction.isChecked()
    assert QApplication.font().pointSize() >= points * 1.5
    assert not window.modelScroll.isVisible() and not window.historyWidget.isVisible()
    assert window.latencyPlot.getAxis("left").label.font().pointSize() >= points * 1.4
    window.presenterAction.trigger()
    assert QApplication.font().pointSize() == points
    assert window.modelScroll.isVisible() and window.historyWidget.isVisible()


def test_a_warning_shows_its_apostrophe_not_an_entity(qtbot):
    from gui.run_panel import ResultView

    view = ResultView()
    qtbot.addWidget(view)
    record = RunRecord(model_name="m", variant_label="fp32", device="cpu", task="classification", input_chars=9,
                       input_tokens=512, latency=0.01, phases={"model": 0.01}, summary="positive, 57%",
                       scores={"negative": 0.43, "positive": 0.57},
                       warnings=["Cut to the model's limit of 512 tokens."], uncertain=True)
    view.show_record(record)
    assert view.notes.textFormat() == Qt.TextFormat.RichText
    shown = QTextDocument()
    shown.setHtml(view.notes.text())
    assert "model's limit" in shown.toPlainText() and "&#x27;" not in shown.toPlainText()
    assert "Low confidence" in shown.toPlainText()  # 57% is a guess, and the window says so
    assert view._bar_rows["positive"].text() == "57%"  # the bar rounds as the headline does


def test_help_lists_shortcuts_and_the_version(qtbot, make_window, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from core import __version__

    window = make_window(partial(FakeEngine))
    shown = []
    monkeypatch.setattr(QMessageBox, "information", lambda parent, title, text: shown.append(text))
    monkeypatch.setattr(QMessageBox, "about", lambda parent, title, text: shown.append(text))
    titles = [action.text() for action in window.menuBar().actions()[-1].menu().actions()]
    assert "&Keyboard shortcuts" in titles and "&Read the README" in titles
    window.menuBar().actions()[-1].menu().actions()[0].trigger()
    window.menuBar().actions()[-1].menu().actions()[-1].trigger()
    assert "Ctrl+Enter" in shown[0] and "F5" in shown[0]
    assert __version__ in shown[1]


def test_larger_text_enlarges_the_plots_and_keeps_the_model_panel_whole(qtbot, make_window):
    window = make_window(partial(FakeEngine))
    before = window.latencyPlot.getAxis("bottom").label.font().pointSize()
    for _ in range(3):
        window._scale_font(+2)
    qtbot.waitUntil(lambda: window.modelScroll.minimumWidth() >= window.modelPanel.minimumSizeHint().width(),
                    timeout=2_000)
    assert window.latencyPlot.getAxis("bottom").label.font().pointSize() > before
    window._scale_font(0)


def test_the_plot_image_is_twice_the_plots_with_a_caption_and_no_toolbar(qtbot, make_window, tmp_path):
    window = make_window(partial(FakeEngine))
    load(qtbot, window)
    image = window.plots_image()
    plots = window.plotSplitter
    assert image.width() == 2 * plots.width()  # the plots only: the toolbar is as wide, but not as tall
    assert 2 * plots.height() < image.height() < 2 * (plots.height() + window.plotBar.height() + 60)
    caption = window._export_caption()
    assert window.session.summary.name in caption and "machine" in caption and "cores" in caption


def test_the_plot_picture_is_written_like_every_export(qtbot, make_window, tmp_path, monkeypatch):
    """Through core.safe_files: a FIFO at the chosen path is refused with a message (QImage.save would
    have opened it and waited for a reader), and a PNG lands at a regular path."""
    import os

    from PySide6.QtWidgets import QFileDialog

    window = make_window(partial(FakeEngine))
    fifo = tmp_path / "plots.png"
    os.mkfifo(fifo)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(fifo), ""))
    window._on_export_plot_png()
    assert "Export failed" in window.errorBanner.text()
    target = tmp_path / "real.png"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(target), ""))
    window._on_export_plot_png()
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
