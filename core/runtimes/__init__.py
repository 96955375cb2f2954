"""Runtimes as a lever: ONNX Runtime and OpenVINO beside PyTorch eager, for encoder classifiers.

This module is torch-free (the window imports it to list what is installed); the conversion, which
needs torch, is core.runtimes.convert, and the on-disk cache of converted models is core.runtimes.cache.
A runtime is optional: it is offered only where its packages are installed, and where they are not,
the app says which extra to install.
"""

import importlib.metadata
import importlib.util
from dataclasses import dataclass

from ..errors import UnsupportedModelError
from ..records import ModelKind
from ..variants import RUNTIMES


@dataclass(frozen=True)
class RuntimeSpec:
    name: str  # as in Variant.runtime
    title: str  # for people
    modules: tuple[str, ...]  # import names that must be installed
    int8_modules: tuple[str, ...]  # and these for its int8
    extra: str  # pip extra of model-size-lab
    int8_method: str  # how its int8 is made, for reports
    int8_label: str  # the same, short, for the int8 check box


SPECS = {
    "torch": RuntimeSpec("torch", "PyTorch eager", ("torch",), (), "",
                         "dynamic int8 of Linear layers (torch.ao, per-tensor weights)",
                         "int8 (dynamic, Linear layers)"),
    "onnxruntime": RuntimeSpec("onnxruntime", "ONNX Runtime", ("onnx", "onnxruntime"), (), "onnx",
                               "dynamic int8 (QInt8 weights, per-channel) after transformer fusion",
                               "int8 (dynamic, QInt8 per-channel)"),
    "openvino": RuntimeSpec("openvino", "OpenVINO", ("openvino",), ("nncf",), "openvino",
                            "post-training int8 (NNCF, calibrated on the sentiment training texts)",
                            "int8 (NNCF post-training, calibrated)"),
}
DISTRIBUTIONS = {"torch": "torch", "onnx": "onnx", "onnxruntime": "onnxruntime", "openvino": "openvino",
                 "nncf": "nncf"}
KINDS = (ModelKind.SENTENCE, ModelKind.SEQUENCE_CLASSIFICATION)  # what converts today: encoder classifiers


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None  # finds, never imports
    except (ImportError, ValueError):
        return False


def installed(runtime: str, int8: bool = False) -> bool:
    spec = SPECS[runtime]
    return all(_installed(m) for m in spec.modules + (spec.int8_modules if int8 else ()))


def available() -> list[str]:
    """The runtimes installed here, torch first."""
    return [r for r in RUNTIMES if installed(r)]


def install_hint(runtime: str) -> str:
    spec = SPECS[runtime]
    return f"pip install 'model-size-lab[{spec.extra}]'" if spec.extra else "pip install torch"


def missing_note() -> str:
    """One line on the runtimes that are not installed and how to add them, or "" if all are."""
    missing = [r for r in RUNTIMES if not installed(r, int8=True)]
    return "; ".join(f"{SPECS[r].title}: {install_hint(r)}" for r in missing)


def version(package: str) -> str | None:
    try:
        return importlib.metadata.version(DISTRIBUTIONS.get(package, package))
    except importlib.metadata.PackageNotFoundError:
        return None


def versions() -> dict[str, str | None]:
    """The versions a converted model depends on (None: not installed); part of every cache key."""
    return {name: version(name) for name in ("onnx", "onnxruntime", "openvino", "nncf")}


def require(runtime: str, int8: bool, kind: str | None = None, device: str = "cpu") -> None:
    """Refuse a runtime row that cannot run here, with what to do about it."""
    if runtime == "torch":
        return
    spec = SPECS[runtime]
    if not installed(runtime, int8):
        missing = [m for m in spec.modules + (spec.int8_modules if int8 else ()) if not _installed(m)]
        raise UnsupportedModelError(
            f"{spec.title} is not installed here (missing {', '.join(missing)}); add it with {install_hint(runtime)}.")
    if not device.startswith("cpu"):
        raise UnsupportedModelError(f"{spec.title} rows run on the CPU here; pick the CPU device.")
    if kind is not None and kind not in KINDS:
        raise UnsupportedModelError(
            f"{spec.title} converts encoder classifiers only so far; run translation with torch.")
