"""Hostile model folders, endless work and everyday CLI hygiene (issue 12): each case is refused in
one line, capped and said, or ended quietly; never a traceback, a hang or a memory bomb."""

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file, save_file

from core import compare_data as compare
from core.catalog import ModelEntry, load_catalog
from core.cli import main
from core.errors import InputError
from core.loading import load_model
from core.requests import LoadRequest, Protocol
from core.variants import Variant

REPO = Path(__file__).resolve().parents[2]
PREFIX = "sizelab-cli: error: "
TINY = ["--warmup", "0", "--min-iterations", "1", "--min-seconds", "0", "--seq-len", "8"]


def error_lines(capsys) -> list[str]:
    err = capsys.readouterr().err
    return [line for line in err.splitlines() if line.strip()]


def edited(bert_dir: Path, tmp_path: Path, **config) -> Path:
    folder = tmp_path / "model"
    shutil.copytree(bert_dir, folder)
    data = json.loads((folder / "config.json").read_text()) | config
    (folder / "config.json").write_text(json.dumps(data))
    return folder


def run_folder(folder: Path, *extra) -> list[str]:
    return ["run", "--folder", str(folder), "--text", "the cat sat", *extra]


# ---------------------------------------------------------------- configs


@pytest.mark.parametrize("field, value", [("vocab_size", 0), ("vocab_size", -5), ("max_position_embeddings", 0),
                                          ("hidden_size", 2.5), ("num_hidden_layers", True)])
def test_a_bad_size_in_the_config_names_its_field(bert_dir, tmp_path, capsys, field, value):
    code = main(run_folder(edited(bert_dir, tmp_path, **{field: value})))
    lines = error_lines(capsys)
    assert code == 2 and len(lines) == 1, lines
    assert f"{field} must be a whole number of at least 1" in lines[0]


@pytest.mark.parametrize("config, message", [
    ({"hidden_size": 10**6}, "GiB of weights"),  # tried to allocate about 40 GB
    ({"num_hidden_layers": 100_000}, "num_hidden_layers is 100,000"),  # killed by the memory limit after 45 s
])
def test_a_memory_bomb_config_is_refused_before_allocating(bert_dir, tmp_path, capsys, config, message):
    started = time.perf_counter()
    code = main(run_folder(edited(bert_dir, tmp_path, **config)))
    lines = error_lines(capsys)
    assert code == 2 and len(lines) == 1 and message in lines[0], lines
    assert time.perf_counter() - started < 30  # refused from the config; nothing was built


def test_the_parameter_estimate_is_close_to_the_real_count(bert_dir, marian_dir):
    from core.loading import estimate_parameters

    for folder, task in ((bert_dir, "classification"), (marian_dir, "translation")):
        estimate = estimate_parameters(json.loads((folder / "config.json").read_text()))
        real = load_model(LoadRequest(ModelEntry.for_folder(folder, task))).info.params_total
        assert 0.5 < estimate / real < 2, (folder, estimate, real)


def test_a_shape_mismatch_is_one_line_and_verbose_prints_the_report(bert_dir, tmp_path, capsys):
    folder = edited(bert_dir, tmp_path, intermediate_size=48)
    assert main(run_folder(folder)) == 2
    lines = error_lines(capsys)
    assert len(lines) == 1 and lines[0].startswith(PREFIX) and "--verbose" in lines[0], lines
    assert main(run_folder(folder, "--verbose")) == 2
    lines = error_lines(capsys)
    assert any("MISMATCH" in line for line in lines) and lines[-1].startswith(PREFIX), lines


def _rewrite_weights(folder: Path, change) -> None:
    path = folder / "model.safetensors"
    tensors = load_file(path)
    change(tensors)
    save_file(tensors, path, metadata={"format": "pt"})


def test_integer_weights_where_the_model_wants_floats_are_refused(bert_dir, tmp_path, capsys):
    folder = edited(bert_dir, tmp_path)

    def to_int32(tensors):
        for name in tensors:
            if name.endswith(".weight"):
                tensors[name] = tensors[name].mul(1000).to(torch.int32)
    _rewrite_weights(folder, to_int32)
    code = main(run_folder(folder))
    lines = error_lines(capsys)
    assert code == 2 and len(lines) == 1 and "as I32; the model needs floating-point weights" in lines[0], lines


def test_non_finite_outputs_warn_and_the_json_stays_strict(bert_dir, tmp_path, capsys):
    folder = edited(bert_dir, tmp_path)

    def poison(tensors):
        tensors["classifier.weight"] = torch.full_like(tensors["classifier.weight"], math.nan)
    _rewrite_weights(folder, poison)
    assert main(run_folder(folder, "--json")) == 0
    out = capsys.readouterr().out

    def refuse(name):
        raise AssertionError(f"{name} in the JSON output")
    record = json.loads(out, parse_constant=refuse)
    assert all(score is None for score in record["scores"].values())
    assert any("not finite numbers" in warning for warning in record["warnings"])


def test_an_empty_hub_id_is_refused_not_the_bundled_model(capsys):
    assert main(["run", "--hub", "", "--text", "x"]) == 2
    assert "--hub needs a Hugging Face model id" in error_lines(capsys)[0]


# ---------------------------------------------------------------- endless work


@pytest.fixture(scope="module")
def tiny_bert():
    return load_model(LoadRequest(load_catalog().get("synthetic/bert-tiny")))


def test_the_safety_stop_covers_the_warm_up(tiny_bert):
    """--warmup 1000000000 ran past 45 s: max_seconds bounded the measured iterations only."""
    from core.bench import Sample, run_benchmark

    protocol = Protocol(batch_size=1, seq_len=8, warmup=10**9, min_iterations=1, min_seconds=0, max_seconds=0.3)
    warm = 0
    for record in run_benchmark(tiny_bert, protocol):
        if isinstance(record, Sample) and record.warmup:
            warm += 1
            assert warm < 200_000, "the warm-up did not stop at max_seconds"
    assert warm >= 1


def test_a_batch_too_big_for_memory_is_refused_before_allocating(capsys):
    from core.measure import rss_bytes

    before = rss_bytes()
    code = main(["bench", "--model", "synthetic/bert-tiny", "--batch", str(10**9), *TINY])
    lines = error_lines(capsys)
    assert code == 2 and len(lines) == 1 and "benchmark inputs" in lines[0] and "nothing was allocated" in lines[0]
    assert rss_bytes() - before < 2**30


@pytest.fixture(scope="module")
def marian(marian_dir):
    return load_model(LoadRequest(ModelEntry.for_folder(marian_dir, "translation")))


def test_new_tokens_beyond_the_decoder_positions_are_capped_and_said(marian):
    from core.bench import benchmark
    from core.tasks import translate

    positions = marian.model.config.max_position_embeddings  # 64 in tests/builders.py
    result = translate(marian, "hello there", max_new_tokens=positions + 10, min_new_tokens=positions + 10)
    assert result.new_tokens == positions
    assert any(f"decoder has {positions} positions" in w for w in result.warnings)
    report = benchmark(marian, Protocol(batch_size=1, seq_len=8, warmup=0, min_iterations=1, min_seconds=0,
                                        new_tokens=positions * 10))
    assert report.protocol["new_tokens_used"] == positions and report.warnings


# ---------------------------------------------------------------- the Pareto frontier


def quadratic_front(points):
    """The definition, pair by pair (what core.compare did before)."""
    def beaten(x, y):
        return any(x2 <= x and y2 >= y and (x2 < x or y2 > y) for x2, y2 in points)
    return sorted((i for i, (x, y) in enumerate(points) if not beaten(x, y)), key=lambda i: points[i])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)) | st.tuples(st.floats(0, 1), st.floats(0, 1)),
                max_size=30))
def test_the_frontier_is_the_definition(points):
    assert compare.pareto_front(points) == quadratic_front(points)


class Counted(float):
    """A float that counts its comparisons: the frontier's cost without a clock."""

    comparisons = 0

    def _count(self, other, op):
        Counted.comparisons += 1
        return op(float(self), float(other))

    def __lt__(self, other):
        return self._count(other, float.__lt__)

    def __le__(self, other):
        return self._count(other, float.__le__)

    def __gt__(self, other):
        return self._count(other, float.__gt__)

    def __ge__(self, other):
        return self._count(other, float.__ge__)

    def __eq__(self, other):
        return self._count(other, float.__eq__)

    __hash__ = float.__hash__

    def __neg__(self):
        return Counted(-float(self))


def test_the_frontier_takes_n_log_n_comparisons():
    """Opening a saved run of 20,000 rows took minutes: every point was compared with every other.

    The worst case is the usual ladder: quality grows with latency, so every row is on the frontier.
    """
    import random

    rng = random.Random(0)
    n = 4000
    on_front = [(Counted(i / n), Counted(i / n)) for i in range(n // 2)]
    scattered = [(Counted(0.5 + rng.random()), Counted(-rng.random())) for _ in range(n // 2)]  # all beaten
    Counted.comparisons = 0
    front = compare.pareto_front(on_front + scattered)
    assert front == list(range(n // 2))
    assert Counted.comparisons < 10 * n * math.log2(n), Counted.comparisons  # pair by pair: about n^2 / 4


# ---------------------------------------------------------------- variants


@pytest.mark.parametrize("text, first, second", [("fp16,bf16", "fp16", "bf16"), ("L2,L1", "L2", "L1"),
                                                 ("int8,layers=3,L4", "layers=3", "L4")])
def test_contradictory_variant_parts_are_refused(text, first, second):
    with pytest.raises(InputError, match=f"'{first}' and '{second}' contradict"):
        Variant.parse(text)


@pytest.mark.parametrize("text", ["large", "layer", "L", "Lx", "layers=two", "fp8"])
def test_an_unknown_variant_part_names_the_part(text):
    with pytest.raises(InputError, match=f"Unknown variant part '{text}'"):
        Variant.parse(text)


def test_variant_parts_that_agree_are_fine():
    assert Variant.parse("fp16,fp16,L2,l2") == Variant(precision="fp16", layers=2)
    with pytest.raises(InputError, match="'L0'.*at least 1"):
        Variant.parse("L0")


# ---------------------------------------------------------------- the CLI as a Unix tool


def _cli(*args, **kwargs) -> subprocess.Popen:
    env = os.environ | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    return subprocess.Popen([sys.executable, "-m", "core.cli", *args], cwd=REPO, env=env, **kwargs)


def test_a_closed_pipe_ends_the_cli_quietly():
    """`sizelab-cli ... | head -1` ended in a BrokenPipeError traceback."""
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line
    process = _cli("models", stdout=write, stderr=subprocess.PIPE, text=True)
    os.close(write)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 141 and err == "", err


@pytest.mark.slow  # a compare in a child process, then SIGTERM: about 4 s
def test_sigterm_during_compare_saves_the_run_as_interrupted(tmp_path):
    out = tmp_path / "run.json"
    process = _cli("compare", "--member", "synthetic/bert-tiny", "--member", "synthetic/bert-tiny@L1",
                   "--no-quality", "--warmup", "0", "--min-iterations", "1", "--min-seconds", "600",
                   "--seq-len", "8", "--out", str(out), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not out.exists():  # written at RunStarted, before the first row is measured
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.2)
    time.sleep(1.0)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    run = json.loads(out.read_text())
    assert process.returncode == 130 and "Traceback" not in err, err
    assert run["outcome"] == "interrupted", run["outcome"]
    assert {row["status"] for row in run["rows"]} <= {"done", "not run"}, [r["status"] for r in run["rows"]]
