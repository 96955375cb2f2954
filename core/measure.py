"""Measurement: phase timers with device synchronisation, and a background memory sampler.

Names are precise on purpose: RSS is the process's resident memory, not "model memory".
"""

import threading
import time
from contextlib import contextmanager

import psutil


_PROCESS = psutil.Process()


def rss_bytes() -> int:
    """Resident set size of this process, in bytes."""
    return _PROCESS.memory_info().rss


class PhaseTimer:
    """Times named phases of one request; `sync` waits for the device before each clock read."""

    def __init__(self, sync=None) -> None:
        self._sync = sync or (lambda: None)
        self.seconds: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str):
        self._sync()
        start = time.perf_counter()
        try:
            yield
        finally:
            self._sync()
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

    @property
    def total(self) -> float:
        return sum(self.seconds.values())


class MemorySampler:
    """Samples process RSS on a daemon thread every `interval` seconds and keeps the peak.

    Use as a context manager, or start()/stop(). `mark()` restarts the peak from now, so a
    caller can ask for the peak of one load or one benchmark.
    """

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._peak = rss_bytes()
        self.last = self._peak
        self.samples = 0

    def _sample(self) -> None:
        value = rss_bytes()
        with self._lock:
            self.last = value
            self.samples += 1
            if value > self._peak:
                self._peak = value

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def start(self) -> "MemorySampler":
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        self._sample()

    def mark(self) -> int:
        """Restart the peak from the current RSS, and return that RSS."""
        value = rss_bytes()
        with self._lock:
            self._peak = self.last = value
        return value

    @property
    def peak(self) -> int:
        """Highest RSS seen since start or the last mark(), current value included."""
        self._sample()
        with self._lock:
            return self._peak

    def __enter__(self) -> "MemorySampler":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def cuda_memory(device) -> dict | None:
    """CUDA allocated / reserved / peak allocated bytes for a torch device, or None off CUDA."""
    import torch

    if getattr(device, "type", None) != "cuda":
        return None
    return {
        "cuda_allocated": torch.cuda.memory_allocated(device),
        "cuda_reserved": torch.cuda.memory_reserved(device),
        "cuda_peak_allocated": torch.cuda.max_memory_allocated(device),
    }
