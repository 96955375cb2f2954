"""The hardware advisor: what will be slow or impossible, said before the user waits for it.

No torch here (the GUI calls it on its own thread); device facts come in a DeviceInfo that the
engine filled in (core.devices.list_devices).
"""

import platform
from dataclasses import dataclass
from functools import cache

from .errors import DeviceError
from .variants import Variant


@dataclass(frozen=True)
class DeviceInfo:
    id: str  # "cpu", "cuda:0", "mps"
    name: str
    total_memory: int | None = None  # bytes of device memory; None for the CPU
    capability: tuple[int, int] | None = None  # CUDA compute capability

    @property
    def kind(self) -> str:
        return self.id.split(":")[0]




@cache
def _cpuinfo_field(name: str) -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith(name):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def cpu_name() -> str:
    return _cpuinfo_field("model name") or platform.processor() or platform.machine()


def cpu_flags() -> frozenset[str]:
    return frozenset(_cpuinfo_field("flags").split())


def cpu_device() -> DeviceInfo:
    return DeviceInfo("cpu", cpu_name())


def check_supported(device_id: str, variant: Variant) -> None:
    """Refuse variants the device cannot run at all."""
    if variant.int8 and not device_id.startswith("cpu"):
        raise DeviceError("int8 dynamic quantization runs on the CPU only; pick the CPU or turn int8 off.")


def advise(device: DeviceInfo, variant: Variant, flags: frozenset[str] | None = None) -> list[str]:
    """Warnings about slow or impossible paths for this variant on this device."""
    if variant.runtime != "torch":
        return _runtime_notes(variant, cpu_flags() if flags is None else flags)
    notes = []
    if variant.int8 and device.kind != "cpu":
        notes.append("int8 dynamic quantization runs on the CPU only.")
    if device.kind == "cpu":
        flags = cpu_flags() if flags is None else flags
        arm = platform.machine().lower() in ("arm64", "aarch64")
        if variant.precision == "bf16" and not (flags & {"avx512_bf16", "amx_bf16"} or arm):
            notes.append("bf16 is emulated on this CPU (no AVX512-BF16/AMX): matrix products were "
                         "measured over 100x slower than fp32 on such a CPU.")
        if variant.precision == "fp16" and not (flags & {"avx512_fp16", "amx_fp16"} or arm):
            notes.append("fp16 is emulated on this CPU (no AVX512-FP16/AMX-FP16): expect several times "
                         "slower than fp32, and token-by-token text generation 10-70x slower; it only saves "
                         "memory (bf16 or int8 save it too).")
    elif device.kind == "cuda" and device.capability is not None:
        if variant.precision == "bf16" and device.capability < (8, 0):
            notes.append("bf16 is emulated on this GPU (native from compute capability 8.0).")
        if variant.precision == "fp32" and device.capability >= (7, 0):
            notes.append("This GPU's tensor cores run fp16/bf16 much faster than fp32.")
    elif device.kind == "mps" and variant.precision == "bf16":
        notes.append("bf16 on MPS needs macOS 14 or newer.")
    return notes


def _runtime_notes(variant: Variant, flags: frozenset[str]) -> list[str]:
    """ONNX Runtime and OpenVINO rows run on the CPU; what this CPU lacks for them."""
    notes = []
    if variant.precision == "bf16" and not flags & {"avx512_bf16", "amx_bf16"}:
        notes.append("OpenVINO runs bf16 only where the CPU has AVX512-BF16 or AMX; this one has neither, "
                     "so the bf16 hint falls back to f32.")
    if variant.int8 and not flags & {"avx512_vnni", "avx_vnni", "amx_int8"}:
        notes.append("This CPU has no VNNI (int8 dot products): int8 speeds up less here than on one that has it.")
    return notes
