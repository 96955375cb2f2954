"""What the engine sends back: plain data, torch-free, so the window's process can read it without
importing torch (it unpickles these as they arrive from the engine process)."""

from dataclasses import dataclass, field
from enum import StrEnum


class ModelKind(StrEnum):
    """How a loaded model is called (core.loading decides, core.tasks and core.bench dispatch on it)."""

    SENTENCE = "sentence"  # the bundled encoder + mean pooling + a trained head
    SEQUENCE_CLASSIFICATION = "sequence-classification"  # a transformers classifier
    SEQ2SEQ = "seq2seq"  # an encoder-decoder translator (Marian, T5)
    CAUSAL_LM = "causal-lm"  # a decoder-only text generator (core.generation)


class Outcome(StrEnum):
    """How a job, or a Compare run, ended."""

    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"


@dataclass(frozen=True)
class ModelSummary:
    """What the model card shows after a load."""

    model_id: str
    name: str
    task: str
    source: str
    kind: ModelKind
    variant_label: str
    device: str
    labels: tuple[str, ...]
    synthetic: bool
    license: str
    info: dict


# why a text generation stopped (core.generation), as the result, the CLI and the window say it
STOP_REASONS = {
    "eos": "end-of-sequence token",
    "max_new_tokens": "reached max new tokens",
    "context": "reached the model's context length",
    "stopped": "stopped by the user",
}


@dataclass(frozen=True)
class TokenEvent:
    """One new token of a generation, as it was produced (core.generation): what the live view draws."""

    index: int  # 1 for the first new token
    seconds: float  # since generate() started
    delta: str  # text it added (may be "" while a symbol is incomplete)
    text: str  # all the text so far
    kv_cache_bytes: int  # the KV cache when the token was produced


@dataclass
class RunRecord:
    """One finished request, as the GUI, history and CLI show it."""

    model_name: str
    variant_label: str
    device: str
    task: str
    input_chars: int
    input_tokens: int
    latency: float  # seconds, all phases
    phases: dict[str, float]
    summary: str  # the result in plain words: "positive, 97%" or the translation
    scores: dict[str, float] = field(default_factory=dict)
    translation: str = ""
    time_to_first_token: float | None = None
    tokens_per_second: float | None = None
    rss: int = 0
    cuda: dict | None = None
    warnings: list[str] = field(default_factory=list)
    finished_at: float = 0.0  # time.monotonic()
    generation: dict | None = None  # text generation: core.generation.GenerationResult.to_dict()
    uncertain: bool = False  # classification under the confidence threshold, or not English
