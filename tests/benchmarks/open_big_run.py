"""What opening a big saved comparison costs: load_run (read, check, table, diff) and the text table.

    python -m tests.benchmarks.open_big_run [--rows 20000]

A real run is measured once (synthetic/bert-tiny, one tiny iteration), then its row is repeated
--rows times with latencies and qualities spread like a ladder's (quality growing with latency: the
case where every row is on the Pareto frontier). Prints the file's size and the seconds of each step.
"""

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

from core import compare_data
from core.cli import main


def big_run(rows: int, folder: Path) -> Path:
    seed = folder / "seed.json"
    assert main(["compare", "--member", "synthetic/bert-tiny", "--no-quality", "--warmup", "0",
                 "--min-iterations", "1", "--min-seconds", "0", "--seq-len", "8", "--out", str(seed)]) == 0
    run = json.loads(seed.read_text())
    template = run["rows"][0]
    rng = random.Random(0)
    run["rows"] = []
    for i in range(rows):
        row = json.loads(json.dumps(template))
        latency = 0.001 + i / rows * 0.1
        row["index"] = i
        row["latency"]["p50"] = latency * (1 + rng.random() * 0.01)
        row["quality"] = {"metric": "accuracy", "value": min(1.0, 0.5 + i / rows / 2), "predictions": []}
        row["model"] = dict(row["model"], synthetic=False, id=f"row-{i}")
        run["rows"].append(row)
    path = folder / "big.json"
    compare_data.save_run(path, run)
    return path


def measure(label: str, work) -> object:
    started = time.perf_counter()
    result = work()
    print(f"{label:<28} {time.perf_counter() - started:8.2f} s", flush=True)
    return result


def run(rows: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = big_run(rows, Path(folder))
        print(f"{rows:,} rows, {path.stat().st_size / 2**20:.1f} MiB")
        loaded = measure("load_run (read + check)", lambda: compare_data.load_run(path))
        table = measure("table", lambda: compare_data.table(loaded))
        measure("frontier", lambda: compare_data.frontier(table))
        measure("text_table", lambda: compare_data.text_table(loaded))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    run(parser.parse_args().rows)
