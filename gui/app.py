"""Entry point of the desktop app: `sizelab`."""

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sizelab", description="Model Size Lab desktop app")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument("--no-autoload", action="store_true", help="do not load the bundled model at start")
    parser.add_argument("--smoke-test", action="store_true",
                        help="open the window, load the bundled model, classify a sentence, print one JSON line")
    args, qt_args = parser.parse_known_args(argv)
    if args.version:
        from core import __version__
        print(__version__)
        return 0

    if args.smoke_test:  # before any QApplication exists: it sets the platform and temporary settings first
        from .smoke import run_smoke_test
        return run_smoke_test()

    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from core.paths import RESOURCES

    from .main_window import MainWindow
    from .settings import APPLICATION, ORGANIZATION

    app = QApplication([sys.argv[0], *qt_args])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setProperty("defaultPointSize", app.font().pointSize())
    app.setDesktopFileName("model-size-lab")  # ties the window to the menu entry and its icon (Wayland)
    app.setWindowIcon(QIcon(str(RESOURCES / "icons" / "sizelab.svg")))
    window = MainWindow(autoload=not args.no_autoload)
    window.show()
    close_on_signals(app, window)
    return app.exec()  # closing the window ended the engine process (MainWindow.closeEvent)


def close_on_signals(app, window) -> None:
    """Ctrl+C in the terminal (SIGINT) or SIGTERM closes the window as its close button does:
    settings saved, engine ended, exit status 0.

    Python's own SIGINT handler raised KeyboardInterrupt inside whatever slot ran next (a traceback,
    and the app kept running; once a SIGSEGV), and SIGTERM ended the process with nothing saved.
    Qt's event loop runs no Python while it waits, so the C-level handler writes the signal's number
    to a socket (signal.set_wakeup_fd) and a QSocketNotifier wakes the loop to close the window.
    """
    import signal
    import socket

    from PySide6.QtCore import QSocketNotifier

    receiver, sender = socket.socketpair()
    receiver.setblocking(False)
    sender.setblocking(False)
    signal.set_wakeup_fd(sender.fileno())
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_args: None)  # the notifier does the work, on the UI thread

    def on_signal() -> None:
        try:
            receiver.recv(64)
        except OSError:  # already drained
            pass
        window.close()
        app.quit()

    notifier = QSocketNotifier(receiver.fileno(), QSocketNotifier.Type.Read, app)
    notifier.activated.connect(on_signal)
    app._signal_wakeup = (receiver, sender, notifier)  # kept alive as long as the app


if __name__ == "__main__":
    sys.exit(main())
