"""sizelab-cli end to end, in-process (same code path as the console script), offline."""

import json
import subprocess
import sys

import pytest

from core.cli import main


def run_cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_models_json_lists_every_source(capsys):
    code, out, _ = run_cli(capsys, "models", "--json")
    models = json.loads(out)
    assert code == 0
    assert {m["source"] for m in models} >= {"bundled", "synthetic", "hub"}
    assert any(m["id"] == "bundled/minilm-l6-sentiment" for m in models)
    family = [m for m in models if m["source"] == "bundled"]
    assert len(family) == 3 and all(m["weight_bytes"] and m["accuracy"]["hard_test"] > 0.5 for m in family)


def test_run_defaults_to_the_bundled_sentiment_model(capsys):
    code, out, _ = run_cli(capsys, "run", "--json", "--text", "An absolute joy from start to finish, I loved it.",
                           "--text", "Terrible. It stopped working after two days and nobody would help.")
    assert code == 0
    first, second = (json.loads(line) for line in out.splitlines())
    assert first["label"] == "positive" and second["label"] == "negative"
    assert set(first["phases_s"]) == {"tokenize", "model", "decode"}
    assert first["model"] == "bundled/minilm-l6-sentiment"


def test_run_reads_stdin_and_translates_a_folder(capsys, monkeypatch, marian_dir):
    import io
    monkeypatch.setattr(sys, "stdin", io.StringIO("the cat sat on the mat\n\nhello world\n"))
    code, out, _ = run_cli(capsys, "run", "--json", "--folder", str(marian_dir), "--task", "translation",
                           "--max-new-tokens", "5")
    records = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(records) == 2
    assert all(r["new_tokens"] >= 1 and "translation" in r for r in records)


def test_bench_writes_a_report_with_environment(capsys, tmp_path, bert_dir):
    out_file = tmp_path / "report.json"
    code, out, _ = run_cli(capsys, "bench", "--folder", str(bert_dir), "--batch", "2", "--seq-len", "32",
                           "--warmup", "1", "--min-iterations", "5", "--min-seconds", "0", "--out", str(out_file))
    assert code == 0 and "p50" in out
    report = json.loads(out_file.read_text())
    assert report["latency"]["n"] == 5 and len(report["samples"]) == 5
    assert report["protocol"]["batch_size"] == 2 and report["protocol"]["seq_len_used"] == 32
    env = report["environment"]
    assert {"cpu", "ram_bytes", "os", "python", "torch", "transformers", "threads"} <= set(env)


def test_outputs_are_not_overwritten_without_force(capsys, tmp_path):
    out_file = tmp_path / "report.json"
    out_file.write_text("an earlier report")
    argv = ["bench", "--model", "synthetic/bert-tiny", "--seq-len", "8", "--warmup", "0", "--min-iterations", "1",
            "--min-seconds", "0", "--out", str(out_file)]
    code, _, err = run_cli(capsys, *argv)
    assert code == 2 and "already exists; pass --force" in err
    assert out_file.read_text() == "an earlier report"
    code, _, _ = run_cli(capsys, *argv, "--force")
    assert code == 0 and json.loads(out_file.read_text())["latency"]["n"] == 1


@pytest.mark.parametrize("args, message", [
    (["run", "--text", "   "], "empty"),
    (["run", "--model", "no/such", "--text", "x"], "No model"),
    (["run", "--hub", "nobody/nothing-here", "--text", "x"], "not in the local Hugging Face cache"),
    (["run", "--variant", "int8", "--device", "cuda:3", "--text", "x"], "CPU only"),
])
def test_errors_are_one_clear_line_and_nonzero(capsys, args, message):
    code, out, err = run_cli(capsys, *args)
    assert code == 2
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_bad_variant_is_an_argument_error():
    result = subprocess.run([sys.executable, "-m", "core.cli", "run", "--variant", "fp8", "--text", "x"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "Unknown variant part" in result.stderr


def test_run_json_carries_the_uncertain_flag(capsys):
    code, out, _ = run_cli(capsys, "run", "--json", "--text", "An absolute joy from start to finish, I loved it.",
                           "--text", "Le service était très mauvais et la chambre sale.")
    assert code == 0
    english, french = (json.loads(line) for line in out.splitlines())
    assert english["uncertain"] is False
    assert french["uncertain"] is True and any("English only" in w for w in french["warnings"])
