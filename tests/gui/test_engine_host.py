"""EngineHost against the fake engine: what reaches the window, and what it never does."""

import threading
from functools import partial

import pytest

from gui import engine_host
from gui.engine_host import EngineHost

from .fake_engine import FakeEngine, RecordingProcess


@pytest.fixture
def make_host(qtbot):
    hosts = []

    def make(factory) -> EngineHost:
        host = EngineHost(factory)
        with qtbot.waitSignal(host.started, timeout=30_000):
            host.start()
        hosts.append(host)
        return host

    yield make
    for host in hosts:
        host.shutdown()


def load_request():
    from core.catalog import DEFAULT_MODEL_ID, load_catalog
    from core.requests import LoadRequest
    return LoadRequest(entry=load_catalog().get(DEFAULT_MODEL_ID))


def test_an_unreadable_event_is_an_engine_failure(qtbot, make_host):
    from core.requests import RunRequest

    host = make_host(partial(FakeEngine, unreadable_run=True))
    with qtbot.waitSignal(host.jobFinished, timeout=10_000):
        host.submit("load", load_request())
    lost = []
    host.engineLost.connect(lost.append)
    with qtbot.waitSignal(host.started, timeout=30_000):  # a fresh engine
        with qtbot.waitSignal(host.jobFinished, timeout=10_000) as finished:
            host.submit("run", RunRequest(texts=("hello",)))
    assert finished.args[1] == "failed"  # the job ends; the window does not wait for it forever
    assert lost and "could not be read" in lost[0]


def test_the_ui_thread_never_waits_for_a_lost_engine(qtbot, make_host, monkeypatch):
    from core.requests import RunRequest

    monkeypatch.setattr(engine_host._CONTEXT, "Process", RecordingProcess)
    RecordingProcess.joined_on.clear()
    host = make_host(partial(FakeEngine, exit_on_run=True))
    with qtbot.waitSignal(host.jobFinished, timeout=10_000):
        host.submit("load", load_request())
    with qtbot.waitSignal(host.engineLost, timeout=10_000):
        host.submit("run", RunRequest(texts=("hello",)))
    assert RecordingProcess.joined_on, "nobody reaped the lost engine"
    assert threading.main_thread().name not in RecordingProcess.joined_on
