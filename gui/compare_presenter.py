"""The Compare tab's state, without widgets: the job, the records folded into the run, the run shown.

CompareView builds the widgets and shows what this says; the table model (gui/compare_table.py)
and the plots (gui/compare_plots.py) draw the run. Records are queued as they arrive and folded
once per redraw tick (fold), so a fast run never costs the window one update per record.
"""

from PySide6.QtCore import QObject, Signal, Slot

from core import compare_data
from core.compare_data import CompareRequest, RowProgress, RowStatus, RunFinished, RunStarted
from core.protocol import JobKind
from core.records import Outcome

from .engine_host import EngineHost, JobHandle


class ComparePresenter(QObject):
    started = Signal()
    """A comparison was submitted (the engine unloads the live view's model first)."""
    progressed = Signal(object)
    """The latest RowProgress since the last fold."""
    changed = Signal()
    """The run's rows changed (or another run is shown): table, references and plots again."""
    finished = Signal(str)
    """The comparison ended: its Outcome (the run keeps what finished; error says why it failed)."""

    def __init__(self, host: EngineHost, parent=None):
        super().__init__(parent)
        self.host = host
        self.run: dict | None = None  # what is shown: the current or a re-opened run
        self.source = ""  # where self.run came from: "" while measuring, else a file name
        self.error = ""  # why the last comparison failed
        self._job: JobHandle | None = None
        self._collector = compare_data.RunCollector()
        self._pending: list = []

    def running(self) -> bool:
        return self._job is not None

    def start(self, request: CompareRequest) -> None:
        # A continuous live run would hold the one engine forever: stop whatever it is doing.
        self.host.cancel_all()
        self._collector = compare_data.RunCollector()
        self._pending.clear()
        self.run, self.source, self.error = None, "", ""
        job = self._job = self.host.submit(JobKind.COMPARE, request)
        job.compared.connect(self._on_job_compared)
        job.failed.connect(self._on_job_failed)
        job.finished.connect(self._on_job_finished)
        self.changed.emit()
        self.started.emit()

    def cancel(self) -> bool:
        """True if there was a comparison to cancel (it stops after its current step)."""
        if self._job is None:
            return False
        self._job.cancel()
        return True

    def show(self, run: dict, source: str) -> None:
        """Show a finished or re-opened run."""
        self.run, self.source = run, source
        self.changed.emit()

    def fold(self) -> None:
        """Fold the records that arrived since the last call into the run; say what changed."""
        records, self._pending = self._pending, []
        progress, dirty = None, False
        for record in records:
            self._collector.add(record)
            if isinstance(record, RowProgress):
                progress = record
            else:
                dirty = True
            if isinstance(record, RunStarted):
                self.run = self._collector.run  # the collector fills this same dict from now on
        if progress is not None:
            self.progressed.emit(progress)
        if dirty:
            self.changed.emit()

    def summary(self) -> str:
        rows = self.run["rows"] if self.run else []
        done = sum(row["status"] == RowStatus.DONE for row in rows)
        failed = sum(row["status"] == RowStatus.FAILED for row in rows)
        return f"{done} of {len(rows)} rows measured" + (f", {failed} failed" if failed else "")

    @Slot(object)
    def _on_job_compared(self, event) -> None:
        self._pending.append(event.record)  # folded at the next tick, never per record

    @Slot(object)
    def _on_job_failed(self, event) -> None:
        self.error = event.message

    @Slot(object)
    def _on_job_finished(self, event) -> None:
        self._job = None
        self.fold()  # the last records
        if self.run is not None and self.run["outcome"] == "running":
            # It ended without its last record (the engine process died): its unfinished rows say so.
            self._pending.append(RunFinished(Outcome(event.outcome)))
            self.fold()
        self.finished.emit(event.outcome)
