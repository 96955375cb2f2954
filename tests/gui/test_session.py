"""The Live tab's session against the fake engine, with no window: jobs, the model, the records."""

from functools import partial

import pytest

from core.catalog import DEFAULT_MODEL_ID, load_catalog
from core.requests import LoadRequest, RunRequest
from gui.session import LiveSession

from .fake_engine import FakeEngine

REQUEST = RunRequest(texts=("A fine film.",))


@pytest.fixture
def make_session(make_host):
    def make(**fake) -> LiveSession:
        sessions = []  # the session connects to the host before it starts, as the window's does
        make_host(partial(FakeEngine, **fake), lambda host: sessions.append(LiveSession(host)))
        return sessions[0]

    return make


def load(qtbot, session) -> None:
    with qtbot.waitSignal(session.loadFinished, timeout=10_000) as finished:
        session.load(LoadRequest(entry=load_catalog().get(DEFAULT_MODEL_ID)))
    assert finished.args == ["done", True]


def test_load_then_run_once(qtbot, make_session):
    session = make_session()
    assert not session.run(REQUEST, continuous=False)  # no model yet: nothing submitted
    load(qtbot, session)
    assert session.summary.name and session.load_job is None
    with qtbot.waitSignal(session.runFinished, timeout=10_000) as finished:
        assert session.run(REQUEST, continuous=False)
        assert not session.run(REQUEST, continuous=False)  # one run at a time
    assert finished.args == ["done"]
    records = session.take_records()
    assert [r.summary for r in records] == ["positive, 90%"]
    assert session.take_records() == []
    assert session.requests_last_second() == 1


def test_run_continuously_arrives_in_batches_and_stops(qtbot, make_session):
    session = make_session(run_seconds=0.001)
    load(qtbot, session)
    batches = []
    session.run(REQUEST, continuous=True)
    session.run_job.measured.connect(lambda event: batches.append(len(event.records)))
    qtbot.waitUntil(lambda: sum(batches) > 100, timeout=10_000)
    assert max(batches) > 1  # many records per message, not one message each
    with qtbot.waitSignal(session.runFinished, timeout=5_000) as finished:
        session.stop()
    assert finished.args == ["cancelled"]
    assert len(session.take_records()) == sum(batches)


def test_a_failed_load_says_why_and_leaves_no_model(qtbot, make_session):
    from core.errors import ModelSourceError

    session = make_session(load_error=ModelSourceError("The weights cannot be read."))
    errors = []
    session.errorRaised.connect(errors.append)
    with qtbot.waitSignal(session.loadFinished, timeout=10_000) as finished:
        session.load(LoadRequest(entry=load_catalog().get(DEFAULT_MODEL_ID)))
    assert finished.args == ["failed", False]
    assert errors == ["The weights cannot be read."] and session.summary is None


def test_forgetting_the_model_stops_runs_being_offered(qtbot, make_session):
    session = make_session()
    load(qtbot, session)
    with qtbot.waitSignal(session.modelLost) as lost:
        session.forget_model("Unloaded")
    assert lost.args == ["Unloaded"]
    assert session.summary is None and not session.run(REQUEST, continuous=False)
