"""The engine in a process of its own, driven over one pipe.

Why a process and not a thread: a worker thread shares the window's GIL. Importing torch, building
a model and the Python between torch's kernels held the GIL for tens to hundreds of milliseconds,
which froze the window; and the window's plots, in turn, slowed the measured requests
(tests/benchmarks/ui_lateness.py and plot_cost.py measured both). In its own process the engine
competes with the window for nothing but cores, its memory figures are its own (no Qt in the RSS),
a crash or an out-of-memory kill takes only the engine down, and a step that cannot be interrupted
(reading weights, quantizing) can still be ended by ending the process.

The messages are core/protocol.py's types. A reader thread takes commands as they arrive, so a
cancel reaches a job while it runs; jobs run one at a time, in order, on the main thread. The host
is gui/engine_host.py's EngineHost.
"""

import ctypes
import gc
import importlib.metadata
import os
import queue
import signal
import sys
import threading
import time
import traceback

from .cancel import CancelToken
from .errors import Cancelled, SizeLabError
from .protocol import (BATCH_SECONDS, Cancel, Compared, EngineFailed, Event, Failed, Finished, Generated, JobKind,
                       Loaded, Measured, Outcome, Progressed, Started, Stop, Streamed, Submit)

OUT_OF_MEMORY = "Out of memory. Try a smaller batch or shorter text, int8, fewer layers, or the CPU."


def default_engine():
    from .engine import Engine  # imports torch

    return Engine()


class _Outbox:
    """Sends events to the host; callable from any thread (hub downloads report progress from theirs)."""

    def __init__(self, connection) -> None:
        self._connection = connection
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        with self._lock:
            self._connection.send(event)


class _Inbox:
    """The reader thread: queues jobs for the main thread and applies cancels at once."""

    def __init__(self, connection) -> None:
        self.jobs: queue.Queue = queue.Queue()
        self._connection = connection
        self._tokens: dict[int, CancelToken] = {}
        self._lock = threading.Lock()
        threading.Thread(target=self._read, name="engine-commands", daemon=True).start()

    def open(self, number: int) -> None:
        """Only a new job gets a token: a cancel arriving after its job finished must not make one."""
        with self._lock:
            self._tokens[number] = CancelToken()

    def token(self, number: int) -> CancelToken:
        with self._lock:
            return self._tokens[number]

    def forget(self, number: int) -> None:
        with self._lock:
            self._tokens.pop(number, None)

    def _cancel(self, number: int | None) -> None:
        with self._lock:
            for job, token in self._tokens.items():
                if number is None or job == number:
                    token.cancel()

    def _read(self) -> None:
        while True:
            try:
                command = self._connection.recv()
            except (EOFError, OSError):  # the host is gone: nobody is left to show a result
                os._exit(0)
            if isinstance(command, Submit):
                self.open(command.job)  # exists before a cancel for it can arrive
                self.jobs.put(command)
            elif isinstance(command, Cancel):
                self._cancel(command.job)
            elif isinstance(command, Stop):
                self._cancel(None)
                self.jobs.put(None)
                return


def serve(connection, engine_factory=default_engine) -> None:
    """The engine process's main: start the engine, then run jobs until told to stop."""
    # Ctrl+C in the terminal reaches the whole process group: the window decides, and ends us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _name_process(b"sizelab-engine")
    send = _Outbox(connection)
    inbox = _Inbox(connection)
    try:
        engine = engine_factory()
        # What is imported now lives for good: out of later collections (a full one walks every
        # object with the GIL held), as core.loading.release_memory does after each collection.
        gc.freeze()
        send(Started(tuple(engine.devices()), _versions()))
    except Exception as exc:  # noqa: BLE001 - shown to the user, never swallowed
        traceback.print_exc()
        send(EngineFailed(f"The inference engine could not start: {exc}"))
        return
    try:
        while (job := inbox.jobs.get()) is not None:
            try:
                _run_job(engine, send, job, inbox.token(job.job))
            finally:
                inbox.forget(job.job)
    except (BrokenPipeError, EOFError, OSError):  # the host is gone mid-job
        os._exit(0)
    finally:
        _release(engine)


def _name_process(name: bytes) -> None:
    """Show this process as `name` in top and the system monitor, not as one more python3 (Linux)."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None).prctl(15, name, 0, 0, 0)  # 15: PR_SET_NAME
        except (OSError, AttributeError):  # best effort: only the name is lost
            pass


def _versions() -> dict:
    versions = {}
    for name in ("torch", "transformers"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "?"
    return versions


def _run_job(engine, send: _Outbox, job: Submit, cancel: CancelToken) -> None:
    number, kind, request = job.job, job.kind, job.request
    outcome = Outcome.FAILED
    try:
        cancel.check()  # cancelled while it waited in the queue
        if kind == JobKind.LOAD:
            try:
                summary = engine.load(request, cancel,
                                      lambda fraction, message: send(Progressed(number, fraction, message)))
            except (SizeLabError, Cancelled):
                if getattr(engine, "summary", None) is not None:  # failed in its checks: the model stays
                    send(Loaded(number, engine.summary, kept=True))
                raise
            send(Loaded(number, summary))
        elif kind == JobKind.RUN:
            record = engine.run(request, cancel, on_text=lambda delta, text, n: send(Streamed(number, text)),
                                on_token=lambda token: send(Generated(number, token)))
            send(Measured(number, (record,)))
        elif kind == JobKind.RUN_CONTINUOUS:
            _run_continuously(engine, send, number, request, cancel)
        elif kind == JobKind.COMPARE:
            engine.unload()  # one model in memory at a time: the live view's goes first
            from .compare import run_compare
            for record in run_compare(request, cancel):
                send(Compared(number, record))
        else:
            raise SizeLabError(f"Unknown job kind {kind!r}.")
        outcome = Outcome.CANCELLED if cancel.cancelled else Outcome.DONE
    except Cancelled:
        outcome = Outcome.CANCELLED
    except SizeLabError as exc:
        send(Failed(number, str(exc)))
    except MemoryError:
        _release(engine)
        send(Failed(number, OUT_OF_MEMORY))
    except (BrokenPipeError, EOFError):
        raise
    except Exception as exc:  # noqa: BLE001 - an unexpected bug: shown, with its type, not a crash
        traceback.print_exc()
        send(Failed(number, f"Unexpected error ({type(exc).__name__}): {exc}"))
    finally:
        send(Finished(number, outcome))


def _run_continuously(engine, send: _Outbox, number: int, request, cancel: CancelToken) -> None:
    """Records in batches: one pipe message (and one queued Qt event in the window) per BATCH_SECONDS
    at most, not one per request (a small model finishes hundreds a second)."""
    batch: list = []
    sent = time.monotonic()
    try:
        for record in engine.run_continuously(request, cancel):
            batch.append(record)
            if time.monotonic() - sent >= BATCH_SECONDS:
                send(Measured(number, tuple(batch)))
                batch, sent = [], time.monotonic()
    finally:
        if batch:
            send(Measured(number, tuple(batch)))


def _release(engine) -> None:
    try:
        engine.unload()
    except Exception:  # noqa: BLE001 - releasing after an out-of-memory or at the end is best effort
        traceback.print_exc()
