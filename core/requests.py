"""Immutable requests that cross from the UI (or CLI) to the engine. No torch here."""

import math
from dataclasses import dataclass

from .catalog import ModelEntry
from .errors import InputError
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
    max_new_tokens: int = 48  # translation: the window's and the CLI's default
    num_beams: int = 1
    generation: "GenerationSettings | None" = None  # text generation; None: greedy, max_new_tokens


@dataclass(frozen=True)
class GenerationSettings:
    """How a causal LM generates (core.generation): greedy, or sampling with temperature and top-p."""

    max_new_tokens: int = 64
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None  # sampling: the same seed gives the same text
    min_new_tokens: int | None = None  # benchmarks force a fixed amount of work

    def __post_init__(self):
        if not 1 <= self.max_new_tokens <= 32768:
            raise InputError("Max new tokens must be 1-32768.")
        if not (0 < self.temperature <= 100) or not (0 < self.top_p <= 1):  # NaN fails too
            raise InputError("Temperature must be above 0 (at most 100) and top-p in (0, 1].")
        if self.min_new_tokens is not None and not 0 <= self.min_new_tokens <= self.max_new_tokens:
            raise InputError("Min new tokens must be between 0 and max new tokens.")


@dataclass(frozen=True)
class Protocol:
    """How a benchmark measures (core.bench): the input's exact shape, warm-up, and when to stop."""

    batch_size: int = 1
    seq_len: int = 128
    warmup: int = 5
    min_iterations: int = 20
    min_seconds: float = 3.0
    max_seconds: float = 300.0  # a safety stop for very slow variants
    new_tokens: int = 32  # translation: tokens generated per iteration (forced, for a fixed amount of work)

    def __post_init__(self):
        if self.batch_size < 1 or self.seq_len < 4 or self.warmup < 0 or self.min_iterations < 1:
            raise InputError("Batch must be 1+, sequence length 4+, warm-up 0+ and iterations 1+.")
        if not (0 <= self.min_seconds < math.inf and 0 < self.max_seconds < math.inf) or self.new_tokens < 1:
            raise InputError("Seconds must be positive and new tokens at least 1.")  # NaN fails too
