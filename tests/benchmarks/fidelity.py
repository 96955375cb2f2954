"""Does the app measure truly? Its reported p50 against a bare inference_mode loop and torch.utils.benchmark.

    python -m tests.benchmarks.fidelity [--quick] [--threads N]

Part 1, the benchmark protocol (sizelab-cli bench, the Compare view): same model object, same
input tensors, rounds interleaved (app, bare, torch.utils.benchmark) so drift on a shared machine
hits all three alike. Prints each p50 and the ratios app/bare, app/tub.

Part 2, the GUI path: Run continuously through the window's EngineHost (the engine process, the
pipe, the `measured` signal into the UI thread's event loop), on a text of exactly that many tokens
repeated batch times, against a bare loop over the same tokenized batch. Prints the p50 of the model
phase the app reports, of the whole request it plots (tokenize + model + decode), and of the
interval between records arriving on the UI thread, each over the bare p50.
"""

import argparse
import statistics
import time

import torch
import torch.utils.benchmark as tub

from core.bench import Protocol, bench_inputs, benchmark
from core.catalog import DEFAULT_MODEL_ID, load_catalog
from core.devices import set_threads
from core.loading import load_model
from core.protocol import JobKind
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


def text_of_tokens(tokenizer, tokens: int) -> str:
    """A text that tokenizes to exactly `tokens` ids, special tokens included."""
    text = " ".join(["good"] * (tokens - 2))
    assert len(tokenizer(text)["input_ids"]) == tokens, "the tokenizer splits 'good' differently"
    return text


def gui_worker_path(entry, variants, shapes, rounds: int, threads: int | None, seconds: float = 1.5) -> None:
    from core.requests import RunRequest
    from core.tasks import _tokenize
    from gui.engine_host import EngineHost
    from tests.benchmarks.qtapp import application, wait_until

    application()
    host = EngineHost()
    started, records = [], []

    def on_measured(event):  # a batch: the interval since the last one is shared by its records
        arrived = time.perf_counter()
        records.extend((arrived, record, len(event.records)) for record in event.records)

    host.started.connect(lambda *_: started.append(True))
    host.start()
    wait_until(lambda: bool(started), 120)
    print("GUI path (Run continuously in the engine process, records through the pipe and signals); "
          "p50 in ms; ratio = app / bare")
    print(f"{'variant':<8} {'shape':>7} {'bare':>8} {'model':>8} {'request':>8} {'arrivals':>9} "
          f"{'model/bare':>11} {'request/bare':>13} {'arrivals/bare':>14}")
    for variant in variants:
        request = LoadRequest(entry, variant, threads=threads)
        job = host.submit(JobKind.LOAD, request)
        wait_until(job.done, 300)
        reference = load_model(request)  # the same variant, for the bare loop on this thread
        for batch, seq in shapes:
            run = RunRequest(texts=(text_of_tokens(reference.tokenizer, seq),) * batch)
            inputs, _ = _tokenize(reference, list(run.texts))
            model_p50, request_p50, arrival_p50, bare = [], [], [], []
            for _ in range(rounds):
                records.clear()
                job = host.submit(JobKind.RUN_CONTINUOUS, run)
                job.measured.connect(on_measured)
                end = time.monotonic() + seconds
                wait_until(lambda: time.monotonic() > end and len(records) >= 12, 120)
                job.cancel()
                wait_until(job.done, 60)
                steady = records[2:]  # the first requests of a run warm caches up
                model_p50.append(statistics.median(r.phases["model"] for _, r, _ in steady))
                request_p50.append(statistics.median(r.latency for _, r, _ in steady))
                # records come in batches (core.protocol.BATCH_SECONDS): an interval between two
                # batches is shared by the later batch's records
                arrival_p50.append(statistics.median((b[0] - a[0]) / b[2] for a, b in zip(steady, steady[1:])
                                                     if b[0] != a[0]))
                bare.append(bare_p50(reference.model, inputs, 20))
            m, r, a, b = (statistics.median(x) * 1000 for x in (model_p50, request_p50, arrival_p50, bare))
            print(f"{variant.label():<8} {batch:>3}x{seq:<3} {b:8.2f} {m:8.2f} {r:8.2f} {a:9.2f} "
                  f"{m / b:11.3f} {r / b:13.3f} {a / b:14.3f}")
        reference.release()
    assert host.shutdown(10_000)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--part", choices=("all", "protocol", "gui"), default="all")
    args = parser.parse_args()
    set_threads(args.threads)
    entry = load_catalog().get(DEFAULT_MODEL_ID)
    shapes = [(1, 32), (1, 128), (8, 32), (8, 128)] if not args.quick else [(1, 128), (8, 128)]
    if args.part in ("all", "gui"):
        gui_worker_path(entry, (Variant(), Variant(int8=True)), shapes, args.rounds, args.threads)
    if args.part == "gui":
        return 0
    print(f"Benchmark protocol, threads {torch.get_num_threads()}; p50 in ms; ratio = app / reference")
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
