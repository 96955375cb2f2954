"""What opening a big saved comparison costs: load_run (read, check, table, diff) and the text table.

    python -m tests.benchmarks.open_big_run [--rows 20000]

The run is made up (no torch): --rows finished rows with every field a saved run has, 20 latency
samples each, latencies and qualities spread like a ladder's (quality growing with latency: the
case where every row is on the Pareto frontier). Prints the file's size and the seconds of each step.
"""

import argparse
import random
import tempfile
import time
from pathlib import Path

from core import compare_data


def ladder_rows(rows: int, seed: int = 0) -> dict:
    """A saved run of `rows` finished rows, as core.compare would write it."""
    rng = random.Random(seed)
    protocol = {"batch_size": 1, "seq_len": 128, "warmup": 5, "min_iterations": 20, "min_seconds": 3.0,
                "max_seconds": 300.0, "new_tokens": 32}
    run = {"schema": compare_data.SCHEMA, "created": "2026-01-01T00:00:00+00:00", "outcome": "done",
           "finished": "2026-01-01T01:00:00+00:00",
           "request": {"ladder": "", "members": [], "protocol": protocol, "device": "cpu", "threads": 1,
                       "sweep": None, "quality": True, "quality_limit": None},
           "environment": {"cpu": "made up"}, "peak_gflops": 100.0, "peak_method": "made up", "rows": []}
    for i in range(rows):
        p50 = 0.001 + i / rows * 0.1
        samples = [p50 * (1 + rng.random() * 0.02) for _ in range(20)]
        run["rows"].append({
            "index": i, "status": "done", "error": None, "label": f"L{i % 12 + 1}",
            "model": {"id": f"row-{i}", "name": f"Model {i}", "task": "classification", "source": "folder",
                      "synthetic": False, "variant": {"precision": "fp32", "int8": False, "layers": i % 12 + 1},
                      "variant_label": f"L{i % 12 + 1}"},
            "kind": "sequence-classification", "params_total": 1_000_000 + i, "params_non_embedding": 500_000 + i,
            "weight_bytes": 4_000_000 + 4 * i, "layers": i % 12 + 1, "layers_full": 12, "warnings": [],
            "load_seconds": 0.2, "first_inference_seconds": p50 * 3, "protocol_used": protocol | {"seq_len_used": 128},
            "latency": {"n": 20, "p50": p50, "p90": p50 * 1.02, "p99": p50 * 1.03, "mean": p50, "noisy": False},
            "throughput_items_per_s": 1 / p50, "throughput_tokens_per_s": 128 / p50,
            "memory": {"rss_peak_over_baseline": 50_000_000}, "memory_bytes": 50_000_000,
            "samples": samples, "warmup_samples": samples[:5],
            "efficiency": {"flops_per_iteration": 1e8, "gflops": 1e8 / p50 / 1e9, "fraction_of_peak": 0.5,
                           "approximation": "made up"},
            "quality": {"metric": "accuracy", "value": 0.5 + i / rows / 2, "predictions": []},
            "sweep": []})
    return run


def measure(label: str, work) -> object:
    started = time.perf_counter()
    result = work()
    print(f"{label:<28} {time.perf_counter() - started:8.2f} s", flush=True)
    return result


def run(rows: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big.json"
        compare_data.save_run(path, ladder_rows(rows))
        print(f"{rows:,} rows, {path.stat().st_size / 2**20:.1f} MiB")
        loaded = measure("load_run (read + check)", lambda: compare_data.load_run(path))
        table = measure("table", lambda: compare_data.table(loaded))
        measure("frontier", lambda: compare_data.frontier(table))
        measure("text_table", lambda: compare_data.text_table(loaded))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    run(parser.parse_args().rows)
