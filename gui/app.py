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
    return app.exec()  # closing the window ended the engine process (MainWindow.closeEvent)


if __name__ == "__main__":
    sys.exit(main())
