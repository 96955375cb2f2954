"""The engine in a process of its own, driven over one pipe.

Why a process and not a thread: a worker thread shares the window's GIL. Importing torch, building
a model and the Python between torch's kernels held the GIL for tens to hundreds of milliseconds,
which froze the window; and the window's plots, in turn, slowed the measured requests
(tests/benchmarks/ui_lateness.py and plot_cost.py measured both). In its own process the engine
competes with the window for nothing but cores, its memory figures are its own (no Qt in the RSS),
a crash or an out-of-memory kill takes only the engine down, and a step that cannot be interrupted
(reading weights, quantizing) can still be ended by ending the process.

The protocol, all plain picklable values (requests, records, summaries, dicts):
  to the engine:   ("job", number, kind, request) · ("cancel", number or None) · ("stop",)
                   (kind: "load", "run", "run-continuous", "unload" or "compare")
  from the engine: (event, *args) for the events in EVENTS, in the order they happened.
A reader thread takes commands as they arrive, so a cancel reaches a job while it runs; jobs run
one at a time, in order, on the main thread. The host is gui/engine_host.py's EngineHost.
"""

import ctypes
import gc
import importlib.metadata
import os
import queue
import signal
import sys
import threading
import traceback

from .cancel import CancelToken
from .errors import Cancelled, SizeLabError

EVENTS = {
    "started": "the engine is ready: (devices, versions dict)",
    "progressed": "job number, fraction (float or None), message",
    "loaded": "job number, core.engine.ModelSummary",
    "measured": "job number, core.engine.RunRecord: one request finished",
    "streamed": "job number, translation text so far",
    "generated": "job number, core.records.TokenEvent: one new token of a text generation",
    "compared": "job number, a core.compare_data record (row started, progress, finished or failed, run finished)",
    "failed": "job number (0: the engine itself), a message for the user",
    "finished": 'job number and how it ended: "done", "cancelled" or "failed"; always the last of a job',
}
OUT_OF_MEMORY = "Out of memory. Try a smaller batch or shorter text, int8, fewer layers, or the CPU."


def default_engine():
    from .engine import Engine  # imports torch

    return Engine()


class _Outbox:
    """Sends events to the host; callable from any thread (hub downloads report progress from theirs)."""

    def __init__(self, connection) -> None:
        self._connection = connection
        self._lock = threading.Lock()

    def __call__(self, event: str, *args) -> None:
        with self._lock:
            self._connection.send((event, *args))


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
            if command[0] == "job":
                self.open(command[1])  # exists before a cancel for it can arrive
                self.jobs.put(command[1:])
            elif command[0] == "cancel":
                self._cancel(command[1])
            elif command[0] == "stop":
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
        send("started", engine.devices(), _versions())
    except Exception as exc:  # noqa: BLE001 - shown to the user, never swallowed
        traceback.print_exc()
        send("failed", 0, f"The inference engine could not start: {exc}")
        return
    try:
        while (job := inbox.jobs.get()) is not None:
            number, kind, request = job
            try:
                _run_job(engine, send, number, kind, request, inbox.token(number))
            finally:
                inbox.forget(number)
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


def _run_job(engine, send: _Outbox, number: int, kind: str, request, cancel: CancelToken) -> None:
    outcome = "failed"
    try:
        cancel.check()  # cancelled while it waited in the queue
        if kind == "load":
            summary = engine.load(request, cancel, lambda fraction, message: send("progressed", number,
                                                                                fraction, message))
            send("loaded", number, summary)
        elif kind == "run":
            record = engine.run(request, cancel, on_text=lambda delta, text, n: send("streamed", number, text),
                                on_token=lambda event: send("generated", number, event))
            send("measured", number, record)
        elif kind == "run-continuous":
            for record in engine.run_continuously(request, cancel):
                send("measured", number, record)
        elif kind == "unload":
            engine.unload()
        elif kind == "compare":
            engine.unload()  # one model in memory at a time: the live view's goes first
            from .compare import run_compare
            for record in run_compare(request, cancel):
                send("compared", number, record)
        else:
            raise SizeLabError(f"Unknown job kind {kind!r}.")
        outcome = "cancelled" if cancel.cancelled else "done"
    except Cancelled:
        outcome = "cancelled"
    except SizeLabError as exc:
        send("failed", number, str(exc))
    except MemoryError:
        _release(engine)
        send("failed", number, OUT_OF_MEMORY)
    except (BrokenPipeError, EOFError):
        raise
    except Exception as exc:  # noqa: BLE001 - an unexpected bug: shown, with its type, not a crash
        traceback.print_exc()
        send("failed", number, f"Unexpected error ({type(exc).__name__}): {exc}")
    finally:
        send("finished", number, outcome)


def _release(engine) -> None:
    try:
        engine.unload()
    except Exception:  # noqa: BLE001 - releasing after an out-of-memory or at the end is best effort
        traceback.print_exc()
