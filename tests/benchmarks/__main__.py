"""Every benchmark, one after another, each in a fresh process: `python -m tests.benchmarks`.

    python -m tests.benchmarks [--only NAME ...] [--out docs/benchmarks.txt]

Prints as it goes and writes everything, with the machine and versions, to --out (the latest
results; README quotes them). Takes about 12 minutes on 2 cores. Run it on a quiet machine:
other work on the same cores shows up in every number.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ALL_CORES = str(os.cpu_count() or 1)
BENCHMARKS = {
    "fidelity": ["-m", "tests.benchmarks.fidelity", "--threads", "1"],
    "memory": ["-m", "tests.benchmarks.memory"],
    "efficiency": ["-m", "tests.benchmarks.efficiency"],
    "plot_cost": ["-m", "tests.benchmarks.plot_cost"],
    "ui_lateness": ["-m", "tests.benchmarks.ui_lateness"],
    # What the thread boxes' default (cores - 1, one core left for the window) is worth: all cores.
    "plot_cost_all_cores": ["-m", "tests.benchmarks.plot_cost", "--ticks", "30", "--threads", ALL_CORES],
    "ui_lateness_all_cores": ["-m", "tests.benchmarks.ui_lateness", "--threads", ALL_CORES,
                              "--compare-threads", ALL_CORES],
    "app_overhead": ["-m", "tests.benchmarks.app_overhead"],
    # needs the runtime extras; about 25 minutes on 2 busy cores (conversions cached after the first run)
    "runtimes": ["-m", "tests.benchmarks.runtimes", "--threads", "1"],
    "startup": None,  # below: three smoke tests
    "ladder": ["-m", "core.cli", "compare", "--ladder", "bundled-depths", "--batch", "1", "--seq-len", "128",
               "--threads", "1", "--min-iterations", "20", "--min-seconds", "1"],
}


def startup(runs: int = 3) -> str:
    """Median of `sizelab --smoke-test` runs: process start to window shown and to the first result."""
    results = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-m", "gui.app", "--smoke-test"], capture_output=True, text=True,
                             timeout=300)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    if not all(r["ok"] for r in results):
        return f"smoke test failed: {results}"
    shown = statistics.median(r["window_shown_seconds"] for r in results)
    first = statistics.median(r["first_result_seconds"] for r in results)
    return (f"Start-up, median of {runs} `sizelab --smoke-test` runs (from process start): "
            f"window shown {shown:.2f} s (target < 1.5 s), first result on the bundled model {first:.2f} s")


def header() -> str:
    import torch
    import transformers

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else "?"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"# {datetime.datetime.now().isoformat(timespec='minutes')}  {cpu}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, torch {torch.__version__}, transformers {transformers.__version__}; "
            f"load average at start {load:.2f}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS), default=list(BENCHMARKS))
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks.txt"))
    args = parser.parse_args()
    sections = [header()]
    print(sections[0], flush=True)
    for name in args.only:
        started = time.monotonic()
        print(f"\n## {name}", flush=True)
        if BENCHMARKS[name] is None:
            text = startup()
        else:
            result = subprocess.run([sys.executable, *BENCHMARKS[name]], capture_output=True, text=True)
            text = result.stdout.strip() + (f"\n(exit {result.returncode}: {result.stderr.strip()[-2000:]})"
                                            if result.returncode else "")
        text += f"\n({time.monotonic() - started:.0f} s)"
        print(text, flush=True)
        sections.append(f"## {name}\n{text}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n\n".join(sections) + "\n", encoding="utf-8")
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
