"""Comparing a size ladder, the measuring: one benchmark protocol run over several model variants.

`run_compare` is a generator of records (run started, row started, row progress, row finished,
row failed, run finished), like core.bench.run_benchmark; the engine process, the CLI and the tests
all drive it and fold the records into one run dict with core.compare_data.RunCollector. This module
imports torch; the records, the run dict, its tables, files and diffs are core.compare_data's, which
does not, so the window reads them without torch.
"""

import time
import traceback
from collections.abc import Iterator
from dataclasses import asdict, replace

import torch

from . import devices, paths, quality
from .bench import BenchReport, benchmark, run_benchmark
from .cancel import CancelToken
from .catalog import LadderMember, known_depth
from .compare_data import (SCHEMA, CompareRequest, Record, RowFailed, RowFinished, RowProgress, RowStarted,
                           RowStatus, RunCollector, RunFinished, RunStarted, now, row_base)
from .environment import environment as read_environment
from .errors import Cancelled, SizeLabError
from .loading import load_model
from .records import ModelKind, Outcome
from .requests import LoadRequest, Protocol
from .stats import Stats
from .tasks import guard_memory

PROGRESS_EVERY_S = 0.1  # one progress record per 100 ms at most, however fast the iterations are


# ---------------------------------------------------------------- measuring


def matmul_peak_gflops(device: str = "cpu", size: int = 2048, repeats: int = 5) -> float:
    """Best fp32 GFLOP/s of size x size matrix products: the most this device does on dense work."""
    target = torch.device(device)
    with guard_memory(f"measuring the matmul peak on {device}"):
        a = torch.randn(size, size, device=target)
        b = torch.randn(size, size, device=target)
        out = torch.empty(size, size, device=target)
        best = float("inf")
        for i in range(repeats + 1):  # the first product warms up caches and thread pools
            devices.synchronize(target)
            start = time.perf_counter()
            torch.matmul(a, b, out=out)
            devices.synchronize(target)
            if i:
                best = min(best, time.perf_counter() - start)
    return 2 * size ** 3 / best / 1e9


def flops_per_iteration(params_non_embedding: int, kind: str, batch: int, seq_len: int, new_tokens: int) -> float:
    """FLOPs of one iteration, approximated as 2 x non-embedding parameters x tokens.

    Each token costs about one multiply and one add per weight it passes (Kaplan et al. 2020,
    "Scaling Laws", C_forward ~ 2N). Left out: attention scores (they grow with seq_len^2, a few
    percent at 128 tokens for these models) and the vocabulary projection of a translator, so the
    figure is a floor. In an encoder-decoder each token passes through about half the weights (the
    encoder's or the decoder's), so it is 2 x N/2 x (source + generated tokens).
    """
    if kind == ModelKind.SEQ2SEQ:
        return 2 * (params_non_embedding / 2) * batch * (seq_len + new_tokens)
    if kind == ModelKind.CAUSAL_LM:  # the prompt once, then each new token through every weight
        return 2 * params_non_embedding * batch * (seq_len + new_tokens)
    return 2 * params_non_embedding * batch * seq_len


def _efficiency(params_non_embedding: int, kind: str, protocol: dict, p50: float, peak: float) -> dict:
    flops = flops_per_iteration(params_non_embedding, kind, protocol["batch_size"], protocol["seq_len_used"],
                                protocol["new_tokens"])
    gflops = flops / p50 / 1e9
    return {"flops_per_iteration": flops, "gflops": gflops, "fraction_of_peak": gflops / peak if peak else None,
            "approximation": "2 x non-embedding params x tokens per iteration"}


def _memory_bytes(memory: dict) -> int:
    """The memory figure of a row: peak CUDA allocation on a GPU, else peak RSS over the pre-load baseline."""
    if "cuda_peak_allocated" in memory:
        return memory["cuda_peak_allocated"]
    return memory["rss_peak_over_baseline"]


class _Throttle:
    def __init__(self) -> None:
        self.last = 0.0

    def ready(self) -> bool:
        now = time.monotonic()
        if now - self.last >= PROGRESS_EVERY_S:
            self.last = now
            return True
        return False


def _bench(loaded, protocol: Protocol, cancel: CancelToken, index: int, phase: tuple[int, int],
           label: str) -> Iterator[RowProgress | BenchReport]:
    """run_benchmark, its per-iteration samples turned into throttled RowProgress records."""
    done, phases = phase
    state = {"fraction": 0.0}

    def progress(fraction, message):
        state["fraction"] = fraction or 0.0

    throttle = _Throttle()
    for record in run_benchmark(loaded, protocol, cancel=cancel, progress=progress):
        if isinstance(record, BenchReport):
            yield record
        elif throttle.ready():
            what = "warm-up" if record.warmup else f"iteration {record.index}"
            yield RowProgress(index, (done + state["fraction"]) / phases, f"{label}: {what}", record.seconds)


def _decoding(loaded, protocol: "Protocol", cancel: CancelToken, iterations: int = 3) -> dict:
    """Causal LMs: TTFT, inter-token latency, decode tokens/s and KV-cache bytes of streamed
    generations (core.generation), at the protocol's prompt length and new tokens."""
    from .generation import benchmark_generation

    bench = benchmark_generation(loaded, protocol.seq_len, protocol.new_tokens, iterations=iterations,
                                 warmup=0, cancel=cancel)
    return {"ttft_s": bench.time_to_first_token["p50"], "itl_p50_s": bench.inter_token["p50"],
            "itl_p90_s": bench.inter_token["p90"], "itl_p99_s": bench.inter_token["p99"],
            "decode_tokens_per_s": bench.decode_tokens_per_second, "kv_cache_bytes": bench.kv_cache_bytes,
            "prompt_tokens": bench.prompt_tokens, "new_tokens": bench.new_tokens, "iterations": bench.iterations}


ENDPOINT_PROMPT_FILE = "perplexity.txt"  # the shipped generation text: its start is the endpoint rows' prompt


def _endpoint_prompt(words: int) -> str:
    text = (paths.RESOURCES / "data" / "generation" / ENDPOINT_PROMPT_FILE).read_text(encoding="utf-8")
    return " ".join(text.split()[:max(words, 1)])


def _measure_endpoint_row(index: int, member: LadderMember, request: CompareRequest,
                          cancel: CancelToken) -> Iterator[RowProgress | dict]:
    """An OpenAI-compatible endpoint: the protocol's warm-up and iterations as streamed requests of
    `new_tokens` tokens, timed on this side. Its prompt is the shipped text's first seq_len words
    (a server tokenizes as it likes); perplexity is n/a over a chat API, so the row shows its text."""
    from .endpoint import connect, endpoint_of, stream

    protocol = request.protocol
    endpoint = endpoint_of(member.model)
    yield RowProgress(index, 0.0, f"Asking {endpoint.host} for {endpoint.model}")
    started = time.perf_counter()
    warnings = connect(endpoint, cancel)
    load_seconds = time.perf_counter() - started
    prompt = _endpoint_prompt(protocol.seq_len)
    results, warm, retries = [], [], 0
    total = max(protocol.warmup, 1) + protocol.min_iterations
    begun = time.perf_counter()
    while True:
        result = stream(endpoint, prompt, max_tokens=protocol.new_tokens, cancel=cancel)
        retries += result.retries
        (warm if len(warm) < max(protocol.warmup, 1) else results).append(result)
        done = len(warm) + len(results)
        yield RowProgress(index, min(done / total, 1.0), f"Request {done}")
        enough = len(results) >= protocol.min_iterations and time.perf_counter() - begun >= protocol.min_seconds
        if enough or (results and time.perf_counter() - begun >= protocol.max_seconds):
            break
    latency = Stats.of([r.end_to_end for r in results])
    ttft = Stats.of([r.time_to_first_token for r in results if r.time_to_first_token is not None] or [0.0])
    gaps = [g for r in results for g in r.inter_token_latencies]
    itl = Stats.of(gaps) if gaps else None
    rates = [r.decode_tokens_per_second for r in results if r.decode_tokens_per_second]
    tokens = [r.completion_tokens for r in results]
    yield row_base(index, member) | {
        "status": "done", "label": "remote", "kind": "endpoint",
        "endpoint": endpoint.to_dict(),  # the host and model only: never the full URL or the key
        "params_total": None, "params_non_embedding": None, "weight_bytes": None, "layers": None, "layers_full": None,
        "warnings": warnings + [w for w in results[0].warnings if w not in warnings]
                    + ["Measured over the network from this machine: latency includes the network and the server's queue."],
        "runtime": {}, "load_seconds": load_seconds, "first_inference_seconds": warm[0].end_to_end,
        "protocol_used": asdict(protocol) | {"seq_len_used": len(prompt.split()), "new_tokens_used": protocol.new_tokens,
                                             "prompt_unit": "words"},
        "latency": latency.to_dict(), "throughput_items_per_s": 1 / latency.p50 if latency.p50 > 0 else None,
        "throughput_tokens_per_s": sum(tokens) / sum(r.end_to_end for r in results),
        "memory": {}, "memory_bytes": None, "samples": [r.end_to_end for r in results],
        "warmup_samples": [r.end_to_end for r in warm], "efficiency": {"gflops": None, "fraction_of_peak": None},
        "quality": {"metric": "perplexity", "value": None, "note": "n/a over a chat API: compare the text",
                    "predictions": [results[0].text]},
        "generation": {"ttft_s": ttft.p50, "itl_p50_s": itl.p50 if itl else None,
                       "itl_p90_s": itl.p90 if itl else None, "itl_p99_s": itl.p99 if itl else None,
                       "decode_tokens_per_s": sorted(rates)[len(rates) // 2] if rates else None,
                       "kv_cache_bytes": None, "prompt_tokens": results[0].prompt_tokens,
                       "new_tokens": round(sum(tokens) / len(tokens)), "iterations": len(results),
                       "token_count_source": results[0].token_source, "retries": retries,
                       "server_timing": results[-1].server_timing},
        "output_text": results[0].text,
        "sweep": [],
    }


def _measure_row(index: int, member: LadderMember, request: CompareRequest, cancel: CancelToken,
                 peak: float) -> Iterator[RowProgress | dict]:
    """Load, benchmark, sweep and score one variant; yields progress, then the finished row."""
    if member.model.source == "endpoint":
        yield from _measure_endpoint_row(index, member, request, cancel)
        return
    sweep_values = request.sweep.values if request.sweep else ()
    phases = 2 + len(sweep_values) + (1 if request.quality else 0)
    yield RowProgress(index, 0.0, f"Loading {member.model.name}")
    loaded = load_model(LoadRequest(entry=member.model, variant=member.variant, device=request.device,
                                    threads=request.threads, allow_download=False), cancel)
    try:
        info = loaded.info
        label = member.variant.label(info.layers_full)
        report = None
        for record in _bench(loaded, request.protocol, cancel, index, (1, phases), "benchmark"):
            if isinstance(record, BenchReport):
                report = record
            else:
                yield record
        decoding = _decoding(loaded, request.protocol, cancel) if loaded.kind == ModelKind.CAUSAL_LM else None
        sweep = []
        for k, value in enumerate(sweep_values):
            protocol = replace(request.protocol, **{request.sweep.axis: value})
            for record in _bench(loaded, protocol, cancel, index, (2 + k, phases), f"{request.sweep.axis} {value}"):
                if isinstance(record, BenchReport):
                    sweep.append({"value": value, "seq_len_used": record.protocol["seq_len_used"],
                                  "latency": record.latency, "samples": record.samples,
                                  "throughput_items_per_s": record.throughput_items_per_s,
                                  "rss_peak": record.memory["rss_peak"]}
                                 | (_decoding(loaded, protocol, cancel, 1) if decoding else {}))
                else:
                    yield record
        scored = None
        if request.quality:
            for item in quality.evaluate(loaded, request.quality_limit, cancel):
                if isinstance(item, quality.QualityResult):
                    scored = item.to_dict()
                else:
                    yield RowProgress(index, (phases - 1 + item[0]) / phases, item[1])
        latency = report.latency
        row = row_base(index, member) | {
            "status": RowStatus.DONE,
            "label": label,
            "kind": loaded.kind,
            "params_total": info.params_total,
            "params_non_embedding": info.params_non_embedding,
            "weight_bytes": info.weight_bytes,
            "layers": info.layers,
            "layers_full": info.layers_full,
            "warnings": info.warnings + report.warnings,
            "runtime": info.runtime,  # runtime, version, quantization, precision hint; {} for torch
            "load_seconds": info.load_seconds,
            "first_inference_seconds": report.first_inference_seconds,
            "protocol_used": report.protocol,
            "latency": latency,
            "throughput_items_per_s": report.throughput_items_per_s,
            "throughput_tokens_per_s": report.throughput_tokens_per_s,
            "memory": report.memory,
            "memory_bytes": _memory_bytes(report.memory),
            "samples": report.samples,
            "warmup_samples": report.warmup_samples,
            "efficiency": _efficiency(info.params_non_embedding, loaded.kind, report.protocol, latency["p50"], peak),
            "quality": scored,
            "sweep": sweep,
            "generation": decoding,
        }
    finally:
        loaded.release()  # before the row is reported, so the next row starts from a clean slate
    yield row


def _warm_up_process(request: CompareRequest, cancel: CancelToken) -> None:
    """Load the first member and run it once, unmeasured, then let it go.

    The first model loaded in a process pays for lazy imports, thread pools, kernel set-up and heap
    growth: measured here, that made the first row load 30x slower and show 3x the RSS of the same
    variant measured again. After this, every row starts from the same warm process.
    """
    member = request.members[0]
    loaded = None
    try:
        loaded = load_model(LoadRequest(entry=member.model, variant=member.variant, device=request.device,
                                        threads=request.threads, allow_download=False), cancel)
        benchmark(loaded, replace(request.protocol, warmup=1, min_iterations=1, min_seconds=0), cancel=cancel)
    except Cancelled:
        raise
    except Exception:  # noqa: BLE001 - if it cannot run, its own row will say why
        pass
    finally:
        if loaded is not None:
            loaded.release()  # garbage, caches and freed heap go back (core.loading.release_memory)

def run_compare(request: CompareRequest, cancel: CancelToken | None = None,
                environment: dict | None = None) -> Iterator[Record]:
    """Measure every member in turn. A failing member becomes a failed row and the rest go on;
    on cancel the finished rows are kept and RunFinished("cancelled") ends the stream."""
    cancel = cancel or CancelToken()
    devices.find_device(request.device)  # a missing device is one clear error, not a failure per row
    devices.set_threads(request.threads)  # before the peak, so it is measured with the run's threads
    yield RowProgress(-1, None, "Measuring this machine's fp32 matmul peak")
    peak = matmul_peak_gflops(request.device, request.peak_size)
    header = {
        "schema": SCHEMA,
        "created": now(),
        "outcome": "running",
        "request": request.to_dict(),
        "environment": environment if environment is not None else read_environment(request.device),
        "peak_gflops": peak,
        "peak_method": f"best of 5 fp32 torch.matmul {request.peak_size}x{request.peak_size} on {request.device}",
        "rows": [row_base(i, m) for i, m in enumerate(request.members)],
    }
    yield RunStarted(header)
    outcome = Outcome.DONE
    yield RowProgress(-1, None, "Warming up the process (not measured)")
    try:
        _warm_up_process(request, cancel)
    except Cancelled:
        outcome = Outcome.CANCELLED
    for index, member in enumerate(request.members if outcome == Outcome.DONE else ()):
        if cancel.cancelled:
            outcome = Outcome.CANCELLED
            break
        yield RowStarted(index, f"{member.model.name} [{member.variant.label(known_depth(member.model))}]")
        try:
            for item in _measure_row(index, member, request, cancel, peak):
                if isinstance(item, dict):
                    yield RowFinished(index, item)
                else:
                    yield item
        except Cancelled:
            outcome = Outcome.CANCELLED
            break
        except SizeLabError as exc:
            yield RowFailed(index, row_base(index, member) | {"status": RowStatus.FAILED, "error": str(exc)})
        except Exception as exc:  # noqa: BLE001 - one variant's bug must not lose the other rows
            traceback.print_exc()  # a bug, not a user error: keep its traceback for the report
            yield RowFailed(index, row_base(index, member) | {
                "status": RowStatus.FAILED, "error": f"Unexpected error ({type(exc).__name__}): {exc}"})
    yield RunFinished(outcome)


def compare(request: CompareRequest, cancel: CancelToken | None = None, on_record=None, **kwargs) -> dict:
    """Run to the end and return the run dict; on_record(record, run) sees every record as it comes."""
    collector = RunCollector()
    for record in run_compare(request, cancel, **kwargs):
        collector.add(record)
        if on_record is not None:
            on_record(record, collector.run)
    return collector.run

