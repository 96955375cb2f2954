"""Immutable requests that cross from the UI (or CLI) to the engine. No torch here."""

from dataclasses import dataclass

from .catalog import ModelEntry
from .variants import Variant


@dataclass(frozen=True)
class LoadRequest:
    """Everything needed to load one variant."""

    entry: ModelEntry
    variant: Variant = Variant()
    device: str = "cpu"
    threads: int | None = None
    allow_pickle: bool = False  # the user's explicit consent to unpickle (with weights_only=True)
    allow_download: bool = True


@dataclass(frozen=True)
class RunRequest:
    """One inference request."""

    texts: tuple[str, ...]
    max_new_tokens: int = 64
    num_beams: int = 1
