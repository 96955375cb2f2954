"""The on-disk cache of converted models: one folder per conversion, under the user's cache.

A conversion takes seconds to a minute (export, fusion, calibration), so its result is kept,
keyed by everything that changes it: the model and its files, layers kept, precision, int8 mode,
and the versions of the converting packages. torch-free: the CLI and the window list and remove
entries without loading anything.
"""

import hashlib
import json
import os
import shutil
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..report import write_json_atomic

RECIPE = 1  # bump when the conversion recipe changes what it writes: old entries stop matching
META = "meta.json"


def cache_root() -> Path:
    """<user cache>/model-size-lab/runtimes; SIZELAB_CACHE_DIR replaces <user cache>/model-size-lab."""
    if os.environ.get("SIZELAB_CACHE_DIR"):
        return Path(os.environ["SIZELAB_CACHE_DIR"]) / "runtimes"
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "model-size-lab" / "runtimes"


def files_fingerprint(folder: Path) -> list:
    """Name, size and modification time of each file in a folder: enough to see it was replaced."""
    try:
        return sorted([p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in folder.iterdir() if p.is_file())
    except OSError:
        return []


def key(parts: dict) -> str:
    blob = json.dumps(parts | {"recipe": RECIPE}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-." else "-" for c in text).strip("-")[:60]


def entry_dir(name: str, digest: str) -> Path:
    return cache_root() / f"{_slug(name)}-{digest[:10]}"


@dataclass(frozen=True)
class CacheEntry:
    path: Path
    meta: dict
    bytes: int

    @property
    def name(self) -> str:
        return self.path.name


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def read(folder: Path) -> CacheEntry | None:
    """The entry in a folder, or None if it is not a complete one."""
    try:
        meta = json.loads((folder / META).read_text(encoding="utf-8"))
        if not all((folder / name).is_file() for name in meta.get("files", [])) or not meta.get("files"):
            return None
        return CacheEntry(folder, meta, _folder_bytes(folder))
    except (OSError, ValueError, AttributeError, TypeError):
        return None


def entries() -> list[CacheEntry]:
    root = cache_root()
    found = [read(p) for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith(".")] \
        if root.is_dir() else []
    return [e for e in found if e is not None]


class Staging:
    """A hidden folder to convert into; commit() renames it into place, anything else removes it.

    A cancelled or failed conversion so leaves nothing a later load would take for a finished one.
    """

    def __init__(self, final: Path):
        self.final = final
        self.path = final.parent / f".staging-{uuid.uuid4().hex[:8]}-{final.name}"

    def __enter__(self) -> "Staging":
        self.path.mkdir(parents=True)
        return self

    def commit(self, meta: dict) -> CacheEntry:
        write_json_atomic(self.path / META, meta | {"created": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        try:
            os.replace(self.path, self.final)
        except OSError:  # another process finished the same conversion first: keep theirs
            shutil.rmtree(self.path, ignore_errors=True)
        entry = read(self.final)
        if entry is None:
            raise OSError(f"The converted model in {self.final} is incomplete.")
        return entry

    def __exit__(self, *exc) -> bool:
        shutil.rmtree(self.path, ignore_errors=True)
        return False


def remove(name: str | None = None) -> list[str]:
    """Remove one entry by folder name (or a unique prefix), or all of them (name None). Returns what went."""
    root = cache_root()
    if not root.is_dir():
        if name:
            raise InputError(f"No converted model {name!r}: the cache {root} is empty.")
        return []
    folders = [p for p in root.iterdir() if p.is_dir()]
    if name is not None:
        folders = [p for p in folders if p.name == name] or [p for p in folders if p.name.startswith(name)]
        if len(folders) != 1:
            raise InputError(f"{'No' if not folders else 'More than one'} converted model matches {name!r}; "
                             "`sizelab-cli runtimes` lists them.")
    removed = []
    for folder in folders:
        if folder.parent.resolve() == root.resolve() and not folder.is_symlink():
            shutil.rmtree(folder)
            removed.append(folder.name)
    return removed
