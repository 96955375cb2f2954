"""Generation: does the app time tokens truly, and what does each lever of a causal LM buy?

    python -m tests.benchmarks.generation [--quick] [--threads N] [--prompt-tokens P] [--new-tokens N]

Part 1, fidelity (UI-free): the app's core.generation.generate (its token callback, incremental
text and KV-byte count included, as the live view uses them) against a bare model.generate() timed
the same way: a streamer that takes the time at each put of token ids. Same model object, same
prompt ids, greedy, exactly N new tokens, rounds interleaved so drift on a shared machine hits both
alike. Prints the p50 of TTFT and of inter-token latency (ITL) for each, and app / bare.

Part 2, the ladders: synthetic GPT-2 and SmolLM2-135M (random weights, real architectures) at
fp32, bf16, int8 and half the layers, through core.generation.benchmark_generation: TTFT, ITL
p50/p99, decode tokens/s, KV-cache bytes (summed from the cache's tensors), weight bytes, peak RSS.
A variant whose first generation takes over --slow-seconds is measured once more, not N times.
"""

import argparse
import statistics
import time

import torch
from transformers.generation.streamers import BaseStreamer

from core import generation
from core.catalog import load_catalog
from core.devices import set_threads
from core.loading import load_model
from core.requests import GenerationSettings, LoadRequest
from core.variants import Variant

LADDERS = {
    "synthetic/gpt2": [Variant(), Variant(precision="bf16"), Variant(int8=True), Variant(int8=True, per_channel=True),
                       Variant(layers=6),
                       Variant(precision="fp16")],
    "synthetic/smollm2-135m": [Variant(), Variant(precision="bf16"), Variant(int8=True),
                               Variant(int8=True, per_channel=True), Variant(layers=15),
                               Variant(layers=15, keep_last=True)],
}


class BareClock(BaseStreamer):
    """The least a timer can do: perf_counter at each put, the prompt's put skipped."""

    def __init__(self):
        self.times, self.first = [], True

    def put(self, value):
        now = time.perf_counter()
        if self.first:
            self.first = False
            return
        self.times.append(now)

    def end(self):
        pass


def bare_run(model, ids, new_tokens: int, pad: int) -> tuple[float, list[float]]:
    clock = BareClock()
    with torch.inference_mode():
        start = time.perf_counter()
        model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=new_tokens,
                       min_new_tokens=new_tokens, do_sample=False, pad_token_id=pad, streamer=clock)
    times = [t - start for t in clock.times]
    return times[0], [b - a for a, b in zip(times, times[1:])]


def app_run(loaded, ids, new_tokens: int) -> tuple[float, list[float]]:
    events = []
    result = generation.generate(loaded, prompt_ids=ids, on_token=events.append,
                                 settings=GenerationSettings(max_new_tokens=new_tokens, min_new_tokens=new_tokens))
    times = result.token_times
    return result.time_to_first_token, [b - a for a, b in zip(times, times[1:])]


def fidelity(entry, variant: Variant, prompt_tokens: int, new_tokens: int, rounds: int, threads) -> None:
    loaded = load_model(LoadRequest(entry, variant, threads=threads))
    ids = generation.prompt_of_length(loaded, prompt_tokens)
    eos = loaded.model.generation_config.eos_token_id
    pad = eos[0] if isinstance(eos, list) else eos
    app_run(loaded, ids, new_tokens)  # warm-up, unmeasured
    bare_run(loaded.model, ids, new_tokens, pad)
    app_ttft, bare_ttft, app_itl, bare_itl = [], [], [], []
    for _ in range(rounds):
        ttft, gaps = app_run(loaded, ids, new_tokens)
        app_ttft.append(ttft)
        app_itl += gaps
        ttft, gaps = bare_run(loaded.model, ids, new_tokens, pad)
        bare_ttft.append(ttft)
        bare_itl += gaps
    a_t, b_t = statistics.median(app_ttft), statistics.median(bare_ttft)
    a_i, b_i = statistics.median(app_itl), statistics.median(bare_itl)
    print(f"{entry.id} [{variant.label()}] prompt {prompt_tokens} + {new_tokens} new, {rounds} rounds interleaved:")
    print(f"  TTFT p50  app {a_t * 1000:8.2f} ms  bare {b_t * 1000:8.2f} ms  app/bare {a_t / b_t:.3f}")
    print(f"  ITL  p50  app {a_i * 1000:8.2f} ms  bare {b_i * 1000:8.2f} ms  app/bare {a_i / b_i:.3f}")
    loaded.release()


def ladder(entry, variants, prompt_tokens: int, new_tokens: int, iterations: int, threads, slow_seconds: float):
    print(f"\n{entry.name}: prompt {prompt_tokens} + {new_tokens} new tokens, greedy, {threads or 'default'} thread(s)")
    print(f"| variant | TTFT p50 ms | ITL p50 ms | ITL p99 ms | decode tok/s | KV cache MiB | weights MiB | peak RSS MiB | n |")
    print("|---|---|---|---|---|---|---|---|---|")
    for variant in variants:
        loaded = load_model(LoadRequest(entry, variant, threads=threads))
        started = time.perf_counter()
        generation.generate(loaded, prompt_ids=generation.prompt_of_length(loaded, prompt_tokens),
                            settings=GenerationSettings(max_new_tokens=new_tokens, min_new_tokens=new_tokens))
        slow = time.perf_counter() - started > slow_seconds
        bench = generation.benchmark_generation(loaded, prompt_tokens, new_tokens,
                                                iterations=1 if slow else iterations, warmup=0)
        itl = bench.inter_token
        print(f"| {variant.label(loaded.info.layers_full)} | {bench.time_to_first_token['p50'] * 1000:.1f} | "
              f"{itl['p50'] * 1000:.2f} | {itl['p99'] * 1000:.2f} | {bench.decode_tokens_per_second:.1f} | "
              f"{bench.kv_cache_bytes / 2**20:.2f} | {loaded.info.weight_bytes / 2**20:.0f} | "
              f"{bench.rss_peak / 2**20:.0f} | {bench.iterations} |", flush=True)
        loaded.release()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and tokens (a smoke run)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--prompt-tokens", type=int, default=128)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--slow-seconds", type=float, default=20.0)
    parser.add_argument("--skip-ladders", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.new_tokens, args.prompt_tokens = 2, 8, 32
    set_threads(args.threads)
    catalog = load_catalog()
    print("Part 1: fidelity, the app's streamed generate() against a bare generate() timed at each put")
    for model_id in LADDERS:
        fidelity(catalog.get(model_id), Variant(), args.prompt_tokens, args.new_tokens, args.rounds, args.threads)
    if args.skip_ladders:
        return
    print("\nPart 2: the ladders (random weights: timing and memory only)")
    for model_id, variants in LADDERS.items():
        ladder(catalog.get(model_id), variants, args.prompt_tokens, args.new_tokens, 3 if not args.quick else 1,
               args.threads, args.slow_seconds)


if __name__ == "__main__":
    main()
