"""Entry point of the desktop app: `sizelab`."""

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sizelab", description="Model Size Lab desktop app")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument("--no-autoload", action="store_true", help="do not load the bundled model at start")
    args, qt_args = parser.parse_known_args(argv)
    if args.version:
        from core import __version__
        print(__version__)
        return 0

    from PySide6.QtWidgets import QApplication

    from .main_window import MainWindow
    from .settings import APPLICATION, ORGANIZATION

    app = QApplication([sys.argv[0], *qt_args])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setProperty("defaultPointSize", app.font().pointSize())
    window = MainWindow(autoload=not args.no_autoload)
    window.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
