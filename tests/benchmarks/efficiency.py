"""Efficiency: achieved GFLOP/s of the bundled model against this machine's fp32 matmul peak.

    python -m tests.benchmarks.efficiency [--batch 32] [--seq-len 128]

For each thread count from 1 to the number of cores: the fp32 peak (best of 5 2048x2048 matmuls,
core.compare.matmul_peak_gflops, the figure the Compare view divides by), then the bundled model
(fp32, all layers) through the app's benchmark protocol at batch x seq-len. FLOPs are counted two
ways: exactly for this BERT encoder (every Linear, and attention's two batched matmuls) and as the
Compare view approximates them (2 x non-embedding parameters x tokens). Also prints what the app's
default thread setting (the model panel's: cores - 1, so the UI keeps a core) costs in throughput.
"""

import argparse
import os

import torch

from core.bench import Protocol, benchmark
from core.catalog import DEFAULT_MODEL_ID, load_catalog
from core.compare import flops_per_iteration, matmul_peak_gflops
from core.loading import load_model
from core.requests import LoadRequest
from core.variants import Variant


def exact_flops(config, batch: int, seq: int) -> float:
    """Multiply-adds x 2 of a BERT encoder forward: Q, K, V, output and FFN Linears, QK^T and AV."""
    hidden, inner, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    tokens = batch * seq
    linears = 2 * tokens * (4 * hidden * hidden + 2 * hidden * inner)
    attention = 2 * 2 * batch * seq * seq * hidden  # scores and weighted sum, over all heads
    return layers * (linears + attention)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seq-len", type=int, default=128)
    args = parser.parse_args()
    from gui.model_panel import default_threads  # the number the app's thread box starts with (no Qt needed)

    cores = os.cpu_count() or 1
    entry = load_catalog().get(DEFAULT_MODEL_ID)
    protocol = Protocol(batch_size=args.batch, seq_len=args.seq_len, warmup=2, min_iterations=8, min_seconds=3.0)
    print(f"Bundled model fp32, batch {args.batch} x {args.seq_len} tokens; peak = best fp32 2048^3 matmul")
    print(f"{'threads':>7} {'peak GFLOP/s':>13} {'p50 ms':>8} {'GFLOP/s':>8} {'of peak':>8} "
          f"{'approx GFLOP/s':>15} {'approx of peak':>15} {'items/s':>8}")
    items_per_s = {}
    for threads in range(1, cores + 1):
        loaded = load_model(LoadRequest(entry, Variant(), threads=threads))
        assert torch.get_num_threads() == threads
        peak = matmul_peak_gflops("cpu")
        report = benchmark(loaded, protocol)
        p50 = report.latency["p50"]
        encoder_config = loaded.model.encoder.config
        exact = exact_flops(encoder_config, args.batch, report.protocol["seq_len_used"]) / p50 / 1e9
        approx = flops_per_iteration(loaded.info.params_non_embedding, loaded.kind, args.batch,
                                     report.protocol["seq_len_used"], 0) / p50 / 1e9
        items_per_s[threads] = args.batch / p50
        print(f"{threads:>7} {peak:13.1f} {p50 * 1000:8.1f} {exact:8.1f} {exact / peak:8.1%} "
              f"{approx:15.1f} {approx / peak:15.1%} {items_per_s[threads]:8.1f}")
        loaded.release()
    default = default_threads()
    if default in items_per_s and cores in items_per_s:
        print(f"The app's default of {default} thread(s) on this {cores}-core machine gives "
              f"{items_per_s[default] / items_per_s[cores]:.2f}x the throughput of all {cores} cores.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
