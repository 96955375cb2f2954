"""The bundled encoder (all-MiniLM-L6-v2) benchmarked by a peer tool, optimum-benchmark, for its p50.

    bash tests/benchmarks/peer_optimum.sh --threads 1     # makes the venv if missing, then runs this

Runs in its own venv (.bench-venvs/optimum: optimum-benchmark 0.6.0 needs transformers<5), offline.
Measures optimum-benchmark's "forward" latency: pytorch backend, inference scenario, CPU, fp32,
on the local checkpoint folder (task feature-extraction, so a plain BertModel), batch x 128 tokens of
random ids it generates itself, its default warm-up (10) and duration (>= 10 iterations and 10 s).
Prints one line per shape: shape, threads, p50 ms, mean ms, n. Compare with
`python -m tests.benchmarks.fidelity --quick --threads N` (the app's p50, fp32 rows).
"""

import argparse
import logging

import torch
from optimum_benchmark import Benchmark, BenchmarkConfig, InferenceConfig, InlineConfig, PyTorchConfig


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True, help="checkpoint folder (the .sh passes the bundled encoder)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--shapes", default="1x128,8x128", help="comma-separated BATCHxSEQ")
    parser.add_argument("--duration", type=int, default=10, help="seconds per shape (optimum's default)")
    parser.add_argument("--warmup", type=int, default=10, help="warm-up runs (optimum's default)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # optimum-benchmark logs every step; keep the table readable
    # Set here, not through PyTorchConfig: in 0.6.0 its intra_op_num_threads calls
    # torch.set_num_interop_threads and inter_op_num_threads calls torch.set_num_threads (swapped).
    torch.set_num_threads(args.threads)
    print(f"optimum-benchmark pytorch/inference, cpu fp32, threads {torch.get_num_threads()}; times in ms")
    print(f"{'shape':>7} {'threads':>7} {'p50':>8} {'mean':>8} {'n':>5}")
    for shape in args.shapes.split(","):
        batch, seq = (int(x) for x in shape.lower().split("x"))
        config = BenchmarkConfig(
            name=f"minilm-{batch}x{seq}",
            launcher=InlineConfig(),  # same process, so the thread count above holds
            scenario=InferenceConfig(input_shapes={"batch_size": batch, "sequence_length": seq},
                                     warmup_runs=args.warmup, duration=args.duration, iterations=10),
            backend=PyTorchConfig(model=args.model, task="feature-extraction", device="cpu", no_weights=False),
            log_report=False)
        latency = Benchmark.launch(config).forward.latency
        print(f"{batch:>3}x{seq:<3} {torch.get_num_threads():>7} {latency.p50 * 1e3:8.2f} "
              f"{latency.mean * 1e3:8.2f} {latency.count:>5}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
