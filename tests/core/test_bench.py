"""The benchmark protocol's stopping rules and report, on a small real checkpoint."""

import pytest

from core.bench import BenchReport, Protocol, Sample, bench_inputs, benchmark, run_benchmark
from core.cancel import CancelToken
from core.catalog import ModelEntry
from core.errors import Cancelled, InputError
from core.loading import load_model
from core.requests import LoadRequest


@pytest.fixture(scope="module")
def tiny(bert_dir):
    return load_model(LoadRequest(ModelEntry.for_folder(bert_dir, "classification")))


def test_inputs_have_the_exact_shape(tiny):
    inputs = bench_inputs(tiny, Protocol(batch_size=3, seq_len=40))
    assert tuple(inputs["input_ids"].shape) == (3, 40)
    assert int(inputs["attention_mask"].sum()) == 120
    assert inputs["input_ids"][0, 0] == tiny.tokenizer.cls_token_id


@pytest.mark.slow  # runs the benchmark until its time and iteration rules stop it
def test_min_iterations_rule(tiny):
    report = benchmark(tiny, Protocol(seq_len=16, warmup=2, min_iterations=30, min_seconds=0))
    assert report.latency["n"] == 30 and len(report.warmup_samples) == 2


def test_min_seconds_rule(tiny):
    report = benchmark(tiny, Protocol(seq_len=16, warmup=1, min_iterations=1, min_seconds=0.3))
    assert sum(report.samples) >= 0.3 * 0.5  # timed work is most of the wall time
    # it iterates until 0.3 s have passed: more than once, unless one iteration already took that long
    # (seen with the machine's two cores shared by a dozen processes)
    assert report.latency["n"] > 1 or report.samples[0] >= 0.3


def test_records_stream_then_report(tiny):
    records = list(run_benchmark(tiny, Protocol(seq_len=16, warmup=2, min_iterations=5, min_seconds=0)))
    assert [type(r) for r in records] == [Sample] * 7 + [BenchReport]
    assert [r.warmup for r in records[:-1]] == [True, True] + [False] * 5
    report = records[-1]
    assert report.throughput_items_per_s == pytest.approx(1 / report.latency["p50"])
    assert report.memory["rss_peak"] >= report.memory["rss_at_start"]
    assert report.model["params_total"] == tiny.info.params_total


def test_cancel_between_iterations(tiny):
    cancel = CancelToken()
    generator = run_benchmark(tiny, Protocol(seq_len=16, warmup=1, min_iterations=1000, min_seconds=60),
                              cancel=cancel)
    next(generator)
    cancel.cancel()
    with pytest.raises(Cancelled):
        next(generator)


def test_translation_benchmark_forces_new_tokens(marian_dir):
    loaded = load_model(LoadRequest(ModelEntry.for_folder(marian_dir, "translation")))
    report = benchmark(loaded, Protocol(seq_len=16, warmup=1, min_iterations=3, min_seconds=0, new_tokens=5))
    assert report.throughput_tokens_per_s == pytest.approx(5 / report.latency["p50"])


@pytest.mark.parametrize("kwargs", [{"batch_size": 0}, {"seq_len": 2}, {"min_iterations": 0}, {"max_seconds": 0}])
def test_bad_protocols(kwargs):
    with pytest.raises(InputError):
        Protocol(**kwargs)
