"""Does the app measure truly? Its reported p50 against a bare inference_mode loop and torch.utils.benchmark.

    python -m tests.benchmarks.fidelity [--quick]

Same model object, same input tensors, rounds interleaved (app, bare, torch.utils.benchmark) so
drift on a shared machine hits all three alike. Prints each p50 and the ratios app/bare, app/tub.
"""

import argparse
import statistics
import time

import torch
import torch.utils.benchmark as tub

from core.bench import Protocol, bench_inputs, benchmark
from core.catalog import DEFAULT_MODEL_ID, load_catalog
from core.loading import load_model
from core.requests import LoadRequest
from core.variants import Variant


def bare_p50(model, inputs, iterations: int) -> float:
    with torch.inference_mode():
        for _ in range(3):
            model(**inputs)
        times = []
        for _ in range(iterations):
            start = time.perf_counter()
            model(**inputs)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def tub_median(model, inputs, seconds: float) -> float:
    def step():
        with torch.inference_mode():
            model(**inputs)
    return tub.Timer(stmt="step()", globals={"step": step}).blocked_autorange(min_run_time=seconds).median


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args()
    entry = load_catalog().get(DEFAULT_MODEL_ID)
    shapes = [(1, 32), (1, 128), (8, 32), (8, 128)] if not args.quick else [(1, 128), (8, 128)]
    print(f"threads {torch.get_num_threads()}; p50 in ms; ratio = app / reference")
    print(f"{'variant':<8} {'shape':>7} {'app':>8} {'bare':>8} {'tub':>8} {'app/bare':>9} {'app/tub':>8}")
    for variant in (Variant(), Variant(int8=True)):
        loaded = load_model(LoadRequest(entry, variant, threads=args.threads))
        for batch, seq in shapes:
            protocol = Protocol(batch_size=batch, seq_len=seq, warmup=3, min_iterations=20, min_seconds=1.0)
            inputs = bench_inputs(loaded, protocol)
            app, bare, tub_ = [], [], []
            for _ in range(args.rounds):
                app.append(benchmark(loaded, protocol).latency["p50"])
                bare.append(bare_p50(loaded.model, inputs, 20))
                tub_.append(tub_median(loaded.model, inputs, 1.0))
            a, b, t = (statistics.median(x) * 1000 for x in (app, bare, tub_))
            print(f"{variant.label():<8} {batch:>3}x{seq:<3} {a:8.2f} {b:8.2f} {t:8.2f} {a / b:9.3f} {a / t:8.3f}")
        loaded.release()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
