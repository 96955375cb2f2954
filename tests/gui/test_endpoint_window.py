"""The window's Live view on an OpenAI-compatible endpoint: the real engine process talks to a real
HTTP server process on loopback (tests/endpoint_server.py); nothing is mocked at the HTTP edge."""

from PySide6.QtCore import Qt

from core.catalog import ModelEntry
from gui.endpoint_dialog import EndpointDialog
from tests.endpoint_server import running_server

server = running_server()


def test_the_dialog_never_takes_a_key_and_refuses_unsafe_urls(qtbot, monkeypatch):
    monkeypatch.setenv("MY_TEAM_KEY", "secret")
    dialog = EndpointDialog()
    qtbot.addWidget(dialog)
    dialog.urlEdit.setText("http://api.example.com/v1")
    dialog.modelEdit.setText("big-model")
    dialog.keyEnvEdit.setText("MY_TEAM_KEY")
    assert "is set" in dialog.keyState.text() and "secret" not in dialog.keyState.text()
    dialog.buttons.button(dialog.buttons.StandardButton.Ok).click()
    assert "unencrypted" in dialog.error.text() and dialog.entry() is None  # open still, nothing made
    dialog.urlEdit.setText("https://api.example.com/v1")
    dialog.buttons.button(dialog.buttons.StandardButton.Ok).click()
    entry = dialog.entry()
    assert entry.id == "endpoint/api.example.com/big-model" and entry.extra["key_env"] == "MY_TEAM_KEY"


def test_the_live_view_streams_from_an_endpoint_and_stop_closes_it(qtbot, make_window, server, monkeypatch):
    monkeypatch.setenv("TEST_ENDPOINT_KEY", "sekrit")  # before the engine process starts: it reads the key
    window = make_window()
    panel, run = window.modelPanel, window.runPanel
    panel.taskCombo.setCurrentIndex(panel.taskCombo.findData("generation"))
    assert panel.modelCombo.findData("__endpoint__", Qt.ItemDataRole.UserRole) >= 0
    panel.add_entry(ModelEntry.for_endpoint(server[0], "echo", key_env="TEST_ENDPOINT_KEY"))
    assert not panel.precisionCombo.isEnabled() and not panel.layersSpin.isEnabled()  # no lever of ours applies
    with qtbot.waitSignal(window.host.jobFinished, timeout=120_000):
        qtbot.mouseClick(panel.loadButton, Qt.MouseButton.LeftButton)
    assert not window.errorBanner.isVisible(), window.errorBanner.text()
    assert "Connected." in panel.card.text() and "127.0.0.1" in panel.card.text()
    assert not panel.precisionCombo.isEnabled()
    run.inputEdit.setPlainText("alpha beta gamma delta epsilon")
    run.maxTokensSpin.setValue(4)
    tokens = []
    window.session.tokenGenerated.connect(tokens.append)
    with qtbot.waitSignal(window.host.jobFinished, timeout=30_000):
        qtbot.mouseClick(run.runButton, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.historyModel.rowCount() == 1, timeout=5_000)
    assert [e.text for e in tokens][-1] == "alpha beta gamma delta" and len(tokens) == 4
    timing = run.resultView.timing.text()
    assert "TTFT" in timing and "4 tokens" in timing and "counted by the server" in timing
    # Stop mid-stream: the stream is closed and what arrived is kept
    panel.add_entry(ModelEntry.for_endpoint(server[0], "endless", key_env="TEST_ENDPOINT_KEY"))
    with qtbot.waitSignal(window.host.jobFinished, timeout=60_000):
        qtbot.mouseClick(panel.loadButton, Qt.MouseButton.LeftButton)
    run.maxTokensSpin.setValue(400)
    tokens.clear()
    window.session.tokenGenerated.connect(
        lambda token: token.index == 3 and qtbot.mouseClick(run.stopButton, Qt.MouseButton.LeftButton))
    with qtbot.waitSignal(window.host.jobFinished, timeout=30_000):
        qtbot.mouseClick(run.runButton, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.historyModel.rowCount() == 2, timeout=5_000)
    assert "stopped by the user" in run.resultView.timing.text() and len(tokens) < 100
