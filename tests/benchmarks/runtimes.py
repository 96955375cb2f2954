"""Runtimes side by side: speed, fidelity, agreement with torch fp32, and memory against bare scripts.

    python -m tests.benchmarks.runtimes [--threads 1] [--rounds 3] [--iterations 20] [--shapes 1x128 8x128]
                                        [--part all|speed|paired|memory] [--no-quality]

The rows are the catalog's "runtimes" ladder (the bundled MiniLM-L6 classifier: torch fp32 and
int8, ONNX Runtime fp32 and int8, OpenVINO fp32, bf16 and int8). Conversions come from the cache
(the first run converts; set SIZELAB_CACHE_DIR to keep them apart from yours).

Part 1, speed and truth, batch 1 x 128 and 8 x 128, rounds interleaved so drift on a shared machine
hits every row alike:
- app: the p50 that `sizelab-cli bench` and the Compare view report (core.bench), through the
  loaded row's model call (tensors in, logits out);
- bare: the same inputs through the runtime's own API in a plain loop (a fresh
  onnxruntime.InferenceSession or openvino compiled model on the cached file, or the torch module
  under inference_mode), with the same threads; app/bare must stay within 5%;
- speed-up over torch fp32 (app p50s);
- outputs on the 306 dev texts against torch fp32: label agreement, the largest difference of a
  probability, and dev accuracy.

Part 1b, paired (--part paired): on a machine shared with other work, rounds drift apart; this
alternates one app call (the loaded row's model call, as core.bench times it) and one bare call,
200 times, and prints the median of the per-pair ratios: what the app's path adds to the runtime's
call, with the machine's drift cancelled pair by pair.

Part 2, memory, 1 x 128, each in a fresh process under /usr/bin/time -v:
- app: `sizelab-cli bench` of the row (its maximum RSS, and what it reports as peak RSS over the
  pre-load baseline);
- bare: a script that imports only that runtime (numpy + onnxruntime, openvino, or torch +
  transformers), loads the same model (the cached file, or the torch model) and runs it 20 times;
  its maximum RSS minus that of the same script with imports only.
"""

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from core import tasks
from core.bench import Protocol, bench_inputs, benchmark
from core.catalog import load_catalog
from core.devices import cpu_name, set_threads
from core.loading import load_model
from core.paths import SENTIMENT_DATA
from core.requests import LoadRequest
from core.runtimes import versions



def bare_runner(loaded, threads: int):
    """A plain loop's step for this row, with the runtime's own API and nothing of ours."""
    runtime = loaded.info.runtime
    if not runtime:
        model = loaded.model

        def torch_step(inputs):
            with torch.inference_mode():
                model(**inputs)
        return torch_step, lambda inputs: inputs
    folder = Path(runtime["cache"])
    numpy_feed = lambda inputs: {n: inputs[n].numpy() for n in runtime["inputs"]}  # noqa: E731
    if runtime["runtime"] == "onnxruntime":
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        session = ort.InferenceSession(str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"])
        return (lambda feed: session.run(None, feed)), numpy_feed
    import openvino as ov

    compiled = ov.Core().compile_model(str(folder / "model.xml"), "CPU", {
        "INFERENCE_PRECISION_HINT": runtime["precision_hint"], "INFERENCE_NUM_THREADS": threads,
        "PERFORMANCE_HINT": "LATENCY"})
    request = compiled.create_infer_request()
    return (lambda feed: request.infer(feed)), numpy_feed


def loop_p50(step, feed, iterations: int) -> float:
    for _ in range(3):
        step(feed)
    times = []
    for _ in range(iterations):
        start = time.perf_counter()
        step(feed)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def dev_outputs(loaded) -> tuple[np.ndarray, list[str]]:
    rows = [json.loads(line) for line in (SENTIMENT_DATA / "dev.jsonl").read_text().splitlines() if line.strip()]
    probabilities = []
    for start in range(0, len(rows), 16):
        result = tasks.classify(loaded, [r["text"] for r in rows[start:start + 16]])
        probabilities += [[p.scores[label] for label in loaded.labels] for p in result.predictions]
    return np.array(probabilities), [r["label"] for r in rows]


def speed(members, threads: int, rounds: int, iterations: int, shapes, quality: bool) -> None:
    loaded = []
    for member in members:
        row = load_model(LoadRequest(member.model, member.variant, threads=threads))
        loaded.append(row)
        print(f"loaded {member.variant.label()}: {row.info.derivation[-1][:100]}", flush=True)
    scores = []
    for row in loaded if quality else ():
        if not scores:
            reference_probabilities, gold = dev_outputs(loaded[0])
        probabilities, _ = dev_outputs(row)
        labels, reference_labels = probabilities.argmax(1), reference_probabilities.argmax(1)
        accuracy = np.mean([row.labels[i] == g for i, g in zip(labels, gold)])
        scores.append((np.mean(labels == reference_labels), np.abs(probabilities - reference_probabilities).max(),
                       accuracy))
    results = {}
    for batch, seq in shapes:
        protocol = Protocol(batch_size=batch, seq_len=seq, warmup=3, min_iterations=iterations, min_seconds=0)
        app = {i: [] for i in range(len(loaded))}
        bare = {i: [] for i in range(len(loaded))}
        steps = []
        for row in loaded:
            step, to_feed = bare_runner(row, threads)
            steps.append((step, to_feed(bench_inputs(row, protocol))))
        for _ in range(rounds):
            for i, row in enumerate(loaded):
                app[i].append(benchmark(row, protocol).latency["p50"])
                bare[i].append(loop_p50(*steps[i], iterations))
        results[(batch, seq)] = {i: (statistics.median(app[i]), statistics.median(bare[i])) for i in app}
        print(f"measured {batch}x{seq}", flush=True)
    print(f"\nCPU {cpu_name()}, {threads} thread(s), torch {torch.__version__}, {versions()}")
    print(f"{rounds} rounds of {iterations} iterations, interleaved; p50 per round, median over rounds")
    header = "| row | " + " | ".join(f"{b}x{s} app ms | bare ms | app/bare | speed-up" for b, s in shapes) + \
        (" | agreement | max abs dprob | dev accuracy |" if quality else " |")
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for i, row in enumerate(loaded):
        cells = []
        for shape in shapes:
            a, b = results[shape][i]
            cells += [f"{a * 1000:.1f}", f"{b * 1000:.1f}", f"{a / b:.3f}", f"{results[shape][0][0] / a:.2f}x"]
        label = row.request.variant.label()
        hint = row.info.runtime.get("precision_in_force")
        label += f" (in force {hint})" if hint and hint != "f32" or row.request.variant.precision == "bf16" else ""
        if quality:
            agreement, worst, accuracy = scores[i]
            cells += [f"{agreement:.1%}", f"{worst:.4f}", f"{accuracy:.1%}"]
        print(f"| {label} | " + " | ".join(cells) + " |")
    for row in loaded:
        row.release()


def paired(members, threads: int, pairs: int, shape) -> None:
    from core.bench import _step

    print(f"\nPaired, {shape[0]}x{shape[1]}, {threads} thread(s): {pairs} alternating app and bare calls; ms")
    print("| row | app median | bare median | median of app/bare per pair |")
    print("|---|---|---|---|")
    protocol = Protocol(batch_size=shape[0], seq_len=shape[1])
    for member in members:
        row = load_model(LoadRequest(member.model, member.variant, threads=threads))
        inputs = bench_inputs(row, protocol)
        app_step = _step(row, inputs, protocol)
        bare_step, to_feed = bare_runner(row, threads)
        feed = to_feed(inputs)
        app, bare = [], []
        with torch.inference_mode():
            for _ in range(3):
                app_step(), bare_step(feed)
            for _ in range(pairs):
                start = time.perf_counter()
                app_step()
                middle = time.perf_counter()
                bare_step(feed)
                app.append(middle - start)
                bare.append(time.perf_counter() - middle)
        ratio = statistics.median(a / b for a, b in zip(app, bare))
        print(f"| {member.variant.label()} | {statistics.median(app) * 1000:.1f} | "
              f"{statistics.median(bare) * 1000:.1f} | {ratio:.3f} |", flush=True)
        row.release()


BARE = r'''
import sys, numpy as np
runtime, folder, hint, names = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split(",")
if runtime == "onnxruntime":
    import onnxruntime as ort
elif runtime == "openvino":
    import openvino as ov
else:
    import torch, transformers
if sys.argv[5] == "baseline":
    sys.exit(0)
ids = np.array([[101] + [2204] * 126 + [102]], dtype=np.int64)
feed = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
feed = {n: feed[n] for n in names}
if runtime == "onnxruntime":
    options = ort.SessionOptions(); options.intra_op_num_threads = 1; options.inter_op_num_threads = 1
    session = ort.InferenceSession(folder + "/model.onnx", options, providers=["CPUExecutionProvider"])
    step = lambda: session.run(None, feed)
elif runtime == "openvino":
    compiled = ov.Core().compile_model(folder + "/model.xml", "CPU", {"INFERENCE_PRECISION_HINT": hint,
        "INFERENCE_NUM_THREADS": 1, "PERFORMANCE_HINT": "LATENCY"})
    request = compiled.create_infer_request()
    step = lambda: request.infer(feed)
else:
    from core.sentence import bundled_classifier
    torch.set_num_threads(1)
    model = bundled_classifier()
    if hint == "int8":
        torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
    tensors = {n: torch.from_numpy(v) for n, v in feed.items()}
    def step():
        with torch.inference_mode():
            model(**tensors)
for _ in range(20):
    step()
'''


def _max_rss_kib(argv: list[str]) -> tuple[int, str]:
    result = subprocess.run(["/usr/bin/time", "-v", *argv], capture_output=True, text=True, check=True)
    return int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(1)), result.stdout


def memory(members) -> None:
    print("\nMemory, batch 1 x 128, 1 thread, MiB (best of 2 fresh processes each)")
    print("| row | app max RSS | bare max RSS | app over its baseline | bare over imports-only | ratio |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "bare.py"
        script.write_text(BARE)
        out = Path(tmp) / "report.json"
        for member in members:
            variant = member.variant
            spec = ",".join(filter(None, [{"onnxruntime": "ort", "openvino": "ov"}.get(variant.runtime, ""),
                                          "int8" if variant.int8 else variant.precision]))
            # converted (or found) first, unmeasured: the measured runs load from the cache
            subprocess.run([sys.executable, "-m", "core.cli", "run", "--variant", spec, "--text", "warm"],
                           check=True, capture_output=True)
            app_runs = []
            for _ in range(2):
                out.unlink(missing_ok=True)
                rss, _ = _max_rss_kib([sys.executable, "-m", "core.cli", "bench", "--variant", spec, "--threads", "1",
                                       "--batch", "1", "--seq-len", "128", "--warmup", "3", "--min-iterations", "20",
                                       "--min-seconds", "0", "--out", str(out)])
                report = json.loads(out.read_text())
                app_runs.append((rss, report["memory"]["rss_peak_over_baseline"] / 2**20))
            app_rss, app_over = min(app_runs)
            runtime = report["model"]["runtime"]
            folder = runtime.get("cache", "-")
            hint = runtime.get("precision_hint") or ("int8" if variant.int8 else "fp32")
            names = ",".join(runtime.get("inputs", ["input_ids", "attention_mask", "token_type_ids"]))
            run = [sys.executable, str(script), variant.runtime, folder, hint, names]
            bare = min(_max_rss_kib([*run, "model"])[0] for _ in range(2))
            baseline = min(_max_rss_kib([*run, "baseline"])[0] for _ in range(2))
            bare_over = (bare - baseline) / 1024
            print(f"| {variant.label()} | {app_rss / 1024:.0f} | {bare / 1024:.0f} | {app_over:.0f} | {bare_over:.0f} "
                  f"| {app_over / bare_over:.2f} |", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=20, help="timed iterations per round, each side")
    parser.add_argument("--shapes", nargs="+", default=["1x128", "8x128"], help="batch x tokens")
    parser.add_argument("--no-quality", action="store_true", help="skip the dev-set agreement")
    parser.add_argument("--part", choices=("all", "speed", "paired", "memory"), default="all")
    args = parser.parse_args()
    set_threads(args.threads)
    members = load_catalog().ladder("runtimes").members
    if args.part in ("all", "speed"):
        shapes = [tuple(int(n) for n in shape.split("x")) for shape in args.shapes]
        speed(members, args.threads, args.rounds, args.iterations, shapes, not args.no_quality)
    if args.part in ("all", "paired"):
        paired(members, args.threads, 200, (1, 128))
    if args.part in ("all", "memory"):
        memory(members)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
