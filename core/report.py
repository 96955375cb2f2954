"""Writing results so that a crash never leaves half a file (the policy lives in core.safe_files),
as strict JSON: a NaN or an infinity (a model with damaged weights) is written as null."""

import json
import math
from pathlib import Path

from .safe_files import write_atomic

__all__ = ["finite", "has_non_finite", "json_text", "write_atomic", "write_json_atomic"]


def finite(data):
    """The same data with every NaN or infinite float replaced by None (JSON's null)."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {key: finite(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [finite(value) for value in data]
    return data


def has_non_finite(values) -> bool:
    return any(isinstance(v, float) and not math.isfinite(v) for v in values)


def json_text(data, **kwargs) -> str:
    """Strict JSON (RFC 8259 has no NaN): non-finite floats become null, and allow_nan=False proves it."""
    return json.dumps(finite(data), allow_nan=False, ensure_ascii=False, **kwargs)


def write_json_atomic(path: str | Path, data) -> Path:
    return write_atomic(path, json_text(data, indent=2) + "\n")
