"""The app's window for a benchmark: offscreen, with settings in a temporary folder (never the user's)."""

import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QCoreApplication, QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


def application() -> QApplication:
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    folder = tempfile.mkdtemp(prefix="sizelab-bench-")
    for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
        QSettings.setPath(QSettings.Format.IniFormat, scope, folder)
    app = QApplication.instance() or QApplication([])
    QCoreApplication.setOrganizationName("ModelSizeLabBench")
    app.setProperty("defaultPointSize", app.font().pointSize())
    return app


def main_window(autoload: bool = False, wait_for_engine: bool = True):
    """The main window, shown; by default once its engine has started.

    The engine process imports torch as it starts, taking a core for seconds: UI timings taken
    before that measure the import, not the app.
    """
    from gui.main_window import MainWindow

    window = MainWindow(autoload=autoload)
    started = []
    window.host.started.connect(lambda *_: started.append(True))
    window.resize(1400, 900)
    window.show()
    if wait_for_engine:
        wait_until(lambda: bool(started), 120)
    return window


def wait_until(condition, timeout: float, poll_ms: int = 10) -> None:
    """Run the event loop until condition() is true, checking every poll_ms.

    The thread sleeps in the event loop between checks, as the app's does: a busy processEvents()
    loop would take a core from the engine (with the engine in a thread it held the GIL and
    slowed it 2x).
    """
    import time

    from PySide6.QtCore import QEventLoop, QTimer

    if condition():
        return
    end = time.monotonic() + timeout
    loop = QEventLoop()
    timer = QTimer()
    timer.setInterval(poll_ms)
    timer.timeout.connect(lambda: loop.quit() if condition() or time.monotonic() > end else None)
    timer.start()
    loop.exec()
    timer.stop()
    if not condition():
        raise TimeoutError("the window did not get there in time")
