"""The engine process's side of the pipe, driven in this process (no Qt, no torch)."""

import multiprocessing
import time

from core import engine_process


def wait_until(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def test_a_cancel_after_its_job_finished_leaves_no_token():
    ours, theirs = multiprocessing.Pipe()
    inbox = engine_process._Inbox(theirs)
    ours.send(("job", 1, "run", None))
    number, _kind, _request = inbox.jobs.get(timeout=5)
    inbox.forget(number)  # the job finished
    ours.send(("cancel", 1))
    ours.send(("cancel", None))
    ours.send(("stop",))
    wait_until(lambda: inbox.jobs.qsize() == 1)  # the stop: every command before it was read
    assert inbox._tokens == {}
