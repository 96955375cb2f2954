"""The engine process's side of the pipe, driven in this process (no Qt, no torch)."""

import multiprocessing
import time

import dataclasses
import pickle

import pytest

from core import engine_process, protocol
from core.protocol import Cancel, JobKind, Stop, Submit


def wait_until(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def test_a_cancel_after_its_job_finished_leaves_no_token():
    ours, theirs = multiprocessing.Pipe()
    inbox = engine_process._Inbox(theirs)
    ours.send(Submit(1, JobKind.RUN, None))
    job = inbox.jobs.get(timeout=5)
    inbox.forget(job.job)  # the job finished
    ours.send(Cancel(1))
    ours.send(Cancel(None))
    ours.send(Stop())
    wait_until(lambda: inbox.jobs.qsize() == 1)  # the stop: every command before it was read
    assert inbox._tokens == {}


def test_every_message_is_a_frozen_dataclass_and_job_events_name_their_job():
    for message in protocol.EVENTS + (Submit, Cancel, Stop):
        assert dataclasses.is_dataclass(message) and message.__dataclass_params__.frozen, message
    for event in protocol.JOB_EVENTS:
        assert [f.name for f in dataclasses.fields(event)][0] == "job", event
    for event in protocol.ENGINE_EVENTS:
        assert "job" not in {f.name for f in dataclasses.fields(event)}, event


def test_the_window_reads_events_and_nothing_else():
    from core.records import RunRecord

    record = RunRecord(model_name="m", variant_label="fp32", device="cpu", task="classification", input_chars=1,
                       input_tokens=3, latency=0.01, phases={"model": 0.01}, summary="positive, 90%")
    event = protocol.Measured(4, (record,))
    assert protocol.read_event(pickle.dumps(event)) == event
    finished = protocol.read_event(pickle.dumps(protocol.Finished(4, protocol.Outcome.DONE)))
    assert finished.outcome is protocol.Outcome.DONE
    with pytest.raises(protocol.UnreadableEvent, match="not an event"):
        protocol.read_event(pickle.dumps(("finished", 4, "done")))  # the old tuples
    with pytest.raises(protocol.UnreadableEvent, match="collections.OrderedDict"):
        protocol.read_event(pickle.dumps(protocol.Failed(4, __import__("collections").OrderedDict())))
    with pytest.raises(protocol.UnreadableEvent):
        protocol.read_event(pickle.dumps(event)[:-5])  # cut short


def test_run_continuously_sends_records_in_batches():
    class Engine:
        def run_continuously(self, request, cancel):
            for _ in range(1000):
                yield "record"

    sent = []
    engine_process._run_continuously(Engine(), sent.append, 7, None, None)
    assert sum(len(event.records) for event in sent) == 1000
    assert len(sent) < 20 and {event.job for event in sent} == {7}
