"""Comparing a size ladder: the frontier and the derived columns on made-up rows, then real runs
on small checkpoints (the protocol's stopping rules themselves are tested in test_bench.py)."""

import json
import signal
import subprocess
import sys
import time
from dataclasses import replace

import pytest

from core import compare, compare_data, paths, quality
from core.bench import Protocol
from core.cancel import CancelToken
from core.catalog import LadderMember, ModelEntry, load_catalog
from core.cli import main
from core.errors import DeviceError, InputError
from core.variants import Variant

QUICK = Protocol(seq_len=16, warmup=1, min_iterations=3, min_seconds=0)


# ---------------------------------------------------------------- made-up rows


def made_up_row(index, name, params, p50, memory, accuracy=None, predictions=(), synthetic=False, variant="fp32"):
    return {
        "index": index, "status": "done", "error": None, "label": variant,
        "model": {"id": f"m/{name}", "name": name, "synthetic": synthetic, "variant": {"v": variant},
                  "variant_label": variant},
        "params_total": params, "params_non_embedding": params // 2, "weight_bytes": params * 4,
        "load_seconds": 0.5, "first_inference_seconds": 2 * p50,
        "latency": {"p50": p50, "p90": 1.1 * p50, "p99": 1.2 * p50, "noisy": False},
        "throughput_items_per_s": 1 / p50, "throughput_tokens_per_s": 128 / p50, "memory_bytes": memory,
        "efficiency": {"gflops": 10.0, "fraction_of_peak": 0.5},
        "quality": {"metric": "" if synthetic else "accuracy", "value": accuracy, "note": "",
                    "predictions": list(predictions)},
    }


def made_up_run(rows, **protocol):
    return {"schema": compare_data.SCHEMA, "created": "2025-01-01T00:00:00+00:00", "outcome": "done",
            "request": {"protocol": {"batch_size": 1, "seq_len": 128} | protocol, "device": "cpu",
                        "members": [], "sweep": None},
            "environment": {"cpu": "test"}, "peak_gflops": 20.0, "peak_method": "test", "rows": rows}


def test_pareto_front_keeps_only_unbeaten_points():
    points = [(10, 0.90), (5, 0.85), (7, 0.80), (2, 0.60), (5, 0.85), (12, 0.90), (1, 0.10), (3, 0.50)]
    # (7, .80) loses to (5, .85); (12, .90) to (10, .90); (3, .50) to (2, .60); the tie at (5, .85) is kept twice
    assert compare_data.pareto_front(points) == [6, 3, 1, 4, 0]
    assert compare_data.pareto_front([]) == []
    assert compare_data.pareto_front([(1.0, 0.5)]) == [0]


def test_speedup_saving_and_agreement_against_the_reference():
    big = made_up_row(0, "big", 100, 0.040, 400, 0.90, "ppnnpnnpnp")
    small = made_up_row(1, "small", 25, 0.010, 100, 0.80, "ppnnpnnpnn")
    fake = made_up_row(2, "fake", 300, 0.120, 1200, None, synthetic=True)
    failed = {"index": 3, "status": "failed", "error": "boom",
              "model": {"id": "m/x", "name": "x", "synthetic": False, "variant": {}, "variant_label": "fp32"}}
    run = made_up_run([big, small, fake, failed])

    rows = compare_data.table(run, reference=0)
    assert rows[0]["reference"] and rows[0]["speedup"] == 1 and rows[0]["agreement"] == 1
    assert rows[1]["speedup"] == pytest.approx(4.0)
    assert rows[1]["memory_saving"] == pytest.approx(0.75)
    assert rows[1]["agreement"] == pytest.approx(0.9)
    assert rows[2]["quality"] is None and rows[2]["agreement"] is None  # synthetic: n/a, never a number
    assert rows[3]["status"] == "failed" and rows[3]["error"] == "boom"
    assert compare_data.frontier(rows) == [1, 0]

    by_default = compare_data.table(run)  # the most parameters: the synthetic row
    assert [r["reference"] for r in by_default] == [False, False, True, False]
    assert by_default[1]["speedup"] == pytest.approx(12.0)
    assert by_default[1]["agreement"] is None  # against a synthetic reference
    assert compare_data.table(run, reference=3)[2]["reference"]  # a failed row cannot be the reference

    csv_lines = compare_data.table_csv(run).splitlines()
    assert csv_lines[0].startswith("index,model,variant,status,params_total")  # core.columns' order
    assert ",n/a,n/a," in csv_lines[3]  # the synthetic row's quality and agreement
    assert "failed" in csv_lines[4] and "boom" in csv_lines[4]


def test_flops_approximation():
    assert compare.flops_per_iteration(10_000_000, "sentence", 8, 128, new_tokens=32) == 2 * 10e6 * 8 * 128
    # an encoder-decoder: each token meets about half the weights
    assert compare.flops_per_iteration(10_000_000, "seq2seq", 1, 100, 28) == 10e6 * 128


def test_quality_metrics():
    assert quality.accuracy(["a", "b", "a"], ["a", "a", "a"]) == pytest.approx(2 / 3)
    assert compare_data.agreement(["a", "b"], ["a", "c"]) == 0.5
    assert compare_data.agreement(["a"], ["a", "b"]) is None
    assert quality.chrf(["Der Zug fährt um sieben."], ["Der Zug fährt um sieben."]) == pytest.approx(100)
    assert 0 < quality.chrf(["Der Zug fährt um acht."], ["Der Zug fährt um sieben."]) < 100
    with pytest.raises(InputError):
        quality.accuracy([], [])


def test_save_open_and_diff(tmp_path):
    a = made_up_run([made_up_row(0, "big", 100, 0.040, 400, 0.90, "pn"),
                     made_up_row(1, "small", 25, 0.010, 100, 0.80, "pp")])
    b = made_up_run([made_up_row(0, "big", 100, 0.050, 400, 0.90, "pn"),
                     made_up_row(1, "tiny", 5, 0.002, 20, 0.70, "nn")], seq_len=64)
    path = compare_data.save_run(tmp_path / "a.json", a)
    assert compare_data.load_run(path) == a

    diff = compare_data.diff_runs(a, b)
    assert [(r["model"], r["status_a"], r["status_b"]) for r in diff["rows"]] == [
        ("big", "done", "done"), ("small", "done", "absent"), ("tiny", "absent", "done")]
    assert diff["rows"][0]["p50_s_change"] == pytest.approx(0.25)
    assert diff["rows"][0]["quality_delta"] == pytest.approx(0)
    assert diff["protocol_changes"] == {"seq_len": (128, 64)}
    assert "seq_len: 128 -> 64" in compare_data.text_diff(diff)

    (tmp_path / "other.json").write_text(json.dumps({"latency": {}}))
    with pytest.raises(InputError, match="not a saved comparison"):
        compare_data.load_run(tmp_path / "other.json")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(InputError):
        compare_data.load_run(tmp_path / "broken.json")


# ---------------------------------------------------------------- real runs


@pytest.fixture(scope="module")
def bert(bert_dir):
    return ModelEntry.for_folder(bert_dir, "classification")


def request_for(members, **kwargs):
    kwargs = {"protocol": QUICK, "peak_size": 256} | kwargs
    return compare_data.CompareRequest(members=tuple(members), **kwargs)


@pytest.mark.slow  # measures real models end to end
def test_tiny_ladder_end_to_end(bert):
    members = [LadderMember(bert, Variant(layers=2)), LadderMember(bert, Variant(int8=True, layers=2)),
               LadderMember(bert, Variant(layers=1)), LadderMember(bert, Variant(int8=True, layers=1))]
    records = []
    run = compare.compare(request_for(members, quality_limit=64), on_record=lambda r, _run: records.append(r))

    kinds = [type(r).__name__ for r in records]
    assert kinds[1] == "RunStarted" and kinds[-1] == "RunFinished"
    assert kinds.count("RowStarted") == kinds.count("RowFinished") == 4
    assert run["outcome"] == "done" and run["peak_gflops"] > 0
    assert {"cpu", "torch", "threads"} <= set(run["environment"])
    rows = run["rows"]
    assert [r["status"] for r in rows] == ["done"] * 4
    assert [r["label"] for r in rows] == ["fp32 L2/2", "int8 L2/2", "fp32 L1/2", "int8 L1/2"]
    assert rows[2]["params_total"] < rows[0]["params_total"]
    assert rows[1]["weight_bytes"] < rows[0]["weight_bytes"]  # int8 packs the Linear weights
    for row in rows:
        assert len(row["samples"]) == 3 and len(row["warmup_samples"]) == 1
        assert row["quality"]["metric"] == "accuracy" and 0 <= row["quality"]["value"] <= 1
        assert len(row["quality"]["predictions"]) == 64
        assert row["efficiency"]["gflops"] > 0 and row["efficiency"]["fraction_of_peak"] > 0
        assert row["memory_bytes"] == row["memory"]["rss_peak_over_baseline"]
    table = compare_data.table(run)
    assert table[0]["reference"] and table[0]["agreement"] == 1.0  # L2 fp32 has the most parameters
    assert all(0 <= r["agreement"] <= 1 for r in table)
    json.dumps(run)  # plain data, ready to save


@pytest.mark.skipif(not (paths.HEADS / "minilm-l6-sentiment" / "L6.safetensors").is_file(),
                    reason="the bundled classifier's trained heads are not in resources/heads yet")
@pytest.mark.slow  # measures real models end to end
def test_bundled_depths_ladder():
    ladder = load_catalog().ladder("bundled-depths")
    # the linear-head model's rows (the ladder also holds the RBF head and the TextCNN)
    members = [m for m in ladder.members if m.model.id == "bundled/minilm-l6-sentiment" and m.variant.layers in (6, 2)]
    assert len(members) == 4
    run = compare.compare(request_for(members, protocol=replace(QUICK, seq_len=16), quality_limit=32))
    assert [r["status"] for r in run["rows"]] == ["done"] * 4, [r["error"] for r in run["rows"]]
    fp32_l6, int8_l6, fp32_l2, int8_l2 = compare_data.table(run)
    assert fp32_l6["reference"] and fp32_l6["agreement"] == 1
    assert fp32_l2["params_total"] < fp32_l6["params_total"]
    assert int8_l6["weight_saving"] > 0.3 and int8_l2["weight_saving"] > fp32_l2["weight_saving"]
    for row in (fp32_l6, int8_l6, fp32_l2, int8_l2):
        # a trained head: clearly better than chance (timings are not asserted: this box is shared)
        assert row["quality_metric"] == "accuracy" and 0.6 < row["quality"] <= 1


@pytest.mark.slow  # measures real models end to end
def test_a_failing_variant_keeps_the_rest(bert, tmp_path):
    missing = ModelEntry.for_folder(tmp_path / "no-such-model", "classification")
    members = [LadderMember(bert, Variant()), LadderMember(missing, Variant()), LadderMember(bert, Variant(layers=1))]
    records = list(compare.run_compare(request_for(members, quality=False)))
    failed = [r for r in records if isinstance(r, compare_data.RowFailed)]
    assert len(failed) == 1 and failed[0].index == 1
    assert "not a folder" in failed[0].row["error"]
    collector = compare_data.RunCollector()
    for record in records:
        collector.add(record)
    assert [r["status"] for r in collector.run["rows"]] == ["done", "failed", "done"]
    assert collector.run["outcome"] == "done"
    assert "failed: " in compare_data.text_table(collector.run)
    with pytest.raises(DeviceError, match="cuda:7"):  # the whole run cannot start: one clear error
        compare.compare(request_for(members, device="cuda:7"))


@pytest.mark.slow  # measures real models end to end
def test_cancel_keeps_the_finished_rows(bert):
    cancel = CancelToken()
    members = [LadderMember(bert, Variant())] * 3
    collector = compare_data.RunCollector()
    for record in compare.run_compare(request_for(members, quality=False), cancel):
        collector.add(record)
        if isinstance(record, compare_data.RowStarted) and record.index == 1:
            cancel.cancel()  # in the middle of the second row
    assert collector.run["outcome"] == "cancelled"
    assert [r["status"] for r in collector.run["rows"]] == ["done", "cancelled", "cancelled"]


@pytest.mark.slow  # measures real models end to end
def test_sweep_times_each_value(bert):
    run = compare.compare(request_for([LadderMember(bert, Variant())], quality=False,
                                      sweep=compare_data.Sweep.parse("seq_len=8,32")))
    sweep = run["rows"][0]["sweep"]
    assert [p["value"] for p in sweep] == [8, 32] and [p["seq_len_used"] for p in sweep] == [8, 32]
    assert all(len(p["samples"]) == 3 for p in sweep)
    with pytest.raises(InputError):
        compare_data.Sweep.parse("layers=1,2")


@pytest.mark.slow  # measures real models end to end
def test_translation_rows_score_chrf(marian_dir, tmp_path, monkeypatch):
    (tmp_path / "en-de.jsonl").write_text("\n".join(json.dumps(r) for r in [
        {"source": "the cat sat on the mat", "reference": "die Katze saß auf der Matte"},
        {"source": "hello world", "reference": "hallo Welt"}]) + "\n", encoding="utf-8")
    monkeypatch.setattr(paths, "TRANSLATION_DATA", tmp_path)
    marian = replace(ModelEntry.for_folder(marian_dir, "translation"), extra={"pair": "en-de"})
    run = compare.compare(request_for([LadderMember(marian, Variant())], protocol=replace(QUICK, new_tokens=4)))
    row = compare_data.table(run)[0]
    assert row["quality_metric"] == "chrF" and 0 <= row["quality"] <= 100 and row["agreement"] == 1.0
    assert run["rows"][0]["kind"] == "seq2seq" and len(run["rows"][0]["quality"]["predictions"]) == 2
    assert row["tokens_per_s"] == pytest.approx(4 / row["p50_s"])


@pytest.mark.slow  # measures real models end to end
def test_synthetic_rows_have_no_quality():
    tiny = LadderMember(load_catalog().get("synthetic/bert-tiny"), Variant())
    run = compare.compare(request_for([tiny]))
    row = compare_data.table(run)[0]
    assert row["quality"] is None and "synthetic" in row["quality_note"]
    assert ",n/a,n/a," in compare_data.table_csv(run).splitlines()[1]
    assert " n/a " in compare_data.text_table(run)


@pytest.mark.slow  # measures real models end to end
def test_cli_compare_writes_after_every_row(capsys, tmp_path, bert_dir, monkeypatch):
    out = tmp_path / "run.json"
    saved = []
    real_save = compare_data.save_run
    monkeypatch.setattr(compare_data, "save_run", lambda path, run: (saved.append(
        [r["status"] for r in run["rows"]]), real_save(path, run))[1])
    code = main(["compare", "--member", f"{bert_dir}@fp32", "--member", f"{bert_dir}@int8", "--seq-len", "16",
                 "--warmup", "1", "--min-iterations", "3", "--min-seconds", "0", "--quality-limit", "32",
                 "--out", str(out), "--csv", str(tmp_path / "run.csv")])
    printed, err = capsys.readouterr()
    assert code == 0, err
    assert saved[1:3] == [["done", "pending"], ["done", "done"]]  # after each row, before the end
    run = compare_data.load_run(out)
    assert run["outcome"] == "done" and len(run["rows"][1]["samples"]) == 3
    assert "p50 ms" in printed and "int8" in printed
    assert (tmp_path / "run.csv").read_text().count("\n") == 3
    assert main(["compare", "--open", str(out), "--reference", "2"]) == 0
    reference_line = next(line for line in capsys.readouterr().out.splitlines() if "reference" in line)
    assert reference_line.startswith("2 ")
    assert main(["compare", "--diff", str(out), str(out)]) == 0
    assert "+0%" in capsys.readouterr().out


@pytest.mark.slow  # measures real models end to end
def test_cli_kill_minus_9_keeps_the_finished_rows(tmp_path, bert_dir):
    out = tmp_path / "run.json"
    # each row runs for 3 s: when the first is on disk, the second is the one in progress
    process = subprocess.Popen(
        [sys.executable, "-m", "core.cli", "compare", "--no-quality", "--seq-len", "16", "--warmup", "1",
         "--min-iterations", "1", "--min-seconds", "3", "--out", str(out),
         "--member", f"{bert_dir}@fp32", "--member", f"{bert_dir}@L1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=paths.RESOURCES.parent)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if out.is_file() and compare_data.load_run(out)["rows"][0]["status"] == "done":
                break
            time.sleep(0.1)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    run = compare_data.load_run(out)  # written atomically: never half a file
    assert run["outcome"] == "running"
    assert [r["status"] for r in run["rows"]] == ["done", "pending"]
    assert len(run["rows"][0]["samples"]) >= 1
