"""Text generation with causal LMs (GPT-2, Pythia, Llama/SmolLM2, Qwen2): streamed and timed per token.

The measures follow the definitions of the established LLM serving benchmarks (vLLM's
benchmark_serving, NVIDIA genai-perf; optimum-benchmark calls the first two prefill and decode):
- time to first token (TTFT): from the start of generate() (the prompt already tokenized) to the
  first new token; it is the prefill.
- inter-token latency (ITL): the time between two consecutive new tokens; p50/p90/p99.
- decode tokens/s: (tokens - 1) / (last token's time - first token's time): decoding only.
- end-to-end: tokenizing, generate() and turning the tokens into text.
Each token is timestamped where generate() hands it over (the streamer's put of token ids), never
from decoded text chunks: a text streamer holds symbols back until a word is complete.

Memory: the KV cache's bytes are summed from the cache's own tensors, next to peak RSS; before a
load or a run, `estimate_memory` says whether weights plus the cache at that context fit in free RAM.
Quality: perplexity with a strided sliding window over a text the project ships
(resources/data/generation/), n/a for synthetic models.
"""

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field

import psutil
import torch
from torch import nn
from transformers.generation.stopping_criteria import StoppingCriteriaList
from transformers.generation.streamers import BaseStreamer

from . import derive, paths
from .cancel import CancelToken
from .errors import DeviceError, InputError
from .loading import LoadedModel
from .measure import MemorySampler, PhaseTimer
from .records import STOP_REASONS, ModelKind, TokenEvent
from .requests import GenerationSettings
from .stats import Stats
from .tasks import _decode, _StopOnCancel, clean_text, guard_memory  # checked after every token: Stop ends within one

PERPLEXITY_TEXT = paths.RESOURCES / "data" / "generation" / "perplexity.txt"
PLANNING_CONTEXT = 2048  # tokens the load-time memory estimate plans the KV cache for (capped by the model)
WARN_FRACTION = 0.8  # warn when the estimate takes more than this share of the free RAM
DTYPE_BYTES = {"fp32": 4, "fp16": 2, "bf16": 2}


OnToken = Callable[["TokenEvent"], None]


# ---------------------------------------------------------------- the architecture's numbers


def _config_value(config, *names, default=None):
    for name in names:
        value = getattr(config, name, None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return default


def context_limit(config) -> int:
    """The most positions the model can attend to (its position table or rotary range)."""
    return _config_value(config, "max_position_embeddings", "n_positions", "n_ctx", default=2048)


def kv_bytes_per_token(config, dtype_bytes: int) -> int:
    """2 (keys and values) x layers x kv_heads x head_dim x bytes: what one more token adds to the cache."""
    layers = _config_value(config, "num_hidden_layers", "n_layer")
    heads = _config_value(config, "num_attention_heads", "n_head")
    kv_heads = _config_value(config, "num_key_value_heads", default=heads)
    head_dim = _config_value(config, "head_dim", default=None) or _config_value(config, "hidden_size", "n_embd") // heads
    return 2 * layers * kv_heads * head_dim * dtype_bytes


def cache_bytes(cache) -> int:
    """Bytes held by a transformers Cache, summed from its key and value tensors."""
    total = 0
    for layer in getattr(cache, "layers", ()) or ():
        for tensor in (getattr(layer, "keys", None), getattr(layer, "values", None)):
            if isinstance(tensor, torch.Tensor):
                total += tensor.numel() * tensor.element_size()
    return total


# ---------------------------------------------------------------- memory before loading


@dataclass(frozen=True)
class MemoryEstimate:
    """What a causal LM variant will need, worked out from its config alone (no weights read)."""

    params: int
    weight_bytes: int  # the variant's weights
    load_peak_bytes: int  # while making it: int8 is loaded in fp32 first
    kv_bytes_per_token: int
    context: int
    available_bytes: int  # free RAM now (psutil's "available")

    @property
    def kv_bytes(self) -> int:
        return self.kv_bytes_per_token * self.context

    @property
    def needed_bytes(self) -> int:
        return max(self.load_peak_bytes, self.weight_bytes + self.kv_bytes)

    def describe(self) -> str:
        gib = 2 ** 30
        return (f"about {self.needed_bytes / gib:.1f} GiB (weights {self.weight_bytes / gib:.2f} GiB"
                f"{f', {self.load_peak_bytes / gib:.2f} GiB while quantizing' if self.load_peak_bytes > self.weight_bytes else ''}"
                f" + KV cache {self.kv_bytes / gib:.2f} GiB at {self.context:,} tokens); "
                f"{self.available_bytes / gib:.1f} GiB of RAM is free")


def estimate_memory(config, variant, context: int | None = None) -> MemoryEstimate:
    """Weights at the variant's precision plus the KV cache at `context` tokens, from the config.

    Parameters are counted on the meta device (no memory, no weights). int8 stores Linear weights
    in one byte, the rest stays fp32; a tied lm_head is quantized apart from the embedding, so its
    int8 copy comes on top. The KV cache stays in the float type (fp32 for int8).
    """
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    derive.conv1d_to_linear(model)
    params, _ = derive.count_parameters(model)
    linear = sum(m.weight.numel() for m in model.modules() if isinstance(m, nn.Linear))
    element = 4 if variant.int8 else DTYPE_BYTES[variant.precision]
    weights = params * element
    if variant.int8:
        weights = (params - linear) * 4 + linear  # tied lm_head: counted once in params, its int8 copy in linear
        head = model.get_output_embeddings()
        if head is not None and head.weight is model.get_input_embeddings().weight:
            weights += head.weight.numel() * 4  # the embedding keeps its fp32 copy
    load_peak = params * 4 if variant.int8 else weights
    context = min(context or PLANNING_CONTEXT, context_limit(config))
    return MemoryEstimate(params, weights, load_peak, kv_bytes_per_token(config, element), context,
                          psutil.virtual_memory().available)


def check_memory(estimate: MemoryEstimate, device: str = "cpu") -> list[str]:
    """Refuse what cannot fit in free RAM; warn when it takes most of it. CPU only (GPUs report their own)."""
    if not device.startswith("cpu"):
        return []
    if estimate.needed_bytes > estimate.available_bytes:
        raise DeviceError(f"This variant will not fit: it needs {estimate.describe()}. "
                          "Choose bf16 or int8, fewer layers, a shorter context, or close other programs.")
    if estimate.needed_bytes > WARN_FRACTION * estimate.available_bytes:
        return [f"Memory is tight: this variant needs {estimate.describe()}; the system may swap."]
    return []


# ---------------------------------------------------------------- generating


@dataclass
class GenerationResult:
    """One generation: the text, per-token times, and the measures named in the module docstring."""

    text: str
    prompt_tokens: int
    new_tokens: int
    stop_reason: str  # a key of STOP_REASONS
    time_to_first_token: float | None
    token_times: list[float]  # seconds since generate() started, one per new token
    inter_token: dict | None  # Stats of the gaps between tokens, seconds; None under 2 tokens
    decode_tokens_per_second: float | None
    end_to_end: float
    phases: dict[str, float]
    kv_cache_bytes: int
    kv_bytes_per_token: int
    rss_peak: int
    settings: dict
    warnings: list[str] = field(default_factory=list)

    @property
    def stop_reason_text(self) -> str:
        return STOP_REASONS[self.stop_reason]

    def to_dict(self) -> dict:
        """The JSON the CLI prints and the GUI's record holds: the same field names in both."""
        return asdict(self) | {"stop_reason_text": self.stop_reason_text}


class _TokenClock(BaseStreamer):
    """Takes the time of each token where generate() hands it over (put of token ids)."""

    def __init__(self, on_put: Callable[[list[int], float], None] | None = None):
        self.on_put = on_put
        self.ids: list[int] = []
        self.times: list[float] = []
        self._prompt_seen = False

    def put(self, value):
        now = time.perf_counter()
        if not self._prompt_seen:  # generate() pushes the prompt first
            self._prompt_seen = True
            return
        self.ids.extend(int(v) for v in value.reshape(-1).tolist())
        self.times.append(now)
        if self.on_put is not None:
            self.on_put(self.ids, now)

    def end(self):
        pass


class IncrementalText:
    """Text of a growing token list, decoded a few tokens at a time (cost per token stays flat).

    Decoding the whole list at every token costs O(n) each time; like the serving engines (TGI,
    vLLM), only the tail since the last complete symbol is decoded, and a tail that ends in an
    incomplete UTF-8 sequence (U+FFFD) waits for the next token.
    """

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.prefix = self.read = 0
        self.text = ""

    def add(self, ids: list[int]) -> str:
        before = _decode(self.tokenizer, ids[self.prefix:self.read])
        after = _decode(self.tokenizer, ids[self.prefix:])
        if len(after) > len(before) and not after.endswith("\ufffd"):
            delta = after[len(before):]
            self.prefix, self.read = self.read, len(ids)
            self.text += delta
            return delta
        return ""


def _generation_config(model, settings: GenerationSettings, max_new_tokens: int):
    """A fresh GenerationConfig: a checkpoint's own defaults (Qwen's repetition penalty, sampling)
    would otherwise change what "greedy" means from one model to the next."""
    from transformers import GenerationConfig

    base = model.generation_config
    eos = base.eos_token_id if base.eos_token_id is not None else model.config.eos_token_id
    pad = base.pad_token_id if base.pad_token_id is not None else model.config.pad_token_id
    if pad is None:
        pad = eos[0] if isinstance(eos, list) else eos
    sampling = {"do_sample": True, "temperature": settings.temperature, "top_p": settings.top_p} \
        if settings.do_sample else {"do_sample": False}
    minimum = min(settings.min_new_tokens, max_new_tokens) if settings.min_new_tokens is not None else None
    return GenerationConfig(max_new_tokens=max_new_tokens, min_new_tokens=minimum,
                            eos_token_id=eos, pad_token_id=pad, bos_token_id=base.bos_token_id,
                            num_beams=1, **sampling)


def _eos_ids(generation_config) -> set[int]:
    eos = generation_config.eos_token_id
    return set(eos) if isinstance(eos, list) else ({eos} if eos is not None else set())


def encode_prompt(loaded: LoadedModel, prompt: str) -> torch.Tensor:
    """Prompt token ids (1 x n). A synthetic model's stand-in tokenizer adds no [CLS]/[SEP]."""
    encoded = loaded.tokenizer(prompt, return_tensors="pt", add_special_tokens=not loaded.entry.synthetic)
    ids = encoded["input_ids"]
    if ids.shape[1] == 0:
        raise InputError("The prompt has no tokens; type some text first.")
    return ids


def generate(loaded: LoadedModel, prompt: str | None = None, settings: GenerationSettings = GenerationSettings(),
             on_token: OnToken | None = None, cancel: CancelToken | None = None,
             prompt_ids: torch.Tensor | None = None) -> GenerationResult:
    """Generate from a prompt (text, or token ids for benchmarks), timing every token.

    on_token(TokenEvent) is called for each new token, from generate()'s own loop: keep it cheap,
    its time counts in the next token's latency. Stop (cancel) ends generation within one token
    and returns what was generated, with stop_reason "stopped".
    """
    if loaded.kind != ModelKind.CAUSAL_LM:
        raise InputError(f"{loaded.entry.name} is not a causal language model; choose one to generate text.")
    cancel = cancel or CancelToken()
    model, tokenizer = loaded.model, loaded.tokenizer
    timer = PhaseTimer(loaded.sync)
    started_all = time.perf_counter()
    with guard_memory(f"generating with {loaded.entry.name}"):
        with timer.phase("tokenize"):
            ids = encode_prompt(loaded, clean_text(prompt)) if prompt_ids is None else prompt_ids
        limit = context_limit(model.config)
        prompt_tokens = ids.shape[1]
        if prompt_tokens >= limit:
            raise InputError(f"The prompt is {prompt_tokens:,} tokens; {loaded.entry.name} attends to "
                             f"{limit:,} at most. Shorten it.")
        max_new = min(settings.max_new_tokens, limit - prompt_tokens)
        dtype_bytes = next(p for p in model.parameters()).element_size() if not loaded.request.variant.int8 else 4
        per_token = kv_bytes_per_token(model.config, dtype_bytes)
        warnings = _check_kv(per_token, prompt_tokens + max_new, loaded.request.device)
        generation_config = _generation_config(model, settings, max_new)
        from transformers import DynamicCache

        cache = DynamicCache(config=model.config)
        text = IncrementalText(tokenizer)
        started = 0.0

        def on_put(token_ids: list[int], now: float) -> None:
            if on_token is not None:
                delta = text.add(token_ids)
                on_token(TokenEvent(len(token_ids), now - started, delta, text.text, cache_bytes(cache)))

        clock = _TokenClock(on_put)
        if settings.seed is not None:
            torch.manual_seed(settings.seed)  # sampling draws from torch's global generator
        with MemorySampler() as sampler:
            with timer.phase("model"), torch.inference_mode():
                started = time.perf_counter()
                model.generate(input_ids=ids.to(loaded.device), attention_mask=torch.ones_like(ids).to(loaded.device),
                               generation_config=generation_config, streamer=clock, cache=cache,
                               stopping_criteria=StoppingCriteriaList([_StopOnCancel(cancel)]))
            rss_peak = sampler.peak
        with timer.phase("decode"):
            text_out = _decode(tokenizer, clock.ids)
    new_tokens = len(clock.ids)
    if cancel.cancelled:
        reason = "stopped"
    elif clock.ids and clock.ids[-1] in _eos_ids(generation_config):
        reason = "eos"
    elif new_tokens >= settings.max_new_tokens:
        reason = "max_new_tokens"
    else:
        reason = "context"
    times = [t - started for t in clock.times]
    gaps = [b - a for a, b in zip(times, times[1:])]
    decode_rate = (new_tokens - 1) / (times[-1] - times[0]) if new_tokens > 1 and times[-1] > times[0] else None
    return GenerationResult(
        text=text_out, prompt_tokens=prompt_tokens, new_tokens=new_tokens, stop_reason=reason,
        time_to_first_token=times[0] if times else None, token_times=times,
        inter_token=Stats.of(gaps).to_dict() if gaps else None, decode_tokens_per_second=decode_rate,
        end_to_end=time.perf_counter() - started_all, phases=timer.seconds, kv_cache_bytes=cache_bytes(cache),
        kv_bytes_per_token=per_token, rss_peak=rss_peak, settings=asdict(settings) | {"max_new_tokens_used": max_new},
        warnings=warnings)


def _check_kv(per_token: int, tokens: int, device: str) -> list[str]:
    """Refuse a run whose KV cache alone would not fit in free RAM (the weights are already in)."""
    if not device.startswith("cpu"):
        return []
    needed, free = per_token * tokens, psutil.virtual_memory().available
    if needed > free:
        raise DeviceError(f"The KV cache for {tokens:,} tokens needs {needed / 2**30:.1f} GiB and "
                          f"{free / 2**30:.1f} GiB of RAM is free; ask for fewer new tokens or a shorter prompt.")
    if needed > WARN_FRACTION * free:
        return [f"The KV cache for {tokens:,} tokens ({needed / 2**30:.1f} GiB) takes most of the free RAM."]
    return []


# ---------------------------------------------------------------- benchmarking


def prompt_of_length(loaded: LoadedModel, tokens: int) -> torch.Tensor:
    """Prompt ids of exactly `tokens` tokens, cut from the shipped text (realistic ids, no padding)."""
    from .bench import _corpus_ids

    text = PERPLEXITY_TEXT.read_text(encoding="utf-8") if PERPLEXITY_TEXT.is_file() else ""
    ids = loaded.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"] if text else []
    if len(ids) < tokens:
        ids = ids + _corpus_ids(loaded.tokenizer, tokens - len(ids))
    return torch.tensor([ids[:tokens]], dtype=torch.long)


@dataclass
class GenerationBench:
    """Repeated generations of a fixed amount of work: prompt_tokens in, new_tokens forced out."""

    prompt_tokens: int
    new_tokens: int
    iterations: int
    time_to_first_token: dict  # Stats, seconds
    inter_token: dict  # Stats of every gap of every measured iteration, seconds
    decode_tokens_per_second: float  # median over iterations
    end_to_end: dict  # Stats, seconds
    kv_cache_bytes: int
    kv_bytes_per_token: int
    rss_peak: int

    def to_dict(self) -> dict:
        return asdict(self)


def benchmark_generation(loaded: LoadedModel, prompt_tokens: int = 128, new_tokens: int = 32,
                         iterations: int = 5, warmup: int = 1, cancel: CancelToken | None = None,
                         progress=None) -> GenerationBench:
    """Greedy generation of exactly new_tokens after a prompt of exactly prompt_tokens, repeated."""
    limit = context_limit(loaded.model.config)
    prompt_tokens = max(1, min(prompt_tokens, limit - new_tokens))
    ids = prompt_of_length(loaded, prompt_tokens)
    settings = GenerationSettings(max_new_tokens=new_tokens, min_new_tokens=new_tokens)
    results = []
    for i in range(warmup + iterations):
        if cancel is not None:
            cancel.check()
        result = generate(loaded, settings=settings, prompt_ids=ids, cancel=cancel)
        if i >= warmup:
            results.append(result)
        if progress is not None:
            progress((i + 1) / (warmup + iterations), f"generation {i + 1}/{warmup + iterations}")
    gaps = [g for r in results for g in (b - a for a, b in zip(r.token_times, r.token_times[1:]))]
    rates = sorted(r.decode_tokens_per_second for r in results if r.decode_tokens_per_second)
    return GenerationBench(
        prompt_tokens=prompt_tokens, new_tokens=new_tokens, iterations=len(results),
        time_to_first_token=Stats.of([r.time_to_first_token for r in results]).to_dict(),
        inter_token=Stats.of(gaps).to_dict() if gaps else Stats.of([0.0]).to_dict(),
        decode_tokens_per_second=rates[len(rates) // 2] if rates else 0.0,
        end_to_end=Stats.of([r.phases["model"] for r in results]).to_dict(),
        kv_cache_bytes=max(r.kv_cache_bytes for r in results), kv_bytes_per_token=results[-1].kv_bytes_per_token,
        rss_peak=max(r.rss_peak for r in results))


# ---------------------------------------------------------------- quality: perplexity


@dataclass
class Perplexity:
    value: float
    tokens: int  # tokens scored
    window: int
    stride: int
    dataset: str = "generation/perplexity.txt"


def perplexity(loaded: LoadedModel, window: int = 512, stride: int = 256, cancel: CancelToken | None = None,
               text: str | None = None) -> Iterator[tuple[float, str] | Perplexity]:
    """Perplexity of the shipped text with a strided sliding window (the transformers guide's method).

    Each window of `window` tokens moves by `stride`; only the tokens not scored by the previous
    window count, each seeing up to window - stride tokens of context before it. Yields
    (fraction, message) as it goes, then one Perplexity.
    """
    if loaded.kind != ModelKind.CAUSAL_LM:
        raise InputError("Perplexity needs a causal language model.")
    if not 1 <= stride <= window:
        raise InputError("The stride must be between 1 and the window.")
    text = PERPLEXITY_TEXT.read_text(encoding="utf-8") if text is None else text
    # verbose=False: the text is longer than the model's limit on purpose (the windows handle it)
    ids = loaded.tokenizer(text, return_tensors="pt", verbose=False)["input_ids"].to(loaded.device)
    window = min(window, context_limit(loaded.model.config))
    stride = min(stride, window)
    total = ids.shape[1]
    if total < 2:
        raise InputError("The text is too short to score.")
    nll, scored, previous_end = 0.0, 0, 0
    starts = list(range(0, total - 1, stride))
    with guard_memory(f"scoring perplexity with {loaded.entry.name}"), torch.inference_mode():
        for n, begin in enumerate(starts):
            if cancel is not None:
                cancel.check()
            end = min(begin + window, total)
            chunk = ids[:, begin:end]
            logits = loaded.model(input_ids=chunk).logits.float()
            # logits at position j predict token j + 1; score only tokens after previous_end
            first_target = max(previous_end, begin + 1)
            predictions = logits[0, first_target - begin - 1:end - begin - 1]
            targets = chunk[0, first_target - begin:]
            nll += torch.nn.functional.cross_entropy(predictions, targets, reduction="sum").item()
            scored += targets.numel()
            previous_end = end
            yield (n + 1) / len(starts), f"Perplexity: window {n + 1}/{len(starts)}"
            if end == total:
                break
    yield Perplexity(math.exp(nll / scored), scored, window, stride)
