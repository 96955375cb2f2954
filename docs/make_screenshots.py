"""Screenshots for README, taken from the real app with the real engine.

    python docs/make_screenshots.py        (offscreen; or under Xvfb with QT_QPA_PLATFORM=xcb)

Writes docs/classification.png, docs/continuous.png, docs/translation.png, docs/generation_streaming.png
(a synthetic GPT-2 mid-generation) and docs/generation.png (the same generation finished).
"""

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QCoreApplication, QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

OUT = Path(__file__).resolve().parent


def main() -> int:
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, tempfile.mkdtemp())
    app = QApplication([])
    QCoreApplication.setOrganizationName("ModelSizeLabScreens")
    app.setProperty("defaultPointSize", app.font().pointSize())
    from gui.main_window import MainWindow

    window = MainWindow()
    window.resize(1500, 950)
    window.show()
    steps = []

    def then(delay_ms, action):
        steps.append((delay_ms, action))

    def run_steps(*_):
        if steps:
            delay, action = steps.pop(0)
            QTimer.singleShot(delay, lambda: (action(), None))

    def shot(name):
        def take():
            window.grab().save(str(OUT / name))
            print("wrote", OUT / name)
            run_steps()
        return take

    def load(model_id=None, task=None, layers=None):
        def do():
            panel = window.modelPanel
            if task:
                panel.taskCombo.setCurrentIndex(panel.taskCombo.findData(task))
            if model_id:
                panel.select_model(model_id)
            if layers:
                panel.layersSpin.setValue(layers)
            panel.loadButton.click()
        return do

    def run_once(text):
        def do():
            window.runPanel.inputEdit.setPlainText(text)
            window.runPanel.runButton.click()
        return do

    window.host.jobFinished.connect(run_steps)
    then(100, load())
    then(100, run_once("The battery died after a week and support never answered my emails."))
    then(400, shot("classification.png"))
    then(100, lambda: (window.runPanel.runContinuousButton.click(), QTimer.singleShot(8000, shot("continuous.png"))))
    then(100, lambda: window.runPanel.stopButton.click())
    then(100, load("synthetic/marian-en-de", "translation"))
    then(100, run_once("The train to Berlin leaves at seven o'clock tomorrow morning."))
    then(400, shot("translation.png"))
    then(100, load("synthetic/gpt2", "generation"))

    def generate():
        def mid_stream(number, event):
            if event.index == 16:  # while tokens still arrive: the text and plots as they grow
                window.host.generated.disconnect(mid_stream)
                window.grab().save(str(OUT / "generation_streaming.png"))
                print("wrote", OUT / "generation_streaming.png")
        window.host.generated.connect(mid_stream)
        window.runPanel.maxTokensSpin.setValue(40)
        run_once("The lighthouse keeper opened her ledger and wrote")()
    then(100, generate)
    then(400, shot("generation.png"))
    then(100, lambda: (window.close(), app.quit()))

    def start(*_):
        run_steps()
    window.host.started.connect(start)
    app.exec()
    return 0


if __name__ == "__main__":
    sys.exit(main())
