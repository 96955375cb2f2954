"""EngineHost against the fake engine: what reaches the window, and what it never does."""

import threading
from functools import partial

from core.protocol import JobKind
from gui import engine_host
from core.protocol import ENGINE_EVENTS, EVENTS, JOB_EVENTS, signal_name
from gui.engine_host import EngineHost, JobHandle

from .fake_engine import FakeEngine, RecordingProcess


def test_every_event_has_a_signal():
    """The engine's events on the host, each job's on its handle: the window hears everything the engine says."""
    from PySide6.QtCore import Signal

    assert set(ENGINE_EVENTS) | set(JOB_EVENTS) == set(EVENTS)
    for owner, events in ((EngineHost, ENGINE_EVENTS), (JobHandle, JOB_EVENTS)):
        for event in events:
            assert isinstance(getattr(owner, signal_name(event), None), Signal), (owner, event)


def load_request():
    from core.catalog import DEFAULT_MODEL_ID, load_catalog
    from core.requests import LoadRequest
    return LoadRequest(entry=load_catalog().get(DEFAULT_MODEL_ID))


def test_an_unreadable_event_is_an_engine_failure(qtbot, make_host):
    from core.requests import RunRequest

    host = make_host(partial(FakeEngine, unreadable_run=True))
    with qtbot.waitSignal(host.jobFinished, timeout=10_000):
        host.submit(JobKind.LOAD, load_request())
    lost = []
    host.engineLost.connect(lost.append)
    with qtbot.waitSignal(host.started, timeout=30_000):  # a fresh engine
        with qtbot.waitSignal(host.jobFinished, timeout=10_000) as finished:
            host.submit(JobKind.RUN, RunRequest(texts=("hello",)))
    assert finished.args[0].outcome == "failed"  # the job ends; the window does not wait for it forever
    assert lost and "could not be read" in lost[0]


def test_the_ui_thread_never_waits_for_a_lost_engine(qtbot, make_host, monkeypatch):
    from core.requests import RunRequest

    monkeypatch.setattr(engine_host._CONTEXT, "Process", RecordingProcess)
    RecordingProcess.joined_on.clear()
    host = make_host(partial(FakeEngine, exit_on_run=True))
    with qtbot.waitSignal(host.jobFinished, timeout=10_000):
        host.submit(JobKind.LOAD, load_request())
    with qtbot.waitSignal(host.engineLost, timeout=10_000):
        host.submit(JobKind.RUN, RunRequest(texts=("hello",)))
    assert RecordingProcess.joined_on, "nobody reaped the lost engine"
    assert threading.main_thread().name not in RecordingProcess.joined_on
