"""The one long-lived worker that owns the engine (and so the model) in its own QThread.

Jobs queue behind it as queued signal calls; each carries a number, and the window drops results
of any job that is no longer current. Cancellation is a core CancelToken set from the UI thread.
torch is imported here only inside the worker thread (in `_on_thread_started`), never at start-up.
"""

import gc
import traceback
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, QThread, Signal, Slot

from core.cancel import CancelToken
from core.errors import Cancelled, SizeLabError


@dataclass(frozen=True)
class Job:
    number: int
    kind: str  # "load" | "run" | "run-continuous" | "unload" | "compare"
    request: object = None
    cancel: CancelToken = field(default_factory=CancelToken, compare=False)


def default_engine():
    from core.engine import Engine  # imports torch: called on the worker thread only

    # The libraries just imported live for good: out of later garbage collections with them, as
    # core.loading.release_memory does after each collection (a full one holds the GIL for 150 ms).
    gc.freeze()
    return Engine()


class InferenceWorker(QObject):
    """Lives in the worker thread; every slot runs there."""

    started = Signal(object, object)
    """The engine is ready: (devices, versions dict)."""
    progressed = Signal(int, object, str)
    """Job number, fraction (float or None), message."""
    loaded = Signal(int, object)
    """Job number, ModelSummary."""
    measured = Signal(int, object)
    """Job number, RunRecord: one request finished."""
    streamed = Signal(int, str)
    """Job number, translation text so far."""
    compared = Signal(int, object)
    """Job number, a core.compare record (row started, progress, row finished or failed, run finished)."""
    failed = Signal(int, str)
    """Job number, a message for the user."""
    finished = Signal(int, str)
    """Job number and how it ended: "done", "cancelled" or "failed". Always emitted, last."""

    def __init__(self, engine_factory=default_engine):
        super().__init__()
        self._engine_factory = engine_factory
        self._engine = None

    @Slot()
    def _on_thread_started(self) -> None:
        try:
            self._engine = self._engine_factory()
            devices = self._engine.devices()
            import importlib.metadata as md
            versions = {}
            for name in ("torch", "transformers"):
                try:
                    versions[name] = md.version(name)
                except md.PackageNotFoundError:
                    versions[name] = "?"
            self.started.emit(devices, versions)
        except Exception as exc:  # noqa: BLE001 - shown to the user, never swallowed
            self.failed.emit(0, f"The inference engine could not start: {exc}")

    @Slot(object)
    def handle(self, job: Job) -> None:
        outcome = "failed"
        try:
            if self._engine is None:
                raise SizeLabError("The inference engine is not running.")
            job.cancel.check()  # cancelled while it waited in the queue
            if job.kind == "load":
                summary = self._engine.load(job.request, job.cancel,
                                            lambda f, m: self.progressed.emit(job.number, f, m))
                self.loaded.emit(job.number, summary)
            elif job.kind == "run":
                record = self._engine.run(job.request, job.cancel,
                                          on_text=lambda delta, text, n: self.streamed.emit(job.number, text))
                self.measured.emit(job.number, record)
            elif job.kind == "run-continuous":
                for record in self._engine.run_continuously(job.request, job.cancel):
                    self.measured.emit(job.number, record)
            elif job.kind == "unload":
                self._engine.unload()
            elif job.kind == "compare":
                self._engine.unload()  # one model in memory at a time: the live view's goes first
                from core.compare import run_compare
                for record in run_compare(job.request, job.cancel):
                    self.compared.emit(job.number, record)
            outcome = "cancelled" if job.cancel.cancelled else "done"
        except Cancelled:
            outcome = "cancelled"
        except SizeLabError as exc:
            self.failed.emit(job.number, str(exc))
        except MemoryError:
            self._release()
            self.failed.emit(job.number, "Out of memory. Try a smaller batch or shorter text, int8, "
                                         "fewer layers, or the CPU.")
        except Exception as exc:  # noqa: BLE001 - an unexpected bug: shown, with its type, not a crash
            traceback.print_exc()
            self.failed.emit(job.number, f"Unexpected error ({type(exc).__name__}): {exc}")
        finally:
            self.finished.emit(job.number, outcome)

    def _release(self) -> None:
        try:
            if self._engine is not None:
                self._engine.unload()
        except Exception:  # noqa: BLE001 - releasing after an OOM is best effort
            traceback.print_exc()

    @Slot()
    def shutdown(self) -> None:
        """Drop the model on this thread, then end the thread's event loop."""
        self._release()
        self._engine = None
        self.thread().quit()


class EngineHost(QObject):
    """UI-thread side: owns the thread, numbers the jobs, cancels, and shuts down cleanly."""

    submitted = Signal(object)
    """A job for the worker (queued across threads)."""
    shutdownRequested = Signal()
    """The window is closing: the worker should release the model and stop."""
    jobFinished = Signal(int, str)
    """A job ended (number, outcome), re-emitted on the UI thread after the window has seen it."""

    def __init__(self, engine_factory=default_engine, parent=None):
        super().__init__(parent)
        self.thread = QThread()
        self.thread.setObjectName("inference-worker")
        self.worker = InferenceWorker(engine_factory)  # no parent: it is moved to the thread
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker._on_thread_started)
        self.submitted.connect(self.worker.handle)
        self.shutdownRequested.connect(self.worker.shutdown)
        self._number = 0
        self._active: dict[int, Job] = {}
        self.worker.finished.connect(self._on_worker_finished)

    def start(self) -> None:
        self.thread.start()

    def submit(self, kind: str, request=None) -> int:
        """Queue a job; return its number (newer jobs have larger numbers)."""
        self._number += 1
        job = Job(self._number, kind, request)
        self._active[job.number] = job
        self.submitted.emit(job)
        return job.number

    def cancel(self, number: int | None = None) -> None:
        """Cancel one job, or every job not yet finished."""
        for job in list(self._active.values()):
            if number is None or job.number == number:
                job.cancel.cancel()

    def busy(self) -> bool:
        return bool(self._active)

    @Slot(int, str)
    def _on_worker_finished(self, number: int, outcome: str) -> None:
        self._active.pop(number, None)
        self.jobFinished.emit(number, outcome)

    def shutdown(self, timeout_ms: int = 4000) -> bool:
        """Cancel everything, release the model, stop the thread. True if it stopped in time.

        A step that cannot be interrupted (reading weights inside from_pretrained) may outlast the
        timeout; then the thread is told to quit after that step, and the caller decides (the app
        exits without waiting for it: gui.app.main).
        """
        self.cancel()
        if not self.thread.isRunning():
            return True
        # Queued behind the (cancelled) jobs: the worker drops the model on its own thread and quits.
        self.shutdownRequested.emit()
        if self.thread.wait(timeout_ms):
            return True
        self.thread.quit()
        return False
