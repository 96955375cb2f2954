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


# --- issue 13: the CLI's rough edges


def test_plain_run_shows_the_warnings_json_carries_on_stderr(capsys, monkeypatch):
    """Random weights and an emulated precision: --json said so in every record, plain output never did."""
    import core.advisor

    monkeypatch.setattr(core.advisor, "cpu_flags", lambda: frozenset())  # a CPU without native fp16
    argv = ["run", "--model", "synthetic/bert-tiny", "--variant", "fp16", "--text", "hello there", "--text", "again"]
    code, out, _ = run_cli(capsys, *argv, "--json")
    assert code == 0
    expected = json.loads(out.splitlines()[0])["warnings"]
    assert any("Synthetic model" in w for w in expected) and any("fp16 is emulated" in w for w in expected)
    code, out, err = run_cli(capsys, *argv)
    assert code == 0
    assert len(out.splitlines()) == 2 and "warning" not in out  # stdout: one result per text, nothing else
    warnings = [line.removeprefix("sizelab-cli: warning: ") for line in err.splitlines()]
    assert all(line.startswith("sizelab-cli: warning: ") for line in err.splitlines())
    assert sorted(warnings) == sorted(expected)  # each once, not once per text


def test_version_names_the_app_and_libraries_without_importing_torch():
    from importlib.metadata import version

    script = ("import sys\nfrom core.cli import main\ntry:\n    main(['--version'])\nexcept SystemExit as exit:\n"
              "    print('exit', exit.code, 'torch' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    first, last = result.stdout.splitlines()
    assert first.startswith(f"sizelab-cli {version('model-size-lab')} (torch {version('torch')}, "
                            f"transformers {version('transformers')}, Python ")
    assert last == "exit 0 False", result.stderr


def _subcommands():
    import argparse

    from core.cli import build_parser

    parser = build_parser()
    [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return [("sizelab-cli", parser)] + list(sub.choices.items())


@pytest.mark.parametrize("name, parser", _subcommands(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_option_has_help_and_shows_its_default(monkeypatch, name, parser):
    import argparse

    monkeypatch.setenv("COLUMNS", "1000")  # one line per option: no default split across lines
    text = " ".join(parser.format_help().split())
    for action in parser._actions:
        if not action.option_strings or action.help == argparse.SUPPRESS:
            continue
        assert action.help and action.help.strip(), f"{name} {action.option_strings[0]} has no help"
        if action.default not in (None, False, argparse.SUPPRESS):
            assert f"(default: {action.default})" in text, f"{name} {action.option_strings[0]}"


def test_the_variant_default_is_still_a_variant():
    from core.cli import build_parser
    from core.variants import Variant

    args = build_parser().parse_args(["run", "--text", "x"])
    assert args.variant == Variant()


def test_models_has_a_header_and_says_what_is_usable_offline(capsys, monkeypatch, tmp_path):
    snapshot = tmp_path / "models--philschmid--tiny-bert-sst2-distilled" / "snapshots" / "0123abc"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    code, out, _ = run_cli(capsys, "models")
    assert code == 0
    header, *lines = out.splitlines()
    assert header.split() == ["ID", "TASK", "SOURCE", "PARAMS", "LOCAL", "NAME"]
    start, end = header.index("LOCAL"), header.index("NAME")
    rows = lines[:lines.index("")]  # the ladders follow an empty line
    local = {line.split()[0]: line[start:end].strip() for line in rows}
    assert len(local) == len(rows) and set(local.values()) == {"bundled", "synthetic", "cached", "not cached"}
    assert local["hub/philschmid/tiny-bert-sst2-distilled"] == "cached"
    assert local["hub/google-t5/t5-small"] == "not cached"
    assert local["bundled/minilm-l6-sentiment"] == "bundled" and local["synthetic/bert-tiny"] == "synthetic"
    code, out, _ = run_cli(capsys, "models", "--json")
    assert {m["id"]: m["local"] for m in json.loads(out)} == local  # the same column, as a field


@pytest.mark.parametrize("source", ["stdin", "file"])
def test_an_empty_line_is_skipped_with_a_warning_and_the_batch_goes_on(capsys, monkeypatch, tmp_path, source):
    import io

    texts = "first one\n\nsecond one\n  \r\nthird one\n"
    if source == "stdin":
        monkeypatch.setattr(sys, "stdin", io.StringIO(texts))
        argv, where = [], "standard input"
    else:
        path = tmp_path / "texts.txt"
        path.write_text(texts, newline="")
        argv, where = ["--file", str(path)], str(path)
    code, out, err = run_cli(capsys, "run", "--model", "synthetic/bert-tiny", "--json", *argv)
    assert code == 0
    assert [json.loads(line)["text"] for line in out.splitlines()] == ["first one", "second one", "third one"]
    assert f"sizelab-cli: warning: line 2 of {where} is empty: skipped." in err.splitlines()
    assert f"sizelab-cli: warning: line 4 of {where} is empty: skipped." in err.splitlines()


def test_read_lines_reports_a_blank_line_as_it_arrives():
    """An endless pipe: the warning for line 2 comes before line 3 is read, and nothing is read ahead."""
    from core.cli import read_lines

    class Pipe:
        lines = iter(["a\n", "\n", "b\n"])

        def readline(self, size=-1):
            return next(self.lines)  # StopIteration (a test failure) if read past "b"

    blanks = []
    texts = read_lines(Pipe(), on_blank=blanks.append)
    assert next(texts) == ("a", None) and blanks == []
    assert next(texts) == ("b", None) and blanks == [2]


@pytest.mark.parametrize("content, says", [
    (b"hello, this is not JSON\n", "is not JSON, so not a saved comparison"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "is not JSON, so not a saved comparison"),
    (b'{"rows": []}', "is not a saved comparison"),
])
@pytest.mark.parametrize("how", ["--open", "--diff"])
def test_compare_open_of_a_file_that_is_not_a_saved_run_says_so(capsys, tmp_path, content, says, how):
    path = tmp_path / "picture.png"
    path.write_bytes(content)
    code, out, err = run_cli(capsys, "compare", how, str(path), *([str(path)] if how == "--diff" else []))
    assert code == 2 and out == ""
    assert err.startswith("sizelab-cli: error: ") and says in err
    assert err.count("\n") == 1 and "Traceback" not in err


FAST = ["--warmup", "0", "--min-iterations", "1", "--min-seconds", "0"]


def test_bench_says_when_seq_len_was_capped(capsys):
    code, out, err = run_cli(capsys, "bench", "--model", "synthetic/bert-tiny", "--seq-len", "600", *FAST)
    assert code == 0 and "batch 1 x 512" in out
    assert "sizelab-cli: warning: --seq-len 600 was capped to 512" in err
    code, _, err = run_cli(capsys, "bench", "--model", "synthetic/bert-tiny", "--seq-len", "16", *FAST)
    assert code == 0 and "capped" not in err


def test_compare_says_when_seq_len_was_capped(capsys):
    code, _, err = run_cli(capsys, "compare", "--member", "synthetic/bert-tiny", "--seq-len", "600", "--no-quality",
                           "--sweep", "seq_len=16,1000", *FAST)
    assert code == 0
    assert "--seq-len 600 was capped to 512" in err and "--sweep seq_len=1000 was capped to 512" in err
    assert "seq_len=16 was capped" not in err


def test_generation_bench_says_when_the_prompt_was_capped(capsys, tmp_path):
    from tests.builders import causal_lm_folder

    folder = causal_lm_folder(tmp_path, "gpt2", layers=1)  # 128 positions
    code, out, err = run_cli(capsys, "bench", "--folder", str(folder), "--task", "generation", "--seq-len", "200",
                             "--new-tokens", "4", *FAST)
    assert code == 0 and "prompt 124 + 4 new tokens" in out
    assert "--seq-len 200 was capped to 124" in err
