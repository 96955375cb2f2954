"""GUI fixtures: isolated settings, a guard against leftover engine processes, the window and the host."""

import multiprocessing

import pytest
from PySide6.QtCore import QCoreApplication, QSettings


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path, qapp):
    """Tests never touch the user's settings: INI files under a temporary folder."""
    QCoreApplication.setOrganizationName("ModelSizeLabTests")
    QCoreApplication.setApplicationName("tests")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    qapp.setProperty("defaultPointSize", qapp.font().pointSize())
    yield tmp_path / "settings"


@pytest.fixture(autouse=True)
def no_engine_processes_left():
    """Fail any test that leaves an engine process behind (a window must end its engine when it closes)."""
    yield
    left = multiprocessing.active_children()
    assert not left, f"engine process(es) left running: {left}"


@pytest.fixture
def make_window(qtbot):
    from gui.main_window import MainWindow

    windows = []

    def make(engine_factory=None):
        window = MainWindow(engine_factory) if engine_factory else MainWindow()
        qtbot.addWidget(window)
        window.show()
        qtbot.waitUntil(lambda: window.statusBar().currentMessage().startswith("Ready")
                        or window.errorBanner.isVisible(), timeout=60_000)
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()


@pytest.fixture
def make_host(qtbot):
    """An EngineHost started on an engine factory (the fake, most often), shut down after the test."""
    from gui.engine_host import EngineHost

    hosts = []

    def make(factory, before_start=lambda host: None):
        host = EngineHost(factory)
        before_start(host)
        with qtbot.waitSignal(host.started, timeout=30_000):
            host.start()
        hosts.append(host)
        return host

    yield make
    for host in hosts:
        host.shutdown()
