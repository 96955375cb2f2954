"""Running a loaded model: classification and translation, each request timed by phase.

Phases: tokenize, model (forward or generate, device-synchronised), decode (probabilities and
labels, or tokens to text). Input longer than the model's limit is truncated, and the result says so.
"""

import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from transformers.generation.stopping_criteria import StoppingCriteria, StoppingCriteriaList
from transformers.generation.streamers import BaseStreamer

from . import calibration, language
from .cancel import CancelToken
from .errors import Cancelled, InputError, OutOfMemoryError
from .loading import LoadedModel, release_memory
from .measure import PhaseTimer
from .records import ModelKind
from .requests import RunRequest

MAX_CHARS = 1_000_000  # beyond this a paste is a mistake, not a sentence


@dataclass(frozen=True)
class Truncation:
    """How much of a text the model saw."""

    used_chars: int
    total_chars: int
    tokens: int

    def describe(self) -> str:
        return (f"Input truncated to the model's limit: used the first {self.used_chars:,} "
                f"of {self.total_chars:,} characters ({self.tokens} tokens).")


@dataclass
class Prediction:
    label: str
    scores: dict[str, float]  # label -> probability (calibrated where the model carries a temperature)
    uncertain: bool = False  # under the confidence threshold, or the text is not English

    def describe(self) -> str:
        text = f"{self.label}, {self.scores[self.label]:.0%}"
        return f"uncertain (leans {text})" if self.uncertain else text


@dataclass
class ClassificationResult:
    predictions: list[Prediction]
    phases: dict[str, float]
    tokens: list[int]
    truncations: list[Truncation | None]
    warnings: list[str] = field(default_factory=list)

    @property
    def latency(self) -> float:
        return sum(self.phases.values())


@dataclass
class TranslationResult:
    text: str
    new_tokens: int
    phases: dict[str, float]
    time_to_first_token: float | None
    input_tokens: int
    truncation: Truncation | None
    warnings: list[str] = field(default_factory=list)

    @property
    def latency(self) -> float:
        return sum(self.phases.values())

    @property
    def tokens_per_second(self) -> float | None:
        model_time = self.phases.get("model", 0.0)
        return self.new_tokens / model_time if model_time > 0 and self.new_tokens else None


def clean_text(text: str) -> str:
    """Make any str safe to tokenize: lone surrogates become U+FFFD. Empty text is an error."""
    if not isinstance(text, str):
        raise InputError("Text must be a string.")
    if len(text) > MAX_CHARS:
        raise InputError(f"Text is {len(text):,} characters; the limit is {MAX_CHARS:,}.")
    # Lone surrogates (from broken pastes) cannot be encoded; round-trip through UTF-16 makes them U+FFFD.
    text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if not text.strip():
        raise InputError("The text is empty; type a sentence first.")
    return text


def _tokenize(loaded: LoadedModel, texts: list[str], prefix: str = ""):
    """Tokenize with truncation; report for each text how much of it was used."""
    tokenizer = loaded.tokenizer
    limit = loaded.info.max_length
    inputs = [prefix + t for t in texts]
    fast = getattr(tokenizer, "is_fast", False)
    encoded = tokenizer(inputs, truncation=True, max_length=limit, padding=True, return_tensors="pt",
                        return_offsets_mapping=fast)
    offsets = encoded.pop("offset_mapping", None)
    mask = encoded["attention_mask"]
    truncations = []
    for i, text in enumerate(inputs):
        n_tokens = int(mask[i].sum())
        if n_tokens < limit:
            truncations.append(None)
            continue
        if offsets is not None:
            used = int(offsets[i].max())
        else:  # slow tokenizers have no offsets: count tokens once more, outside the hot path
            ids = tokenizer(text, truncation=False)["input_ids"]
            used = len(text) if len(ids) <= limit else int(len(text) * limit / len(ids))
        truncations.append(Truncation(used, len(text), n_tokens) if used < len(text.rstrip()) else None)
    if "token_type_ids" in encoded and loaded.kind == ModelKind.SEQ2SEQ:
        encoded.pop("token_type_ids")
    return encoded.to(loaded.device), truncations


NON_FINITE = ("The model's outputs are not finite numbers (NaN or infinity): its weights are damaged, "
              "or overflow in this precision. Scores are meaningless; JSON files show them as null.")


def new_token_limit(loaded: LoadedModel) -> int | None:
    """How many tokens a translator's decoder can generate: its learned or sinusoidal positions
    (Marian: max_position_embeddings); None where positions are relative (T5) and unbounded.
    Past it, generate() ended in an IndexError after minutes."""
    if loaded.kind != ModelKind.SEQ2SEQ:
        return None
    limit = getattr(getattr(loaded.model, "config", None), "max_position_embeddings", None)
    return limit if isinstance(limit, int) and limit > 0 else None


CPU_ALLOCATOR_FAILED = "can't allocate memory"


@contextmanager
def guard_memory(where: str):
    """Turn device or host out-of-memory into the documented error, after freeing what we can."""
    try:
        yield
    except (torch.OutOfMemoryError, MemoryError) as exc:
        release_memory()
        raise OutOfMemoryError(where) from exc
    except RuntimeError as exc:
        # torch's CPU allocator raises a plain RuntimeError ("[enforce fail at alloc_cpu.cpp] ...
        # DefaultCPUAllocator: can't allocate memory"), not torch.OutOfMemoryError (torch 2.13).
        if CPU_ALLOCATOR_FAILED not in str(exc):
            raise
        release_memory()
        raise OutOfMemoryError(where) from exc


def classify(loaded: LoadedModel, texts: list[str]) -> ClassificationResult:
    """Classify a batch of texts; scores are softmax probabilities per label."""
    if loaded.kind not in (ModelKind.SENTENCE, ModelKind.SEQUENCE_CLASSIFICATION):
        raise InputError(f"{loaded.entry.name} is a translation model; choose a classifier.")
    if not texts:
        raise InputError("No text to classify.")
    texts = [clean_text(t) for t in texts]
    timer = PhaseTimer(loaded.sync)
    with guard_memory(f"classifying {len(texts)} text(s) with {loaded.entry.name}"):
        with timer.phase("tokenize"):
            encoded, truncations = _tokenize(loaded, texts)
        with timer.phase("model"), torch.inference_mode():
            output = loaded.model(**encoded)
            logits = output if isinstance(output, torch.Tensor) else output.logits
        with timer.phase("decode"):
            temperature = calibration.temperature_for(loaded.model, loaded.request.variant)
            probs = torch.softmax(logits.float() / temperature, dim=-1).cpu().tolist()
            labels = loaded.labels or tuple(f"LABEL_{i}" for i in range(len(probs[0])))
            predictions = []
            for row in probs:
                scores = dict(zip(labels, row))
                predictions.append(Prediction(max(scores, key=scores.get), scores,
                                              calibration.is_uncertain(max(row))))
    tokens = encoded["attention_mask"].sum(dim=1).tolist()
    warnings = [t.describe() for t in truncations if t]
    if not bool(torch.isfinite(logits).all()):
        warnings.append(NON_FINITE)
    for text, prediction in zip(texts, predictions):
        foreign = language.not_english(text)
        if foreign:  # an English-only model's label for it is a guess: say so, never a confident label
            prediction.uncertain = True
            warnings.append(foreign)
    return ClassificationResult(predictions, timer.seconds, tokens, truncations, warnings)


class _TokenStream(BaseStreamer):
    """Receives tokens from generate(); reports the text so far and the time of the first token."""

    def __init__(self, tokenizer, on_text, started: float):
        self.tokenizer, self.on_text, self.started = tokenizer, on_text, started
        self.ids: list[int] = []
        self.first_token_at: float | None = None
        self._seen_prompt = False
        self._text = ""

    def put(self, value):
        if not self._seen_prompt:  # generate() first pushes the decoder's start token
            self._seen_prompt = True
            return
        if self.first_token_at is None:
            self.first_token_at = time.perf_counter()
        self.ids.extend(int(v) for v in value.reshape(-1).tolist())
        if self.on_text is not None:  # every token, even one that adds no text (special or partial)
            text = _decode(self.tokenizer, self.ids)
            delta = text[len(self._text):] if text.startswith(self._text) else text
            self._text = text
            self.on_text(delta, text, len(self.ids))

    def end(self):
        pass


class _StopOnCancel(StoppingCriteria):
    def __init__(self, cancel: CancelToken):
        self.cancel = cancel

    def __call__(self, input_ids, scores, **kwargs):
        return torch.full((input_ids.shape[0],), self.cancel.cancelled, dtype=torch.bool, device=input_ids.device)


def _decode(tokenizer, ids: list[int]) -> str:
    """Decode ids; ids beyond the tokenizer's vocabulary (synthetic models) show as <id>."""
    size = len(tokenizer)
    pieces, run = [], []
    for i in ids:
        if i < size:
            run.append(i)
        else:
            if run:
                pieces.append(tokenizer.decode(run, skip_special_tokens=True))
                run = []
            pieces.append(f"<{i}>")
    if run:
        pieces.append(tokenizer.decode(run, skip_special_tokens=True))
    return " ".join(p for p in pieces if p)


def translate(loaded: LoadedModel, text: str, max_new_tokens: int = RunRequest.max_new_tokens, num_beams: int = 1,
              on_text=None, cancel: CancelToken | None = None,
              min_new_tokens: int | None = None) -> TranslationResult:
    """Translate one text. With greedy search, on_text(delta, text_so_far, n_tokens) streams it.

    Beam search cannot stream (the best beam is known only at the end): on_text is called once.
    """
    if loaded.kind != ModelKind.SEQ2SEQ:
        raise InputError(f"{loaded.entry.name} is a classifier; choose a translation model.")
    if not 1 <= max_new_tokens <= 4096 or not 1 <= num_beams <= 16:
        raise InputError("Max new tokens must be 1-4096 and beams 1-16.")
    text = clean_text(text)
    cancel = cancel or CancelToken()
    capped = []
    limit = new_token_limit(loaded)
    if limit and max_new_tokens > limit:
        capped.append(f"Generated at most {limit} new tokens, not {max_new_tokens}: "
                      f"the model's decoder has {limit} positions.")
        max_new_tokens = limit
        min_new_tokens = min(min_new_tokens, limit) if min_new_tokens is not None else None
    timer = PhaseTimer(loaded.sync)
    streamer = None
    with guard_memory(f"translating with {loaded.entry.name}"):
        with timer.phase("tokenize"):
            encoded, truncations = _tokenize(loaded, [text], loaded.entry.prefix)
        started = time.perf_counter()
        if num_beams == 1:
            streamer = _TokenStream(loaded.tokenizer, on_text, started)
        with timer.phase("model"), torch.inference_mode():
            output = loaded.model.generate(
                **encoded, max_new_tokens=max_new_tokens, min_new_tokens=min_new_tokens,
                num_beams=num_beams, do_sample=False, streamer=streamer,
                stopping_criteria=StoppingCriteriaList([_StopOnCancel(cancel)]))
        if cancel.cancelled:
            raise Cancelled()
        with timer.phase("decode"):
            start_id = loaded.model.generation_config.decoder_start_token_id
            ids = [int(i) for i in output[0].tolist()]
            if ids and ids[0] == start_id:
                ids = ids[1:]
            translation = _decode(loaded.tokenizer, ids)
    if streamer is None and on_text is not None:
        on_text(translation, translation, len(ids))
    ttft = streamer.first_token_at - started if streamer and streamer.first_token_at else None
    truncation = truncations[0]
    warnings = ([truncation.describe()] if truncation else []) + capped
    return TranslationResult(translation, len(ids), timer.seconds, ttft,
                             int(encoded["attention_mask"].sum()), truncation, warnings)
