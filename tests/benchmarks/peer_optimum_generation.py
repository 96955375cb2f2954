"""The synthetic GPT-2's prefill and per-token decode measured by a peer tool, optimum-benchmark.

    bash tests/benchmarks/peer_optimum.sh --task text-generation --threads 1   # makes venv and folder if missing

Runs in its own venv (.bench-venvs/optimum: optimum-benchmark 0.6.0 needs transformers<5), offline,
on the folder tests/benchmarks/make_gpt2_checkpoint.py saves (the app's synthetic/gpt2, same seed and
weights). pytorch backend, inference scenario, CPU fp32, task text-generation: it generates random
input ids itself (batch x prompt tokens), greedy, exactly N new tokens (min = max), its default
warm-up (2 full generations, then 10 of 2 tokens) and duration (>= 10 generations and 10 s).

Its own definitions, for the pytorch backend (a logits processor takes perf_counter at each step):
  prefill   generate() start -> the first logits processor call: setup + the prompt's forward
  decode    that call -> generate() returns: the other N-1 steps (decode / (N-1) is per token)
  per_token gaps between consecutive logits processor calls. In 0.6.0 its event list is not reset
            between generations, so the per_token values repeat earlier runs and include the gap
            from one generation's last step to the next one's first; "clean" below is rebuilt from
            the last, complete list with those cross-run gaps dropped (K x (N-1) gaps).
Compare with `OMP_NUM_THREADS=1 python -m tests.benchmarks.generation --skip-ladders` (TTFT, ITL p50).
"""

import argparse
import logging
import statistics

import torch
from optimum_benchmark import Benchmark, BenchmarkConfig, InferenceConfig, InlineConfig, PyTorchConfig


def clean_per_token(values: list[float], runs: int, new_tokens: int) -> list[float] | None:
    """The within-generation gaps, or None when the list is not laid out as 0.6.0 builds it."""
    steps = runs * new_tokens
    if len(values) != sum(new_tokens * k - 1 for k in range(1, runs + 1)):
        return None
    last = values[-(steps - 1):]  # every event of the session once, in order
    return [gap for i, gap in enumerate(last) if (i + 1) % new_tokens]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True, help="checkpoint folder (the .sh passes the synthetic GPT-2)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--prompt-tokens", type=int, default=128)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--duration", type=int, default=10, help="seconds of tracked generations (optimum's default)")
    parser.add_argument("--warmup", type=int, default=10, help="2-token warm-up generations (optimum's default)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # optimum-benchmark logs every step; keep the table readable
    torch.set_num_threads(args.threads)  # not through PyTorchConfig: 0.6.0 swaps intra/inter-op (see peer_optimum.py)
    n = args.new_tokens
    config = BenchmarkConfig(
        name=f"gpt2-{args.batch}x{args.prompt_tokens}+{n}",
        launcher=InlineConfig(),  # same process, so the thread count above holds
        scenario=InferenceConfig(input_shapes={"batch_size": args.batch, "sequence_length": args.prompt_tokens},
                                 generate_kwargs={"max_new_tokens": n, "min_new_tokens": n},
                                 warmup_runs=args.warmup, duration=args.duration, iterations=10),
        backend=PyTorchConfig(model=args.model, task="text-generation", device="cpu", no_weights=False,
                              torch_dtype="float32"),
        log_report=False)
    report = Benchmark.launch(config)
    prefill, decode, per_token = report.prefill.latency, report.decode.latency, report.per_token.latency
    runs = report.generate.latency.count
    clean = clean_per_token(list(per_token.values), runs, n)
    print(f"optimum-benchmark pytorch/inference text-generation, cpu fp32, threads {torch.get_num_threads()}, "
          f"batch {args.batch}, prompt {args.prompt_tokens} + {n} new, {runs} generations; times in ms")
    print(f"{'metric':<28} {'p50':>8} {'mean':>8} {'n':>6}")
    rows = [("prefill", prefill.p50, prefill.mean, prefill.count),
            (f"decode / {n - 1}", decode.p50 / (n - 1), decode.mean / (n - 1), decode.count),
            ("per_token (as reported)", per_token.p50, per_token.mean, per_token.count)]
    if clean:
        rows.append(("per_token (clean)", statistics.median(clean), statistics.fmean(clean), len(clean)))
    for name, p50, mean, count in rows:
        print(f"{name:<28} {p50 * 1e3:8.2f} {mean * 1e3:8.2f} {count:>6}", flush=True)
    if clean is None:
        print("per_token values are not laid out as in 0.6.0; no clean figure")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
