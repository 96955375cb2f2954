"""Screenshots for README, taken from the real app with the real engine, at a projector's 1280x720.

    python docs/make_screenshots.py        (offscreen; or under Xvfb with QT_QPA_PLATFORM=xcb)

Writes, from one session of the window:
  docs/classification.png          the bundled model, one sentence
  docs/continuous.png              running continuously: the live plots and their numbers
  docs/presenter.png               presenter mode (F5): fp32 pinned beside int8, the same sentence
  docs/translation.png             a synthetic Marian (random weights: timing only)
  docs/generation_streaming.png    a synthetic GPT-2 mid-generation
  docs/generation.png              the same generation finished
  docs/compare.png                 the Compare tab after the bundled ladder (short protocol)
"""

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QCoreApplication, QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

OUT = Path(__file__).resolve().parent
SIZE = (1280, 720)


def main() -> int:
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, tempfile.mkdtemp())
    app = QApplication([])
    QCoreApplication.setOrganizationName("ModelSizeLabScreens")
    app.setProperty("defaultPointSize", app.font().pointSize())
    from gui.main_window import MainWindow

    window = MainWindow()
    window.resize(*SIZE)
    window.show()
    panel, run = window.modelPanel, window.runPanel
    steps = []  # (action, the signal that says it is done, or None to go on after a pause)

    def then(action, done=None):
        steps.append((action, done))

    def next_step(*_):
        if not steps:
            window.close()
            app.quit()
            return
        action, done = steps.pop(0)
        if done is None:
            QTimer.singleShot(600, lambda: (action(), next_step()))
            return

        def finished(*_):
            done.disconnect(finished)
            QTimer.singleShot(600, next_step)  # a redraw cycle: the window shows the result
        done.connect(finished)
        QTimer.singleShot(100, action)

    def shot(name):
        def take():
            window.grab().save(str(OUT / name))
            print("wrote", OUT / name)
        return take

    def choose(task=None, model_id=None, int8=None):
        def do():
            if task:
                panel.taskCombo.setCurrentIndex(panel.taskCombo.findData(task))
            if model_id:
                panel.select_model(model_id)
            if int8 is not None:
                panel.int8Check.setChecked(int8)
        return do

    def type_text(text):
        return lambda: run.inputEdit.setPlainText(text)

    ran = window.session.runFinished  # Run loads what the panel shows first, then runs: done when the run is
    then(type_text("The battery died after a week and support never answered my emails."))
    then(run.runButton.click, ran)
    then(shot("classification.png"))
    then(lambda: (run.runContinuousButton.click(), QTimer.singleShot(8000, run.stopButton.click)), ran)
    then(shot("continuous.png"))
    then(run.pinButton.click)
    then(choose(int8=True))
    then(run.runButton.click, ran)  # loads int8 first; its first request is a cold one
    then(run.runButton.click, ran)
    then(window.presenterAction.trigger)
    then(shot("presenter.png"))
    then(window.presenterAction.trigger)
    then(run.unpinButton.click)
    then(choose(task="translation", model_id="synthetic/marian-en-de", int8=False))
    then(type_text("The train to Berlin leaves at seven o'clock tomorrow morning."))
    then(run.runButton.click, ran)
    then(shot("translation.png"))
    then(choose(task="generation", model_id="synthetic/gpt2"))
    then(type_text("The lighthouse keeper opened her ledger and wrote"))

    def generate():
        def mid_stream(token):
            if token.index == 16:  # while tokens still arrive: the text and plots as they grow
                window.session.tokenGenerated.disconnect(mid_stream)
                shot("generation_streaming.png")()
        window.session.tokenGenerated.connect(mid_stream)
        run.maxTokensSpin.setValue(40)
        run.runButton.click()
    then(generate, ran)
    then(shot("generation.png"))

    compare = window.compareView

    def run_ladder():
        window.tabs.setCurrentIndex(window.tabs.indexOf(window.compareScroll))
        compare.minItersSpin.setValue(10)
        compare.minSecondsSpin.setValue(0.5)
        compare.runButton.click()
    then(run_ladder, compare.presenter.finished)
    then(shot("compare.png"))

    window.host.started.connect(lambda *_: QTimer.singleShot(100, next_step))
    app.exec()
    return 0


if __name__ == "__main__":
    sys.exit(main())
