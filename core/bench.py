"""The benchmark protocol: warm-up, then at least N iterations AND at least S seconds.

Like optimum-benchmark and MLPerf, inputs have an exact shape (batch x sequence length), built
from real text so token ids are realistic. Each iteration is one device-synchronised forward pass
(classification) or one generate() of a fixed number of new tokens (translation).
The run is a generator of records, so the GUI, CLI and tests share it.
"""

import json
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

import torch

from . import paths
from .cancel import CancelToken, Progress, no_progress
from .loading import LoadedModel
from .errors import OutOfMemoryError
from .measure import MemorySampler, available_bytes, cuda_memory, rss_bytes
from .records import ModelKind
from .requests import Protocol  # noqa: F401 - defined with the other requests (torch-free); one place to import from
from .stats import Stats
from .tasks import guard_memory, new_token_limit

GENERATIVE = (ModelKind.SEQ2SEQ, ModelKind.CAUSAL_LM)  # each iteration is one generate() of protocol.new_tokens tokens


@dataclass(frozen=True)
class Sample:
    """One timed iteration."""

    index: int
    seconds: float
    warmup: bool


@dataclass
class BenchReport:
    protocol: dict
    model: dict
    latency: dict  # Stats of the measured iterations, seconds
    first_inference_seconds: float
    throughput_items_per_s: float
    throughput_tokens_per_s: float
    memory: dict
    samples: list[float] = field(default_factory=list)
    warmup_samples: list[float] = field(default_factory=list)
    environment: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _corpus_ids(tokenizer, needed: int) -> list[int]:
    """Token ids of real English text (the shipped dev sentences), at least `needed` of them."""
    path = paths.SENTIMENT_DATA / "dev.jsonl"
    texts = [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()] \
        if path.is_file() else ["the quick brown fox jumps over the lazy dog"]
    ids: list[int] = []
    for piece in tokenizer(texts, add_special_tokens=False)["input_ids"]:  # one at a time: no length warning
        ids.extend(piece)
    while len(ids) < needed:
        ids = ids + ids
    return ids


def _special_template(tokenizer) -> tuple[list[int], list[int]]:
    """The special tokens a tokenizer puts before and after a text (e.g. [CLS] ... [SEP], or ... </s>)."""
    plain = tokenizer("hello", add_special_tokens=False)["input_ids"]
    full = tokenizer("hello")["input_ids"]
    for start in range(len(full) - len(plain) + 1):
        if full[start:start + len(plain)] == plain:
            return full[:start], full[start + len(plain):]
    return [], []


def bench_inputs(loaded: LoadedModel, protocol: Protocol) -> dict:
    """Input tensors of exactly batch x seq_len tokens (special tokens included), no padding."""
    tokenizer = loaded.tokenizer
    seq_len = min(protocol.seq_len, loaded.info.max_length)
    prefix, suffix = _special_template(tokenizer)
    width = seq_len - len(prefix) - len(suffix)
    ids = _corpus_ids(tokenizer, protocol.batch_size * width)
    rows = [prefix + ids[b * width:(b + 1) * width] + suffix for b in range(protocol.batch_size)]
    input_ids = torch.tensor(rows, dtype=torch.long)
    inputs = {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}
    if "token_type_ids" in getattr(tokenizer, "model_input_names", ()) and loaded.kind not in GENERATIVE:
        inputs["token_type_ids"] = torch.zeros_like(input_ids)
    return {k: v.to(loaded.device) for k, v in inputs.items()}


def input_bytes(loaded: LoadedModel, protocol: Protocol) -> int:
    """About how much memory one iteration's inputs and activations take, from sizes alone.

    Per token: the ids, mask and type ids (int64, and the Python list they are made from), and
    the activations of one layer in fp32 (hidden states, the feed-forward block); plus the
    attention scores, heads x seq_len^2 per item. An estimate to refuse absurd sizes up front
    (--batch 10^9 allocated 6.7 GB before failing), not a figure to report.
    """
    config = getattr(loaded.model, "config", None)

    def size(*keys, default):
        return next((v for k in keys if isinstance(v := getattr(config, k, None), int) and v > 0), default)

    hidden = size("hidden_size", "d_model", default=1024)
    ffn = size("intermediate_size", "d_ff", "encoder_ffn_dim", default=4 * hidden)
    heads = size("num_attention_heads", "num_heads", default=16)
    seq_len = min(protocol.seq_len, loaded.info.max_length)
    tokens = protocol.batch_size * seq_len
    return tokens * (64 + 4 * (4 * hidden + ffn)) + protocol.batch_size * heads * seq_len * seq_len * 4


def check_input_size(loaded: LoadedModel, protocol: Protocol) -> None:
    needed, available = input_bytes(loaded, protocol), available_bytes()
    if needed > available:
        raise OutOfMemoryError(
            f"for {protocol.batch_size:,} x {min(protocol.seq_len, loaded.info.max_length):,} benchmark inputs: "
            f"they need about {needed / 2**30:,.1f} GiB and {available / 2**30:,.1f} GiB is available; "
            "nothing was allocated")


def new_tokens_used(loaded: LoadedModel, protocol: Protocol) -> int:
    limit = new_token_limit(loaded)
    return min(protocol.new_tokens, limit) if limit else protocol.new_tokens


def _step(loaded: LoadedModel, inputs: dict, protocol: Protocol):
    """One unit of work, returned as a callable so the timed region holds nothing else."""
    model = loaded.model
    if loaded.kind in GENERATIVE:
        n = new_tokens_used(loaded, protocol)
        eos = model.generation_config.eos_token_id
        pad = {"pad_token_id": eos[0] if isinstance(eos, list) else eos} if loaded.kind == ModelKind.CAUSAL_LM else {}
        return lambda: model.generate(**inputs, max_new_tokens=n, min_new_tokens=n, num_beams=1, do_sample=False, **pad)
    return lambda: model(**inputs)


def run_benchmark(loaded: LoadedModel, protocol: Protocol, cancel: CancelToken | None = None,
                  progress: Progress = no_progress, environment: dict | None = None
                  ) -> Iterator[Sample | BenchReport]:
    """Yield a Sample per iteration (warm-up ones flagged), then one BenchReport."""
    cancel = cancel or CancelToken()
    check_input_size(loaded, protocol)
    with guard_memory(f"building {protocol.batch_size} x {protocol.seq_len} benchmark inputs"):
        inputs = bench_inputs(loaded, protocol)
    step = _step(loaded, inputs, protocol)
    sync = loaded.sync
    if loaded.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(loaded.device)
    warm, measured = [], []
    with MemorySampler() as sampler, guard_memory(f"benchmarking {loaded.entry.name}"), torch.inference_mode():
        rss_start = sampler.mark()
        index = 0
        started = time.perf_counter()  # max_seconds bounds warm-up and measurement together
        for _ in range(max(protocol.warmup, 1)):  # the first call is always timed apart: first inference
            if warm and time.perf_counter() - started >= protocol.max_seconds:
                break  # --warmup 10^9 ran past any time limit before
            cancel.check()
            sync()
            start = time.perf_counter()
            step()
            sync()
            warm.append(time.perf_counter() - start)
            progress(None, f"Warm-up {len(warm)}/{protocol.warmup}")
            yield Sample(index, warm[-1], True)
            index += 1
        began = time.perf_counter()
        while True:
            cancel.check()
            sync()
            start = time.perf_counter()
            step()
            sync()
            end = time.perf_counter()
            measured.append(end - start)
            yield Sample(index, measured[-1], False)
            index += 1
            elapsed = end - began
            done = len(measured) >= protocol.min_iterations and elapsed >= protocol.min_seconds
            progress(min(1.0, max(len(measured) / protocol.min_iterations,
                                  elapsed / max(protocol.min_seconds, 1e-9)) if not done else 1.0),
                     f"Iteration {len(measured)}")
            if done or end - started >= protocol.max_seconds:
                break
        rss_peak = sampler.peak
    stats = Stats.of(measured)
    batch, seq_len = inputs["input_ids"].shape
    new_tokens = new_tokens_used(loaded, protocol)
    tokens_per_item = new_tokens if loaded.kind in GENERATIVE else seq_len
    warnings = []
    if loaded.kind == ModelKind.SEQ2SEQ and new_tokens < protocol.new_tokens:
        warnings.append(f"Generated {new_tokens} new tokens per iteration, not {protocol.new_tokens}: "
                        f"the model's decoder has {new_tokens} positions.")
    memory = {
        "rss_before_load": loaded.info.rss_before_load,
        "rss_after_load": loaded.info.rss_after_load,
        "rss_at_start": rss_start,
        "rss_peak": rss_peak,
        "rss_peak_over_baseline": rss_peak - loaded.info.rss_before_load,
        "rss_now": rss_bytes(),
        "weight_bytes": loaded.info.weight_bytes,
    } | (cuda_memory(loaded.device) or {})
    yield BenchReport(
        protocol=asdict(protocol) | {"seq_len_used": seq_len, "new_tokens_used": new_tokens},
        model={"id": loaded.entry.id, "name": loaded.entry.name, "task": loaded.entry.task,
               "source": loaded.entry.source, "variant": loaded.request.variant.to_dict(),
               "device": loaded.request.device} | loaded.info.to_dict(),
        latency=stats.to_dict(),
        first_inference_seconds=warm[0],
        throughput_items_per_s=batch / stats.p50,
        throughput_tokens_per_s=batch * tokens_per_item / stats.p50,
        memory=memory, samples=measured, warmup_samples=warm, environment=environment or {}, warnings=warnings)


def benchmark(loaded: LoadedModel, protocol: Protocol, **kwargs) -> BenchReport:
    """Run the protocol to the end and return its report."""
    for record in run_benchmark(loaded, protocol, **kwargs):
        if isinstance(record, BenchReport):
            return record
    raise RuntimeError("the benchmark generator ended without a report")  # pragma: no cover
