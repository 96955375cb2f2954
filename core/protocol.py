"""The engine protocol: every message between the window and the engine process, declared as types.

Both ends derive from this module: core/engine_process.py sends the events and obeys the commands;
gui/engine_host.py derives one Qt signal per event from EVENTS (signal_name) and unpickles only the
types this module allows (read_event), so nothing from the pipe can make the window import torch or
run code. A test checks that every event has its signal.

    window -> engine:  Submit(job, kind, request) · Cancel(job or None: every job) · Stop()
    engine -> window:  Started, EngineFailed (the engine itself), then per job, in order:
                       Progressed · Loaded · Measured · Streamed · Generated · Compared · Failed,
                       and always Finished last.

Changing a message's fields changes its meaning for the other end: bump VERSION with it. Torch-free
and Qt-free by construction (pyproject.toml's import contracts).
"""

import io
import pickle
from dataclasses import dataclass
from enum import StrEnum

from .advisor import DeviceInfo
from .compare_data import CompareRequest, Record as CompareRecord
from .records import ModelSummary, Outcome, RunRecord, TokenEvent
from .requests import LoadRequest, RunRequest

VERSION = 2  # 2: Loaded.kept


class JobKind(StrEnum):
    LOAD = "load"  # LoadRequest -> Progressed..., Loaded
    RUN = "run"  # RunRequest -> Streamed... or Generated..., Measured
    RUN_CONTINUOUS = "run-continuous"  # RunRequest -> Measured... until cancelled
    COMPARE = "compare"  # CompareRequest -> Compared... (the live model is unloaded first)


# ---------------------------------------------------------------- commands: window -> engine


@dataclass(frozen=True)
class Submit:
    job: int  # numbered by the window, increasing
    kind: JobKind
    request: LoadRequest | RunRequest | CompareRequest


@dataclass(frozen=True)
class Cancel:
    job: int | None  # None: every job not finished yet


@dataclass(frozen=True)
class Stop:
    """Cancel everything, then end the engine process."""


Command = Submit | Cancel | Stop


# ---------------------------------------------------------------- events: engine -> window


@dataclass(frozen=True)
class Started:
    """The engine is ready: the devices it can use, and its torch and transformers versions."""

    devices: tuple[DeviceInfo, ...]
    versions: dict[str, str]
    protocol: int = VERSION


@dataclass(frozen=True)
class EngineFailed:
    """The engine itself could not start; a message for the user."""

    message: str


@dataclass(frozen=True)
class Progressed:
    job: int
    fraction: float | None  # None: busy, no fraction known
    message: str


@dataclass(frozen=True)
class Loaded:
    """A model is loaded. kept: the load failed or was cancelled in its checks, before the model loaded
    earlier was touched; summary is that model, still loaded (Failed follows when it failed)."""

    job: int
    summary: ModelSummary
    kept: bool = False


@dataclass(frozen=True)
class Measured:
    """Requests finished, oldest first: one, or a batch when they come faster than BATCH_SECONDS."""

    job: int
    records: tuple[RunRecord, ...]


@dataclass(frozen=True)
class Streamed:
    job: int
    text: str  # the translation so far


@dataclass(frozen=True)
class Generated:
    job: int
    token: TokenEvent  # one new token of a text generation, as it was produced


@dataclass(frozen=True)
class Compared:
    job: int
    record: CompareRecord  # core.compare_data: row started, progress, row finished or failed, run finished


@dataclass(frozen=True)
class Failed:
    job: int
    message: str  # for the user


@dataclass(frozen=True)
class Finished:
    """Always the last event of a job."""

    job: int
    outcome: Outcome


ENGINE_EVENTS = (Started, EngineFailed)
JOB_EVENTS = (Progressed, Loaded, Measured, Streamed, Generated, Compared, Failed, Finished)
EVENTS = ENGINE_EVENTS + JOB_EVENTS
Event = (Started | EngineFailed | Progressed | Loaded | Measured | Streamed | Generated | Compared | Failed
         | Finished)

BATCH_SECONDS = 0.05  # Run continuously sends its records at most 20 times a second, however fast they come


def signal_name(event_type: type) -> str:
    """The Qt signal that carries an event: its class name, first letter lower (EngineFailed -> engineFailed)."""
    name = event_type.__name__
    return name[0].lower() + name[1:]


# ---------------------------------------------------------------- reading events in the window

# Only these modules' classes may be rebuilt from the pipe: plain data, torch-free by construction.
_READABLE_MODULES = frozenset({"core.protocol", "core.records", "core.compare_data", "core.catalog",
                               "core.variants", "core.requests", "core.advisor"})


class UnreadableEvent(Exception):
    """Bytes from the engine that are not one of EVENTS: the two ends no longer understand each other."""


class _EventUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if module in _READABLE_MODULES:
            return super().find_class(module, name)
        raise UnreadableEvent(f"the engine sent a {module}.{name}, which the window does not read")


def read_event(data: bytes) -> Event:
    """Unpickle one event from the engine, allowing only the protocol's own data types."""
    try:
        event = _EventUnpickler(io.BytesIO(data)).load()
    except UnreadableEvent:
        raise
    except Exception as exc:  # noqa: BLE001 - truncated or damaged bytes: one kind of failure for the host
        raise UnreadableEvent(f"{type(exc).__name__}: {exc}") from exc
    if not isinstance(event, EVENTS):
        raise UnreadableEvent(f"the engine sent a {type(event).__name__}, not an event")
    return event
