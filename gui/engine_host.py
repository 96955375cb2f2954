"""The window's side of the engine: one long-lived engine process, its jobs, and their signals.

The engine (and so the model and torch) lives in a child process (core/engine_process.py says why).
EngineHost starts it, numbers the jobs, sends them and their cancels down a pipe, and re-emits what
comes back as Qt signals on the UI thread: the engine's own events on the host, each job's on the
JobHandle that submit() returned. Both sets of signals are derived from core/protocol.py's events
(one signal per event, carrying the event). If the engine process dies (a crash, the kernel's
out-of-memory killer) or sends what the window cannot read, the jobs it had end as failed, the
window is told why, and a fresh engine is started.
"""

import multiprocessing
import threading
import traceback

import psutil
from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot

from core import protocol
from core.engine_process import default_engine, serve
from core.protocol import (ENGINE_EVENTS, JOB_EVENTS, Cancel, EngineFailed, Failed, Finished, JobKind, Outcome,
                           Started, Stop, Submit, UnreadableEvent, signal_name)

# spawn, never fork: a forked copy of a Qt process with threads is undefined behaviour; and the
# engine process then imports only core, not Qt (its memory figures are the model's, not the window's).
_CONTEXT = multiprocessing.get_context("spawn")


def _signals_for(events: tuple[type, ...]) -> dict:
    """One signal per event type, named by protocol.signal_name, carrying the event itself."""
    return {signal_name(event): Signal(object) for event in events}


def _exit_reason(code: int | None) -> str:
    return ("it was killed, most often by the system when memory runs out" if code == -9
            else f"it exited with code {code}" if code is not None and code >= 0
            else f"it was ended by signal {-code}" if code is not None else "it stopped answering")


# The signals come from core/protocol.py: a new event is a new signal with no edit here.
_EngineSignals = type("_EngineSignals", (QObject,), _signals_for(ENGINE_EVENTS))
_JobSignals = type("_JobSignals", (QObject,), _signals_for(JOB_EVENTS))


class JobHandle(_JobSignals):
    """One submitted job: its own signals (progressed, loaded, measured, streamed, generated, compared, failed,
    finished; each carries its core.protocol event), and cancel. finished comes last, always once."""

    def __init__(self, host: "EngineHost", job: int, kind: JobKind):
        super().__init__()
        self.job, self.kind = job, kind
        self.outcome: Outcome | None = None  # set when finished
        self.abandoned = False
        self._host = host

    def done(self) -> bool:
        return self.outcome is not None

    def abandon(self) -> None:
        """Cancel, and emit nothing more: a newer job of the same kind took its place."""
        self.cancel()
        self.abandoned = True

    def cancel(self) -> None:
        """Ask the engine to stop this job; finished(cancelled) follows, unless it ended already."""
        if not self.done():
            self._host._send(Cancel(self.job))

    def __repr__(self) -> str:
        return f"<JobHandle {self.job} {self.kind} {self.outcome or 'running'}>"


class EngineHost(_EngineSignals):
    """UI-thread side: owns the engine process, submits jobs, cancels, and shuts down.

    Signals from the protocol: started(Started; again after a restart), engineFailed(EngineFailed).
    """

    jobFinished = Signal(object)
    """Any job ended (its Finished event), after its handle's finished: for tests and the smoke test."""
    engineLost = Signal(str)
    """The engine process ended unexpectedly (why); its model is gone. A new one is starting."""

    _received = Signal(object)  # from the reader thread, delivered on the UI thread
    _ended = Signal(object, str)  # the reader's last word: (connection, why the engine ended)

    def __init__(self, engine_factory=default_engine, parent=None):
        """engine_factory: a picklable callable run in the engine process (tests pass a fake)."""
        super().__init__(parent)
        self._engine_factory = engine_factory
        self._process = None
        self._process_info: psutil.Process | None = None  # for the engine's memory figure
        self._connection = None
        self._reader: threading.Thread | None = None
        self._number = 0
        self._active: dict[int, JobHandle] = {}  # the jobs not finished yet
        self._ready = self._start_failed = self._stopping = False
        self._received.connect(self._on_received, Qt.ConnectionType.QueuedConnection)
        self._ended.connect(self._on_engine_ended, Qt.ConnectionType.QueuedConnection)

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start the engine process (it imports torch and lists the devices, then emits started)."""
        ours, theirs = _CONTEXT.Pipe()
        process = _CONTEXT.Process(target=serve, args=(theirs, self._engine_factory),
                                   name="sizelab-engine", daemon=True)
        try:
            process.start()
        except Exception as exc:  # noqa: BLE001 - no process (out of memory, a broken install): said, not a crash
            ours.close()
            theirs.close()
            message = f"The inference engine could not start: {exc}"
            QTimer.singleShot(0, lambda: self.engineFailed.emit(EngineFailed(message)))  # after the window connected
            return
        self._process = process
        try:
            self._process_info = psutil.Process(process.pid)
        except psutil.Error:  # ended already: the reader reports how
            self._process_info = None
        theirs.close()  # ours alone now: when the engine process ends, reading ends too
        self._connection, self._ready, self._start_failed, self._stopping = ours, False, False, False
        self._reader = threading.Thread(target=self._read, args=(ours, process), name="engine-events", daemon=True)
        self._reader.start()

    def running(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def ready(self) -> bool:
        """The engine has started and takes jobs."""
        return self._ready and self.running()

    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def rss(self) -> int | None:
        """The engine process's resident memory in bytes; None until the engine has started."""
        try:
            return self._process_info.memory_info().rss if self._ready and self._process_info else None
        except psutil.Error:  # it has just ended; the reader reports how
            return None

    def shutdown(self, timeout_ms: int = 2000) -> bool:
        """Cancel everything, ask the engine to stop, and end its process. True if it ended by itself.

        An engine busy in a step that cannot be interrupted (reading weights, quantizing) is killed
        after timeout_ms, and one still starting is killed at once: the process's end frees its
        memory, and every file we write is written atomically, so nothing is lost. Jobs not
        finished by then end as "cancelled".
        """
        if self._process is None:
            return True
        self._stopping = True
        process = self._process
        if self._ready:
            self._send(Stop())  # cancels every job, then ends the engine
            self._reader.join(timeout_ms / 1000)  # the reader ends once the process has ended
            clean = not self._reader.is_alive()
        else:  # still importing torch: no model, nothing to finish
            clean = True
        if self._reader.is_alive():
            process.kill()
        self._close_connection()  # the reader waits for the process: only it ever does
        for handle in list(self._active.values()):
            self._finish(handle, Outcome.CANCELLED)
        self._process = self._process_info = None
        return clean

    # ------------------------------------------------------------ jobs

    def submit(self, kind: JobKind, request) -> JobHandle:
        """Queue a job; its events arrive on the handle (connect to it before control returns to Qt)."""
        self._number += 1
        handle = JobHandle(self, self._number, JobKind(kind))
        self._active[handle.job] = handle
        if not self._send(Submit(handle.job, handle.kind, request)):
            message = "The inference engine is not running."
            QTimer.singleShot(0, lambda: self._fail(handle, message))  # once the caller has connected
        return handle

    def cancel_all(self) -> None:
        """Cancel every job not yet finished."""
        if self._active:
            self._send(Cancel(None))

    # ------------------------------------------------------------ plumbing

    def _send(self, command: protocol.Command) -> bool:
        if self._connection is None:
            return False
        try:
            self._connection.send(command)
            return True
        except (OSError, ValueError):  # the engine process is gone; the reader reports how
            return False

    def _read(self, connection, process) -> None:
        """The reader thread: blocks on the pipe, hands each event to the UI thread, and at the end
        waits for the engine process itself, so the UI thread never blocks on it."""
        why = None
        while True:
            try:
                event = protocol.read_event(connection.recv_bytes())
            except (EOFError, OSError):
                break
            except UnreadableEvent as exc:  # the engine and the window no longer understand each other
                traceback.print_exc()
                why = f"an event from it could not be read: {exc}"
                process.kill()  # its jobs could never end here; a fresh engine can
                break
            self._received.emit(event)
        process.join(10)  # the pipe's end: the process has ended or is ending
        self._ended.emit(connection, why or _exit_reason(process.exitcode))

    def _close_connection(self) -> None:
        """Only once the engine process has ended: closing the pipe under a reader blocked on it
        could let its file descriptor be reused while the reader still reads it."""
        if self._reader is not None:
            self._reader.join(5)
            self._reader = None
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _finish(self, handle: JobHandle, outcome: Outcome) -> None:
        if self._active.pop(handle.job, None) is handle:
            handle.outcome = Outcome(outcome)
            event = Finished(handle.job, handle.outcome)
            if not handle.abandoned:
                handle.finished.emit(event)
            self.jobFinished.emit(event)

    def _fail(self, handle: JobHandle, message: str) -> None:
        if not handle.done():
            if not handle.abandoned:
                handle.failed.emit(Failed(handle.job, message))
            self._finish(handle, Outcome.FAILED)

    @Slot(object)
    def _on_received(self, event: protocol.Event) -> None:
        if isinstance(event, Started):
            if event.protocol != protocol.VERSION:
                self._start_failed = True  # an engine of another version would misread every job
                self.engineFailed.emit(EngineFailed(
                    f"The inference engine speaks protocol {event.protocol}, the window {protocol.VERSION}; "
                    "reinstall the app."))
                self._process.kill()
                return
            self._ready = True
            self.started.emit(event)
        elif isinstance(event, EngineFailed):
            self._start_failed = not self._ready  # the engine said why; its process now ends
            self.engineFailed.emit(event)
        elif (handle := self._active.get(event.job)) is None:
            return  # a late event of a job already ended here (at a shutdown or a restart)
        elif isinstance(event, Finished):
            self._finish(handle, event.outcome)
        elif not handle.abandoned:
            getattr(handle, signal_name(type(event))).emit(event)

    @Slot(object, str)
    def _on_engine_ended(self, connection, why: str) -> None:
        if self._stopping or connection is not self._connection:
            return  # a shutdown, or an engine already replaced
        self._close_connection()
        self._process = self._process_info = None
        if not self._ready:  # it never started: a new one would only fail again
            message = f"The inference engine could not start ({why}; see the terminal for details)."
            if not self._start_failed:  # else the engine already said why
                self.engineFailed.emit(EngineFailed(message))
            self._fail_active(message)
            return
        message = (f"The inference engine stopped unexpectedly ({why}); the loaded model is gone. "
                   "A smaller variant (int8, fewer layers) or a shorter input needs less memory.")
        self._fail_active(message)
        self.engineLost.emit(message)
        self.start()

    def _fail_active(self, message: str) -> None:
        for handle in list(self._active.values()):
            self._fail(handle, message)
