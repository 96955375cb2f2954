"""Measurement: phase timers with device synchronisation, and peak memory (the kernel's, or sampled).

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


def _restart_kernel_peak() -> bool:
    """Ask Linux to restart this process's peak RSS (VmHWM) from its current RSS; False where it cannot."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")
        return True
    except OSError:  # not Linux, a kernel before 4.0, or a sandbox that forbids it
        return False


def _kernel_peak() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise OSError("no VmHWM in /proc/self/status")


class MemorySampler:
    """The peak RSS of a span of work (a load, a benchmark). One at a time per process.

    On Linux the kernel keeps the peak itself (VmHWM; writing 5 to /proc/self/clear_refs restarts
    it): exact, every page counted, and free. Elsewhere a daemon thread samples RSS every
    `interval` seconds; that thread takes the GIL 200 times a second, which slowed a 1 x 128
    forward by about 5% (tests/benchmarks/fidelity.py), so it is only the fallback.

    Use as a context manager, or start()/stop(). `mark()` restarts the peak from now.
    """

    def __init__(self, interval: float = 0.005, use_kernel: bool = True) -> None:
        self.interval = interval
        self.kernel = use_kernel and _restart_kernel_peak()
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
        if self._thread is None and not self.kernel:
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
        if self.kernel:
            _restart_kernel_peak()
        value = rss_bytes()
        with self._lock:
            self._peak = self.last = value
        return value

    @property
    def peak(self) -> int:
        """Highest RSS since start or the last mark(), current value included."""
        self._sample()
        if self.kernel:
            with self._lock:
                self._peak = max(self._peak, _kernel_peak())
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


def available_bytes() -> int:
    """Memory that can be had now without swapping (the kernel's MemAvailable), in bytes."""
    return psutil.virtual_memory().available
