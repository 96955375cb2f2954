"""The Live tab's session, without widgets: the jobs, the loaded model, the records waiting to be shown.

MainWindow turns user actions into calls here and shows what the signals say; tests drive this
object against the fake engine with no window at all. One load and one run at a time: a new load
abandons the previous one (its late results never arrive) and stops the run.
"""

import time
from collections import deque

from PySide6.QtCore import QObject, Signal, Slot

from core.protocol import JobKind
from core.records import ModelSummary, RunRecord
from core.requests import LoadRequest, RunRequest

from .engine_host import EngineHost, JobHandle


class LiveSession(QObject):
    loadStarted = Signal(str)
    """A load was submitted: the model's name."""
    loadProgressed = Signal(object, str)
    """fraction (float or None: busy), message."""
    loaded = Signal(object)
    """The ModelSummary of the model now loaded."""
    kept = Signal(object)
    """A load failed or was cancelled before the loaded model was touched: the LoadRequest of that model,
    still loaded (the panel shows it again)."""
    loadFinished = Signal(str, bool)
    """The load ended: its Outcome, and whether a model is loaded."""
    runStarted = Signal(bool)
    """A run was submitted: continuous or once."""
    tokenGenerated = Signal(object)
    """One new token of a text generation (core.records.TokenEvent), as it arrives."""
    runFinished = Signal(str)
    """The run ended: its Outcome."""
    modelLost = Signal(str)
    """The model is gone without a load (a Compare run unloaded it, the engine died): why, in a word."""
    errorRaised = Signal(str)
    """A job or the engine failed: a message for the user."""

    def __init__(self, host: EngineHost, parent=None):
        super().__init__(parent)
        self.host = host
        self.load_job: JobHandle | None = None
        self.run_job: JobHandle | None = None
        self.summary: ModelSummary | None = None  # the loaded model's
        self.loaded_request: LoadRequest | None = None  # what loaded it: Run compares the panel's with it
        self._load_request: LoadRequest | None = None  # the load going on
        self.stream_text: str | None = None  # the translation so far, until its record arrives
        self._pending: list[RunRecord] = []
        self._completions: deque[float] = deque()  # finish times (time.monotonic) within the last second
        host.engineFailed.connect(self._on_engine_failed)
        host.engineLost.connect(self._on_engine_lost)

    # ------------------------------------------------------------ what the user asks

    def load(self, request: LoadRequest) -> None:
        if self.run_job is not None:
            self.run_job.cancel()
        if self.load_job is not None:
            self.load_job.abandon()  # superseded: nothing of it arrives any more
        self.summary = None
        self._load_request = request
        job = self.load_job = self.host.submit(JobKind.LOAD, request)
        job.progressed.connect(self._on_load_progressed)
        job.loaded.connect(self._on_load_loaded)
        job.failed.connect(self._on_job_failed)
        job.finished.connect(self._on_load_finished)
        self.loadStarted.emit(request.entry.name)

    def cancel_load(self) -> bool:
        """True if there was a load to cancel."""
        if self.load_job is None:
            return False
        self.load_job.cancel()
        return True

    def run(self, request: RunRequest, continuous: bool) -> bool:
        """Submit a run of the loaded model; False (nothing done) with no model or a run going on."""
        if self.summary is None or self.run_job is not None:
            return False
        self.stream_text = None
        job = self.run_job = self.host.submit(JobKind.RUN_CONTINUOUS if continuous else JobKind.RUN, request)
        job.measured.connect(self._on_run_measured)
        job.streamed.connect(self._on_run_streamed)
        job.generated.connect(self._on_run_generated)
        job.failed.connect(self._on_job_failed)
        job.finished.connect(self._on_run_finished)
        self.runStarted.emit(continuous)
        return True

    def stop(self) -> None:
        if self.run_job is not None:
            self.run_job.cancel()

    def forget_model(self, why: str) -> None:
        """The engine no longer holds the model (a Compare run unloads it first)."""
        self.summary = self.loaded_request = None
        self.modelLost.emit(why)

    # ------------------------------------------------------------ what the views take

    def add_records(self, records) -> None:
        """Finished requests, to be shown at the next redraw (the run's, or a benchmark's own)."""
        self._pending.extend(records)
        self.stream_text = None

    def take_records(self) -> list[RunRecord]:
        """The requests finished since the last call, oldest first (the window takes them once a redraw cycle)."""
        records, self._pending = self._pending, []
        self._completions.extend(record.finished_at for record in records)
        return records

    def requests_last_second(self) -> int:
        horizon = time.monotonic() - 1.0
        while self._completions and self._completions[0] <= horizon:
            self._completions.popleft()
        return len(self._completions)

    def clear_throughput(self) -> None:
        self._completions.clear()

    # ------------------------------------------------------------ the jobs' signals

    @Slot(object)
    def _on_load_progressed(self, event) -> None:
        self.loadProgressed.emit(event.fraction, event.message)

    @Slot(object)
    def _on_load_loaded(self, event) -> None:
        self.summary = event.summary
        if event.kept:
            self.kept.emit(self.loaded_request)
        else:
            self.loaded_request = self._load_request
            self.loaded.emit(event.summary)

    @Slot(object)
    def _on_load_finished(self, event) -> None:
        self.load_job = self._load_request = None
        if self.summary is None:
            self.loaded_request = None
        self.loadFinished.emit(event.outcome, self.summary is not None)

    @Slot(object)
    def _on_run_measured(self, event) -> None:
        self.add_records(event.records)

    @Slot(object)
    def _on_run_streamed(self, event) -> None:
        self.stream_text = event.text

    @Slot(object)
    def _on_run_generated(self, event) -> None:
        self.stream_text = event.token.text
        self.tokenGenerated.emit(event.token)

    @Slot(object)
    def _on_run_finished(self, event) -> None:
        self.run_job = None
        self.runFinished.emit(event.outcome)

    @Slot(object)
    def _on_job_failed(self, event) -> None:
        self.errorRaised.emit(event.message)

    @Slot(object)
    def _on_engine_failed(self, event) -> None:
        self.errorRaised.emit(event.message)

    @Slot(str)
    def _on_engine_lost(self, message: str) -> None:
        self.forget_model("Engine stopped")
        self.errorRaised.emit(message)

