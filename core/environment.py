"""The environment a measurement was taken in, recorded beside every report."""

import os
import platform
import subprocess
import sys
from pathlib import Path

import psutil
import torch
import transformers

from . import __version__, devices, runtimes


def git_revision() -> str | None:
    root = Path(__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return None
    try:
        result = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                                text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None


def environment(device: str = "cpu") -> dict:
    return {
        "app_version": __version__,
        "git_revision": git_revision(),
        "cpu": devices.cpu_name(),
        "cpu_cores_logical": os.cpu_count(),
        "cpu_cores_physical": psutil.cpu_count(logical=False),
        "ram_bytes": psutil.virtual_memory().total,
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "torch": str(torch.__version__),  # a TorchVersion otherwise: unpickling it would import torch
        "transformers": transformers.__version__,
        "runtimes": runtimes.versions(),  # onnx, onnxruntime, openvino, nncf: None where not installed
        "device": device,
        "devices": [d.__dict__ for d in devices.list_devices()],
        "threads": torch.get_num_threads(),
    }
