"""Devices torch can use here, and how to drive them. The advice about them is core.advisor."""

import os

import torch

from .advisor import DeviceInfo, advise, check_supported, cpu_device, cpu_name  # noqa: F401 - one place to import from
from .errors import DeviceError


def list_devices() -> list[DeviceInfo]:
    """Every device torch can use here, the CPU first. Only what exists is listed."""
    found = [cpu_device()]
    try:
        if torch.cuda.is_available():
            for index in range(torch.cuda.device_count()):
                props = torch.cuda.get_device_properties(index)
                found.append(DeviceInfo(f"cuda:{index}", props.name, props.total_memory,
                                        (props.major, props.minor)))
    except RuntimeError:  # a broken driver: offer what works
        pass
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append(DeviceInfo("mps", "Apple GPU (MPS)"))
    return found


def find_device(device_id: str) -> DeviceInfo:
    """The DeviceInfo for an id, or DeviceError if it is not usable here."""
    found = list_devices()
    for device in found:
        if device.id == device_id:
            return device
    raise DeviceError(f"Device {device_id!r} is not available here; available: {', '.join(d.id for d in found)}.")


def synchronize(device: torch.device) -> None:
    """Wait for queued device work, so timers measure the work and not its launch."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def max_threads() -> int:
    """The most torch threads we ask for: far past any gain, and well below what the OS refuses
    (100,000 failed here with "can't start new thread"; 10**11 overflowed torch.set_num_threads)."""
    return 4 * max(1, os.cpu_count() or 1)


def set_threads(threads: int | None) -> int:
    """Set torch's intra-op threads (None keeps the current) and return what is in force."""
    if threads is not None:
        if threads < 1:
            raise DeviceError("Threads must be at least 1.")
        if threads > max_threads():
            raise DeviceError(f"Threads must be at most {max_threads()} here (4 per logical CPU).")
        torch.set_num_threads(threads)
    return torch.get_num_threads()
