"""The window end to end with the real engine: the bundled model, and a Marian checkpoint built here."""

import numpy as np
import pytest
from PySide6.QtCore import Qt

from core.catalog import ModelEntry

pytestmark = pytest.mark.slow  # the real engine: torch and real models in the engine process


def load(qtbot, window, timeout=120_000):
    with qtbot.waitSignal(window.host.jobFinished, timeout=timeout):
        qtbot.mouseClick(window.modelPanel.loadButton, Qt.MouseButton.LeftButton)
    assert not window.errorBanner.isVisible(), window.errorBanner.text()


def test_classify_with_the_bundled_model(qtbot, make_window):
    window = make_window()
    panel = window.modelPanel
    assert panel.current_model_id() == "bundled/minilm-l6-sentiment"
    load(qtbot, window)
    assert "Loaded" in panel.card.text() and "22.7 M" in panel.card.text()
    window.runPanel.inputEdit.setPlainText("This is the worst purchase I have ever made. It broke in a day.")
    with qtbot.waitSignal(window.host.jobFinished, timeout=30_000):
        qtbot.keyClick(window.runPanel.inputEdit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.historyModel.rowCount() == 1, timeout=5_000)
    description = window.runPanel.resultView.accessibleDescription()
    assert description.startswith("negative, "), description
    assert window.latencyPlot.points() >= 1
    qtbot.waitUntil(lambda: len(window.memoryPlot.values("RSS")[1]) >= 2, timeout=5_000)
    assert max(window.memoryPlot.values("RSS")[1]) > 50 * 2**20


def test_continuous_run_then_stop(qtbot, make_window):
    window = make_window()
    window.modelPanel.layersSpin.setValue(1)
    load(qtbot, window)
    assert "1 of 6" in window.modelPanel.card.text()
    qtbot.mouseClick(window.runPanel.runContinuousButton, Qt.MouseButton.LeftButton)
    plot = window.latencyPlot
    # The rolling p50 gets one point per latency-plot frame (10 Hz), each over the newest requests.
    qtbot.waitUntil(lambda: len(plot.values(plot.P50)[0]) > 5, timeout=30_000)
    with qtbot.waitSignal(window.host.jobFinished, timeout=10_000):
        qtbot.mouseClick(window.runPanel.stopButton, Qt.MouseButton.LeftButton)
    _, requests = plot.values("request")
    _, p50 = plot.values(plot.P50)
    assert len(requests) > len(p50) and np.all(np.asarray(p50) > 0)
    assert window.runPanel.runButton.isEnabled()


def test_translation_streams_on_a_marian_checkpoint(qtbot, make_window, marian_dir):
    window = make_window()
    panel = window.modelPanel
    panel.taskCombo.setCurrentIndex(panel.taskCombo.findData("translation"))
    panel.add_entry(ModelEntry.for_folder(marian_dir, "translation"))
    load(qtbot, window)
    window.runPanel.maxTokensSpin.setValue(12)
    streamed = []
    with qtbot.waitSignal(window.host.jobFinished, timeout=30_000):
        qtbot.mouseClick(window.runPanel.runButton, Qt.MouseButton.LeftButton)
        window.session.run_job.streamed.connect(lambda event: streamed.append(event.text))
    qtbot.waitUntil(lambda: window.historyModel.rowCount() == 1, timeout=5_000)
    assert len(streamed) >= 2
    assert "first token" in window.runPanel.resultView.timing.text()
    assert window.runPanel.resultView.accessibleDescription() == streamed[-1]


def test_settings_are_restored(qtbot, make_window):
    window = make_window()
    panel = window.modelPanel
    panel.int8Check.setChecked(True)
    panel.layersSpin.setValue(3)
    panel.threadsSpin.setValue(1)
    window.windowSpin.setValue(42)
    window.close()
    again = make_window()
    assert again.modelPanel.int8Check.isChecked()
    assert again.modelPanel.layersSpin.value() == 3
    assert again.modelPanel.threadsSpin.value() == 1
    assert again.windowSpin.value() == 42


@pytest.mark.slow  # builds a checkpoint and starts a real engine process
def test_generation_streams_token_by_token_and_stops_within_one(qtbot, make_window, tmp_path):
    from tests.builders import causal_lm_folder

    window = make_window()
    panel = window.modelPanel
    panel.taskCombo.setCurrentIndex(panel.taskCombo.findData("generation"))
    panel.add_entry(ModelEntry.for_folder(causal_lm_folder(tmp_path, "llama"), "generation"))
    load(qtbot, window)
    run = window.runPanel
    assert run.samplingOptions.isVisibleTo(run) and not run.beamsSpin.isVisibleTo(run)
    run.maxTokensSpin.setValue(10)
    tokens = []
    window.session.tokenGenerated.connect(tokens.append)
    with qtbot.waitSignal(window.host.jobFinished, timeout=60_000):
        qtbot.mouseClick(run.runButton, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.historyModel.rowCount() == 1, timeout=5_000)
    assert [e.index for e in tokens] == list(range(1, len(tokens) + 1)) and 1 <= len(tokens) <= 10
    timing = run.resultView.timing.text()
    assert "TTFT" in timing and f"{len(tokens)} tokens" in timing and "stopped:" in timing
    assert len(window.latencyPlot.values(window.latencyPlot.TOKEN)[1]) == len(tokens)
    kv = window.memoryPlot.values(window.memoryPlot.KV)[1]
    assert len(kv) == len(tokens) and kv == sorted(kv)  # the KV line grows with the context
    # Stop: a long forced generation ends within one token of the Stop
    run.maxTokensSpin.setValue(100)
    run.inputEdit.setPlainText("the cat sat on the mat " * 3)
    tokens.clear()
    window.session.tokenGenerated.connect(
        lambda token: token.index == 3 and qtbot.mouseClick(run.stopButton, Qt.MouseButton.LeftButton))
    with qtbot.waitSignal(window.host.jobFinished, timeout=60_000):
        qtbot.mouseClick(run.runButton, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.historyModel.rowCount() == 2, timeout=5_000)
    assert "stopped by the user" in run.resultView.timing.text()
    assert len(tokens) < 100
