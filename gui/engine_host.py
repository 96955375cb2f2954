"""The window's side of the engine: one long-lived engine process, its jobs, and their signals.

The engine (and so the model and torch) lives in a child process (core/engine_process.py says why).
EngineHost starts it, numbers the jobs, sends them and their cancels down a pipe, and re-emits what
comes back as Qt signals on the UI thread; the window drops results of any job no longer current.
If the engine process dies (a crash, the kernel's out-of-memory killer), the jobs it had end as
failed, the window is told why, and a fresh engine is started.
"""

import multiprocessing
import sys
import threading
import traceback
import psutil
from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot

from core.engine_process import EVENTS, default_engine, serve

# spawn, never fork: a forked copy of a Qt process with threads is undefined behaviour; and the
# engine process then imports only core, not Qt (its memory figures are the model's, not the window's).
_CONTEXT = multiprocessing.get_context("spawn")


def _exit_reason(code: int | None) -> str:
    return ("it was killed, most often by the system when memory runs out" if code == -9
            else f"it exited with code {code}" if code is not None and code >= 0
            else f"it was ended by signal {-code}" if code is not None else "it stopped answering")


class EngineHost(QObject):
    """UI-thread side: owns the engine process, numbers the jobs, cancels, and shuts down."""

    started = Signal(object, object)
    """The engine is ready: (devices, versions dict). Again after a restart."""
    progressed = Signal(int, object, str)
    """Job number, fraction (float or None), message."""
    loaded = Signal(int, object)
    """Job number, ModelSummary."""
    measured = Signal(int, object)
    """Job number, RunRecord: one request finished."""
    streamed = Signal(int, str)
    """Job number, translation text so far."""
    generated = Signal(int, object)
    """Job number, core.records.TokenEvent: one new token of a text generation."""
    compared = Signal(int, object)
    """Job number, a core.compare_data record (row started, progress, row finished or failed, run finished)."""
    failed = Signal(int, str)
    """Job number (0: the engine itself), a message for the user."""
    jobFinished = Signal(int, str)
    """A job ended: number and "done", "cancelled" or "failed". Always emitted, last for its job."""
    engineLost = Signal(str)
    """The engine process ended unexpectedly (why); its model is gone. A new one is starting."""

    _received = Signal(object)  # from the reader thread, delivered on the UI thread

    def __init__(self, engine_factory=default_engine, parent=None):
        """engine_factory: a picklable callable run in the engine process (tests pass a fake)."""
        super().__init__(parent)
        self._engine_factory = engine_factory
        self._process = None
        self._process_info: psutil.Process | None = None  # for the engine's memory figure
        self._connection = None
        self._reader: threading.Thread | None = None
        self._number = 0
        self._active: set[int] = set()  # numbers of the jobs not finished yet
        self._ready = self._start_failed = self._stopping = False
        self._received.connect(self._on_received, Qt.ConnectionType.QueuedConnection)

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
            QTimer.singleShot(0, lambda: self.failed.emit(0, message))  # after the window has connected
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
            self.cancel()
            self._send(("stop",))
            self._reader.join(timeout_ms / 1000)  # the reader ends once the process has ended
            clean = not self._reader.is_alive()
        else:  # still importing torch: no model, nothing to finish
            clean = True
        if self._reader.is_alive():
            process.kill()
        self._close_connection()  # the reader waits for the process: only it ever does
        for number in sorted(self._active):
            self._finish(number, "cancelled")
        self._process = self._process_info = None
        return clean

    # ------------------------------------------------------------ jobs

    def submit(self, kind: str, request=None) -> int:
        """Queue a job; return its number (newer jobs have larger numbers)."""
        self._number += 1
        number = self._number
        self._active.add(number)
        if not self._send(("job", number, kind, request)):
            self.failed.emit(number, "The inference engine is not running.")
            self._finish(number, "failed")
        return number

    def cancel(self, number: int | None = None) -> None:
        """Cancel one job, or every job not yet finished."""
        if number is None or number in self._active:
            self._send(("cancel", number))

    def busy(self) -> bool:
        return bool(self._active)

    # ------------------------------------------------------------ plumbing

    def _send(self, command: tuple) -> bool:
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
                event = connection.recv()
            except (EOFError, OSError):
                break
            except Exception as exc:  # noqa: BLE001 - the engine and the window no longer understand each other
                traceback.print_exc()
                why = f"an event from it could not be read: {type(exc).__name__}: {exc}"
                process.kill()  # its jobs could never end here; a fresh engine can
                break
            self._received.emit(event)
        process.join(10)  # the pipe's end: the process has ended or is ending
        self._received.emit(("ended", connection, why or _exit_reason(process.exitcode)))

    def _close_connection(self) -> None:
        """Only once the engine process has ended: closing the pipe under a reader blocked on it
        could let its file descriptor be reused while the reader still reads it."""
        if self._reader is not None:
            self._reader.join(5)
            self._reader = None
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _finish(self, number: int, outcome: str) -> None:
        if number in self._active:
            self._active.discard(number)
            self.jobFinished.emit(number, outcome)

    @Slot(object)
    def _on_received(self, event: tuple) -> None:
        name, *args = event
        if name == "ended":
            self._on_engine_ended(*args)
            return
        if name == "started":
            self._ready = True
        elif name == "failed" and args[0] == 0 and not self._ready:
            self._start_failed = True  # the engine said why; its process now ends
        elif name == "finished":
            self._finish(*args)
            return
        elif args and isinstance(args[0], int) and args[0] and args[0] not in self._active:
            return  # a late event of a job already ended here (at a shutdown or a restart)
        if name not in EVENTS:
            print(f"sizelab: an unknown event from the engine: {name!r}", file=sys.stderr)
            return
        getattr(self, name).emit(*args)

    def _on_engine_ended(self, connection, why: str) -> None:
        if self._stopping or connection is not self._connection:
            return  # a shutdown, or an engine already replaced
        self._close_connection()
        self._process = self._process_info = None
        if not self._ready:  # it never started: a new one would only fail again
            message = f"The inference engine could not start ({why}; see the terminal for details)."
            if not self._start_failed:  # else the engine already said why
                self.failed.emit(0, message)
            self._fail_active(message)
            return
        message = (f"The inference engine stopped unexpectedly ({why}); the loaded model is gone. "
                   "A smaller variant (int8, fewer layers) or a shorter input needs less memory.")
        self._fail_active(message)
        self.engineLost.emit(message)
        self.start()

    def _fail_active(self, message: str) -> None:
        for number in sorted(self._active):
            self.failed.emit(number, message)
            self._finish(number, "failed")
