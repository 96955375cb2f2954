"""A stand-in for core.engine.Engine at the engine process's edge, to drive error paths on demand.

It runs where the real engine runs, in the engine process, so it must be picklable and Qt-free:
tests pass `functools.partial(FakeEngine, ...)` as the window's engine factory. What it did (loads,
runs, unloads) is written to a JSON file after every change, since the test lives in another process.
"""

import json
import multiprocessing
import threading
import time
from pathlib import Path

from core.errors import Cancelled
from core.records import ModelSummary, RunRecord


class FakeEngine:
    def __init__(self, counts: str | Path | None = None, load_steps=3, step_seconds=0.0, load_error=None,
                 run_error=None, run_errors=0, run_seconds=0.0, exit_on_run=False, unreadable_run=False,
                 fail_model=None):
        """load_error is raised by every load, or only by loads of the model id fail_model, as the real
        engine's checks raise it: before the model loaded earlier is touched (it stays, in `summary`);
        run_error is raised by the first run_errors runs (all runs when run_errors is 0);
        exit_on_run ends the engine process on the first run, as a crash or the out-of-memory killer would;
        unreadable_run returns a record the window cannot unpickle (a version mismatch, a damaged pipe)."""
        self.counts_path = Path(counts) if counts else None
        self.load_steps, self.step_seconds = load_steps, step_seconds
        self.load_error, self.run_error, self.run_errors = load_error, run_error, run_errors
        self.run_seconds, self.exit_on_run, self.unreadable_run = run_seconds, exit_on_run, unreadable_run
        self.fail_model = fail_model
        self.loads = self.runs = self.unloads = self.failed_runs = 0
        self.summary = None

    @staticmethod
    def counts(path: str | Path) -> dict:
        """What the engine (in its own process) did so far."""
        try:
            return json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"loads": 0, "runs": 0, "unloads": 0}

    def _save_counts(self) -> None:
        if self.counts_path is not None:
            temporary = self.counts_path.with_suffix(".tmp")
            temporary.write_text(json.dumps({"loads": self.loads, "runs": self.runs, "unloads": self.unloads}),
                                 encoding="utf-8")
            temporary.replace(self.counts_path)

    def devices(self):
        from core.advisor import cpu_device
        return [cpu_device()]

    def load(self, request, cancel, progress):
        for step in range(self.load_steps):
            cancel.check()
            progress(step / self.load_steps, f"Fake step {step}")
            time.sleep(self.step_seconds)
        cancel.check()
        if self.load_error is not None and self.fail_model in (None, request.entry.id):
            raise self.load_error
        self.loads += 1
        self._save_counts()
        self.summary = ModelSummary(model_id=request.entry.id, name=request.entry.name, task=request.entry.task,
                            source=request.entry.source, kind="sentence", variant_label="fp32", device="cpu",
                            labels=("negative", "positive"), synthetic=False, license="",
                            info={"params_total": 10, "params_non_embedding": 5, "weight_bytes": 40, "layers": 1,
                                  "layers_full": 1, "derivation": ["fake"], "warnings": [], "origin": "fake",
                                  "load_seconds": 0.01, "rss_before_load": 1 << 20, "rss_after_load": 2 << 20,
                                  "rss_peak_load": 2 << 20, "max_length": 8})
        return self.summary

    def unload(self):
        self.summary = None
        self.unloads += 1
        self._save_counts()

    def run(self, request, cancel, on_text=None, on_token=None):
        cancel.check()
        if self.exit_on_run:
            import os
            os._exit(3)
        time.sleep(self.run_seconds)
        if self.run_error is not None and (self.run_errors == 0 or self.failed_runs < self.run_errors):
            self.failed_runs += 1
            raise self.run_error
        self.runs += 1
        self._save_counts()
        return RunRecord(model_name="fake", variant_label="fp32", device="cpu", task="classification",
                         input_chars=len(request.texts[0]), input_tokens=3, latency=0.001,
                         phases={"tokenize": 0.0002, "model": 0.0007, "decode": 0.0001},
                         summary="positive, 90%", scores={"negative": 0.1, "positive": 0.9},
                         cuda={"unreadable": Unreadable()} if self.unreadable_run else None,
                         finished_at=time.monotonic())

    def run_continuously(self, request, cancel):
        while not cancel.cancelled:
            try:
                yield self.run(request, cancel)
            except Cancelled:
                return


class Unreadable:
    """Pickles in the engine process; unpickling it in the window raises."""

    def __reduce__(self):
        return _refuse_to_unpickle, ()


def _refuse_to_unpickle():
    raise ValueError("this event cannot be read here")


class RecordingProcess(multiprocessing.get_context("spawn").Process):
    """The engine's process object, noting which threads wait for it (the UI thread must not)."""

    joined_on: list[str] = []

    def join(self, timeout=None):
        RecordingProcess.joined_on.append(threading.current_thread().name)
        return super().join(timeout)


def broken_engine():
    """An engine factory that fails, as a broken torch install would."""
    raise ImportError("libtorch_cpu.so: cannot open shared object file")


def slow_starting_engine(seconds: float):
    """An engine that takes its time to start, as torch's import does on a cold disk."""
    time.sleep(seconds)
    return FakeEngine()
