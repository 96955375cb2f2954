"""Fuzzing sizelab-cli in-process: whatever the arguments, the CLI answers with an exit code.

The contract (core/cli.py main): it returns 0 on success, 1 when a compare row failed, and 2 after
printing ONE line "sizelab-cli: error: ..." for a SizeLabError; argparse raises SystemExit(2) for
arguments it cannot parse. Any other exception, or a traceback on stderr, is a bug.

Arguments come from the real sub-commands (`train-head` is left out: it trains for minutes), mixing
structured values (variant specs, catalog ids, devices, tiny protocols) with arbitrary text. Text
that a real argv can hold: any character but NUL, including lone surrogates U+DC80..U+DCFF, which is
how Python hands over bytes that are not UTF-8 (PEP 383). Sizes that would really allocate gigabytes
(a huge --batch, --min-iterations) are kept small here; the huge batch has its own test, in a child
process with a capped address space. Files (--file, --folder, --out, --open) are made per example
under a temporary folder, special ones too (FIFOs, device nodes like /dev/null and /dev/zero made
there, sockets, links to them, sparse big files, JSON nested 100,000 deep): after every example
each special file must still be what it was (issue 12: --out /dev/null replaced the device node). The hub is never reached: HF_HUB_OFFLINE=1 (tests/conftest.py) and the
hub cache points to an empty folder.
"""

import io
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, currently_in_test_context, event, given, settings
from hypothesis import strategies as st

from core.cli import main

PREFIX = "sizelab-cli: error: "
FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# ---------------------------------------------------------------- text an argv can hold


def mostly(usual: st.SearchStrategy, odd: st.SearchStrategy, tenths: int = 7) -> st.SearchStrategy:
    """`usual` in about tenths/10 of the draws: most examples should get past argparse to the core."""
    return st.integers(0, 9).flatmap(lambda k: usual if k < tenths else odd)


ARGV_TEXT = st.text(st.one_of(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                              st.characters(min_codepoint=0xDC80, max_codepoint=0xDCFF)), max_size=40)
ODD = st.sampled_from(["", " ", "\t\n ", "\x1b[31mred", "-", "--", "-x", "--text", "-h", "😀😀", "\u202eevil",
                       "\ufeffbom", "a" * 3000, "\udcff\udcfe", "null\x01\x7f", "C:\\con", "../..", "~", "%s%n"])
TEXT = mostly(ARGV_TEXT, ODD, 8)

def as_arg(value) -> str:
    return value if isinstance(value, str) else str(value)


# ints as an argv spells them: weird, negative, huge, and not ints at all
WEIRD_INT = mostly(st.one_of(st.integers(4, 64), st.sampled_from([2**31, 2**64, 10**30])),
                   st.one_of(st.integers(-3, 3), st.sampled_from([-(2**63)]), st.integers(),
                             st.sampled_from(["1e3", "0x10", "٣", "+2", " 2 ", "2.0", "", "inf"])), 7).map(as_arg)


def int_arg(small_valid: st.SearchStrategy) -> st.SearchStrategy:
    """Small valid ints (large valid ones would run for minutes), and invalid ones of every kind."""
    return mostly(small_valid, st.one_of(st.integers(max_value=0), st.sampled_from([-(2**63), -(10**30)]),
                                         st.sampled_from(["1e3", "0x10", "+1", "1.5", "", "x", "nan", "٣"])),
                  8).map(as_arg)


PARTS = ["fp32", "fp16", "bf16", "int8", "L0", "L1", "L3", "L6", "L7", "L99", "layers=2", "l2", "L-1", "Lx",
         "INT8", " fp16 ", "", "fp8", "layers=", "L" + "9" * 30]
VARIANT = mostly(st.sampled_from(["fp32", "int8", "L1", "int8,L3", "fp16", "bf16,L2", "L6", "L7", "L99", "layers=2",
                                  " INT8 , l1 ", "fp16,int8", "bf16,int8", "int8,,L2,"]),
                 st.one_of(st.lists(st.sampled_from(PARTS), min_size=1, max_size=3).map(",".join), TEXT), 8)
DEVICES = ["cuda", "cuda:0", "cuda:7", "mps", "tpu", "meta", "xla", "cpu:0", "CPU", "cuda:-1", "cuda:" + "9" * 25, ""]
DEVICE = mostly(st.just("cpu"), st.one_of(st.sampled_from(DEVICES), TEXT), 6)
# catalog ids small enough to load in a second or two, others, and made-up ones
MODEL = mostly(st.sampled_from(["bundled/minilm-l6-sentiment", "synthetic/bert-tiny", "synthetic/marian-en-de",
                                "hub/philschmid/tiny-bert-sst2-distilled", "hub/google-t5/t5-small",
                                "bundled/", "synthetic/../bundled", "BUNDLED/MINILM-L6-SENTIMENT"]), TEXT)
HUB = st.one_of(st.sampled_from(["a/b", "../..", "a/b/c", "bert-base-uncased", "Helsinki-NLP/opus-mt-en-de",
                                 "x" * 200, "a/" + "b" * 100, "-a/b", "a--b/c..d", "/", " a/b ", "a b/c"]), TEXT)
TASK = mostly(st.sampled_from(["classification", "translation"]), TEXT, 8)
THREADS = int_arg(st.sampled_from([1, 2]))
SECONDS = mostly(st.just("0"), st.sampled_from(["0.0", "1e-9", "-1", "-0.0", "nan", "inf", "-inf", "x", ""]))

# ---------------------------------------------------------------- files, made per example


@dataclass(frozen=True)
class Folder:
    """A checkpoint folder to build: `base` copied (None: empty), then files overwritten or removed."""

    base: str | None  # "bert" | "marian" | None
    files: tuple[tuple[str, bytes | None], ...]


@dataclass(frozen=True)
class TextFile:
    content: bytes


@dataclass(frozen=True)
class OutPath:
    kind: str  # where an output file goes: somewhere fine, or somewhere that cannot be written


@dataclass(frozen=True)
class SavedRun:
    content: bytes


@dataclass(frozen=True)
class Special:
    """A file that is not a plain small file: made where a file is expected (a path, or a file in a folder)."""

    kind: str  # see SPECIAL_KINDS


SPECIAL_KINDS = ("fifo", "device-null", "device-zero", "socket", "link-to-device", "link-loop", "sparse-big",
                 "deep-json")
SPECIAL = st.builds(Special, st.sampled_from(SPECIAL_KINDS))
DEEP_JSON = b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"


FILE_NAMES = ["config.json", "model.safetensors", "pytorch_model.bin", "tokenizer.json", "tokenizer_config.json",
              "vocab.txt", "vocab.json", "source.spm", "special_tokens_map.json"]
JSON_VALUE = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-3, 64), st.sampled_from([2**31, 10**12]),
                                    st.floats(allow_nan=False), st.text(max_size=8)),
                          lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                      max_size=3), max_leaves=8)
CONFIG = st.fixed_dictionaries(
    {"model_type": st.one_of(st.sampled_from(["bert", "marian", "t5", "distilbert", "gpt2", "nope", ""]), JSON_VALUE)},
    optional={key: st.one_of(JSON_VALUE, st.sampled_from([0, -1, 10**5, 10**6, 2**63]))
              for key in ("num_hidden_layers", "hidden_size", "num_attention_heads", "vocab_size", "intermediate_size",
                          "max_position_embeddings", "id2label", "auto_map", "is_encoder_decoder")})
CONTENT = st.one_of(st.binary(max_size=64), CONFIG.map(lambda c: json.dumps(c).encode()),
                    JSON_VALUE.map(lambda v: json.dumps(v).encode()), st.just(b""), st.none(), SPECIAL)
CHECKPOINT = st.builds(Folder, st.sampled_from([None, "bert", "bert", "marian", "marian"]),
                       st.lists(st.tuples(st.sampled_from(FILE_NAMES), CONTENT), max_size=3).map(tuple))
FOLDER = st.one_of(CHECKPOINT, st.sampled_from(["/", "/nonexistent", ".", "~", "~nosuchuser/x", "/dev/null",
                                                "/proc/self"]), TEXT)
TEXT_FILE = st.one_of(st.builds(TextFile, st.one_of(st.binary(max_size=80), TEXT.map(lambda t: t.encode(
    "utf-8", "surrogateescape")))), st.sampled_from(["/nonexistent", "/", "/proc/self/status", "/dev/null"]), SPECIAL)
OUT = st.one_of(st.builds(OutPath, st.sampled_from(["file", "nested/new/dirs/out", "an existing folder", "under/a/file",
                                                    "/proc/cannot-write-here"])), SPECIAL)
ROW = st.fixed_dictionaries({}, optional={"index": JSON_VALUE, "status": st.sampled_from(["done", "failed", "x"]),
                                          "model": JSON_VALUE, "latency": JSON_VALUE, "label": JSON_VALUE})
SAVED_RUN = st.one_of(
    st.builds(SavedRun, st.binary(max_size=64)),
    st.builds(SavedRun, JSON_VALUE.map(lambda v: json.dumps(v).encode())),
    st.builds(SavedRun, st.fixed_dictionaries(
        {"schema": st.just("sizelab-compare/1"), "rows": st.lists(ROW, max_size=2)},
        optional={"request": JSON_VALUE, "peak_gflops": JSON_VALUE, "environment": JSON_VALUE},
    ).map(lambda run: json.dumps(run).encode())),
    st.sampled_from(["/nonexistent", "/", "/dev/null"]), SPECIAL)


class Materializer:
    """Turns the placeholders above into real paths under a temporary folder."""

    def __init__(self, root: Path, checkpoints: dict[str, Path]):
        self.root, self.checkpoints, self.count = root, checkpoints, 0
        self.specials: dict[Path, int] = {}  # path -> file type bits it must keep

    def _fresh(self) -> Path:
        self.count += 1
        return self.root / f"f{self.count}"

    def special(self, path: Path, kind: str) -> Path:
        if kind == "fifo":
            os.mkfifo(path)
        elif kind.startswith("device") or kind == "link-to-device":
            node = path if kind.startswith("device") else path.with_name(path.name + ".node")
            try:
                os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 5 if kind == "device-zero" else 3))
            except PermissionError:  # not root: a FIFO is special enough
                os.mkfifo(node)
            if node != path:
                path.symlink_to(node)
            self.specials[node] = stat.S_IFMT(os.lstat(node).st_mode)
        elif kind == "socket":
            server = socket.socket(socket.AF_UNIX)
            try:
                server.bind(str(path))
            except OSError:  # a socket path is limited to about 100 bytes
                os.mkfifo(path)
            server.close()
        elif kind == "link-loop":  # a link to itself: resolving it never ends
            path.symlink_to(path.name)
        elif kind == "sparse-big":
            with open(path, "wb") as handle:
                handle.truncate(20 * 2**20)  # 20 MiB of NULs on paper, nothing on disk
        elif kind == "deep-json":
            path.write_bytes(DEEP_JSON)
        self.specials[path] = stat.S_IFMT(os.lstat(path).st_mode)
        return path

    def check_specials(self) -> None:
        """Every special file made is still of its type: nothing was renamed over a device or FIFO."""
        for path, kind in self.specials.items():
            assert stat.S_IFMT(os.lstat(path).st_mode) == kind, f"{path} was replaced"

    def __call__(self, value) -> str:
        if isinstance(value, Folder):
            folder = self._fresh()
            if value.base:
                shutil.copytree(self.checkpoints[value.base], folder)
            else:
                folder.mkdir()
            for name, content in value.files:
                (folder / name).unlink(missing_ok=True)
                (folder / f"{name}.node").unlink(missing_ok=True)
                for path in (folder / name, folder / f"{name}.node"):
                    self.specials.pop(path, None)
                if isinstance(content, Special):
                    self.special(folder / name, content.kind)
                elif content is not None:
                    (folder / name).write_bytes(content)
            return str(folder)
        if isinstance(value, Special):
            return str(self.special(self._fresh(), value.kind))
        if isinstance(value, (TextFile, SavedRun)):
            path = self._fresh().with_suffix(".json" if isinstance(value, SavedRun) else ".txt")
            path.write_bytes(value.content)
            return str(path)
        if isinstance(value, OutPath):
            base = self._fresh()
            base.mkdir()
            if value.kind == "an existing folder":
                (base / "out").mkdir()
                return str(base / "out")
            if value.kind == "under/a/file":
                (base / "under").write_text("a file, not a folder")
                return str(base / "under" / "a" / "file")
            if value.kind.startswith("/"):
                return value.kind
            return str(base / value.kind)
        return value


# ---------------------------------------------------------------- argv builders


def options(draw, groups: dict[str, st.SearchStrategy], junk: bool = True) -> list:
    """Some of the option groups, in a drawn order, now and then with a stray token."""
    names = draw(st.lists(st.sampled_from(sorted(groups)), unique=True, max_size=len(groups)))
    argv = []
    for name in names:
        value = draw(groups[name])
        argv += [name] if value is True else [] if value is False else [name, value]
    if junk and draw(st.integers(0, 19)) == 0:
        argv.insert(draw(st.integers(0, len(argv))), draw(TEXT))
    return argv


def model_options(draw) -> dict[str, st.SearchStrategy]:
    source = draw(st.sampled_from(["--model", "--folder", "--hub", None, None]))
    groups = {"--variant": VARIANT, "--device": DEVICE, "--threads": THREADS, "--task": TASK,
              "--allow-pickle": st.booleans(), "--no-download": st.booleans()}
    if source:
        groups[source] = {"--model": MODEL, "--folder": FOLDER, "--hub": HUB}[source]
    return groups


@st.composite
def models_argv(draw):
    return ["models"] + options(draw, {"--task": TASK, "--json": st.booleans()})


@st.composite
def run_argv(draw):
    groups = model_options(draw) | {"--json": st.booleans(), "--max-new-tokens": int_arg(st.integers(1, 8)),
                                    "--beams": int_arg(st.integers(1, 20))}
    argv = ["run"] + options(draw, groups)
    texts = draw(st.sampled_from(["text", "text", "file", "stdin"]))
    if texts == "text":
        for text in draw(st.lists(TEXT, max_size=3)):
            argv += ["--text", text]
    elif texts == "file":
        argv += ["--file", draw(TEXT_FILE)]
    return argv


TINY_PROTOCOL = {"--warmup": int_arg(st.integers(0, 1)), "--min-iterations": int_arg(st.just(1)),
                 "--min-seconds": SECONDS, "--seq-len": WEIRD_INT.map(as_arg),
                 "--batch": int_arg(st.integers(1, 3)), "--new-tokens": int_arg(st.integers(1, 4))}


def tiny_protocol(argv: list) -> list:
    """Keep every run short: one iteration, no warm-up, no seconds, unless the example says otherwise."""
    defaults = {"--warmup": "0", "--min-iterations": "1", "--min-seconds": "0", "--seq-len": "16", "--new-tokens": "2"}
    return argv + [x for name, value in defaults.items() if name not in argv for x in (name, value)]


@st.composite
def bench_argv(draw):
    groups = model_options(draw) | TINY_PROTOCOL | {"--out": OUT}
    return tiny_protocol(["bench"] + options(draw, groups))


MEMBER_MODEL = mostly(st.sampled_from(["bundled/minilm-l6-sentiment", "synthetic/bert-tiny", "synthetic/bert-tiny",
                                       "hub/philschmid/tiny-bert-sst2-distilled"]), st.one_of(FOLDER, TEXT))


@st.composite
def member(draw):
    where = draw(MEMBER_MODEL)
    variant = draw(st.one_of(st.none(), VARIANT))
    return where if variant is None else (where, variant)


@st.composite
def compare_argv(draw):
    what = draw(st.sampled_from(["members", "members", "members", "ladder", "open", "diff"]))
    argv = ["compare"]
    if what == "ladder":  # the hub ladders are skipped here (not cached); made-up ids are errors
        argv += ["--ladder", draw(st.one_of(st.sampled_from(["hub-sst2", "hub-translation-en-de", "nope"]), TEXT))]
    elif what == "open":
        argv += ["--open", draw(SAVED_RUN), "--reference", draw(WEIRD_INT.map(as_arg))]
    elif what == "diff":
        argv += ["--diff", draw(SAVED_RUN), draw(SAVED_RUN)]
    for spec in draw(st.lists(member(), min_size=what == "members", max_size=2 if what == "members" else 1)):
        argv += ["--member", spec]
    groups = TINY_PROTOCOL | {
        "--device": DEVICE, "--threads": THREADS, "--task": TASK, "--out": OUT, "--csv": OUT,
        "--sweep": st.one_of(st.sampled_from(["seq_len=8,16", "batch_size=1,2", "seq_len=3", "seq_len=", "depth=2",
                                              "seq_len=99999999", "batch_size=0", "seq-len=8", "=", "seq_len=x,8"]),
                             TEXT),
        "--quality-limit": int_arg(st.integers(1, 4)), "--no-quality": st.booleans(),
        "--reference": WEIRD_INT.map(as_arg)}
    argv = tiny_protocol(argv + options(draw, groups))
    if "--no-quality" not in argv and "--quality-limit" not in argv:
        argv += ["--quality-limit", "2"]  # the whole dev set would take seconds per row
    return argv


# ---------------------------------------------------------------- the contract


@pytest.fixture(scope="module")
def empty_hub_cache(tmp_path_factory):
    """Nothing is cached: every hub id is answered from an empty cache, offline."""
    import huggingface_hub.constants

    cache = tmp_path_factory.mktemp("hub-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_CACHE", str(cache))
        patch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
        yield cache


@pytest.fixture(scope="module")
def checkpoints(bert_dir, marian_dir):
    return {"bert": bert_dir, "marian": marian_dir}


def note(outcome: str) -> None:
    """Count outcomes for --hypothesis-show-statistics (how many examples got past argparse, or ran)."""
    if currently_in_test_context():
        event(outcome)


def check_contract(capsys, checkpoints, argv: list, stdin: str = "") -> tuple[int | None, str]:
    """Run main(argv) with its files made; assert the contract.

    Returns the exit code (None: argparse exited) and stderr, the temporary folder written <tmp>.
    """
    threads = torch.get_num_threads()
    with tempfile.TemporaryDirectory(prefix="cli-fuzz-") as root, pytest.MonkeyPatch.context() as patch:
        make = Materializer(Path(root), checkpoints)
        # a (where, variant) tuple is a compare member: MODEL@VARIANT, its folder made first
        args = [f"{make(item[0])}@{item[1]}" if isinstance(item, tuple) else make(item) for item in argv]
        patch.setattr(sys, "stdin", io.StringIO(stdin))
        patch.chdir(root)  # relative outputs and "." stay in the temporary folder
        try:
            code = main(args)
        except SystemExit as exc:
            out, err = capsys.readouterr()
            assert exc.code == 2 or (exc.code == 0 and "usage:" in out), (args, exc.code, err)
            assert "Traceback" not in err
            note(f"argparse exit {exc.code}")
            return None, err
        finally:
            torch.set_num_threads(threads)  # --threads sets a process-wide value
            make.check_specials()
        out, err = capsys.readouterr()
        err_seen = err.replace(root, "<tmp>")
    assert isinstance(code, int) and code in ((0, 1, 2) if args[0] == "compare" else (0, 2)), (args, code)
    assert "Traceback" not in err and "Unexpected error" not in err + out, (args, err)
    lines = err.split("\n")  # not splitlines(): a path may hold \x1c or \u2028, which a terminal shows in line
    errors = [line for line in lines if line.startswith(PREFIX)]
    failed = [line.split("FAILED: ", 1)[1][:50] for line in err_seen.split("\n") if "FAILED: " in line]
    note(f"exit {code}" + (f": {err_seen.split(chr(10))[-2][len(PREFIX):][:50]}" if errors else "")
         + (f" (a row FAILED: {failed[0]})" if failed else ""))
    if code == 2:  # ONE error line, and it is the last thing printed
        assert len(errors) == 1 and lines[-2:] == [errors[0], ""], (args, err)
    else:
        assert not errors, (args, err)
    return code, err_seen


@settings(FUZZ, max_examples=100)
@given(argv=models_argv())
def test_models_answers_with_an_exit_code(capsys, checkpoints, argv):
    check_contract(capsys, checkpoints, argv)


@pytest.mark.slow  # 80 CLI runs: about 6 s
@settings(FUZZ, max_examples=80)
@given(argv=run_argv(), stdin=TEXT)
def test_run_answers_with_an_exit_code(capsys, checkpoints, empty_hub_cache, argv, stdin):
    check_contract(capsys, checkpoints, argv, stdin)


@pytest.mark.slow  # 150 damaged checkpoints: about 6 s
@settings(FUZZ, max_examples=150)
@given(folder=CHECKPOINT, task=st.sampled_from(["its own", "its own", "its own", "classification", "translation"]),
       variant=st.sampled_from(["fp32", "int8", "L1", "fp16"]), allow_pickle=st.booleans())
def test_any_checkpoint_folder_loads_or_is_an_error(capsys, checkpoints, folder, task, variant, allow_pickle):
    """Real tiny checkpoints with files removed or overwritten (garbage bytes, odd JSON, odd configs)."""
    if task == "its own":
        task = "translation" if folder.base == "marian" else "classification"
    check_contract(capsys, checkpoints, ["run", "--folder", folder, "--task", task, "--variant", variant,
                                         "--text", "the cat sat on the mat", "--max-new-tokens", "2"]
                   + (["--allow-pickle"] if allow_pickle else []))


@pytest.mark.slow  # 40 benchmarks: about 3 s
@settings(FUZZ, max_examples=40)
@given(argv=bench_argv())
def test_bench_answers_with_an_exit_code(capsys, checkpoints, empty_hub_cache, argv):
    check_contract(capsys, checkpoints, argv)


@pytest.mark.slow
@settings(FUZZ, max_examples=30)
@given(argv=compare_argv())
def test_compare_answers_with_an_exit_code(capsys, checkpoints, empty_hub_cache, argv):
    check_contract(capsys, checkpoints, argv)


TINY = ["--warmup", "0", "--min-iterations", "1", "--min-seconds", "0", "--seq-len", "8"]
WRONG_TYPE = b'{"model_type": "bert", "num_hidden_layers": "two"}'


@pytest.mark.parametrize("argv, message", [
    (["run", "--file", "/nonexistent/texts.txt"], "Cannot read the texts from /nonexistent/texts.txt"),
    (["run", "--file", "/"], "Cannot read the texts from /: it is a folder, not a regular file"),
    (["run", "--file", TextFile(b"caf\xe9\n")], "'utf-8' codec can't decode"),
    (["run", "--text", "x", "--folder", Folder(None, (("config.json", b"null"),))],
     "config.json in <tmp>/f1 is not a JSON object"),
    (["run", "--text", "x", "--folder", Folder("bert", (("config.json", WRONG_TYPE),))],
     "config.json: num_hidden_layers must be a whole number of at least 1, not 'two'"),
    (["run", "--text", "x", "--folder", "~nosuchuser/model"], "~nosuchuser/model is not a folder"),
    (["run", "--text", "x", "--folder", "a" * 5000], "File name too long"),
    (["compare", "--member", "a" * 5000], "No model"),
    (["bench", "--out", "a" * 5000], "File name too long"),
    (["run", "--text", "x", "--threads", "100000"], "Threads must be at most"),
    (["run", "--text", "x", "--threads", str(10**11)], "Threads must be at most"),
    (["bench", "--min-seconds", "nan"], "Seconds must be positive"),
    (["bench", "--min-seconds", "inf"], "Seconds must be positive"),
    (["bench", "--model", "synthetic/bert-tiny", "--out", OutPath("an existing folder"), "--force", *TINY],
     "Cannot write <tmp>/f1/out: it is a folder, not a regular file"),
    (["compare", "--member", "synthetic/bert-tiny", "--quality-limit", "0"], "Score at least 1 example"),
    (["compare", "--member", "synthetic/bert-tiny", "--quality-limit", "-3"], "Score at least 1 example"),
    (["compare", "--open", SavedRun(b'{"schema": "sizelab-compare/1", "rows": [1]}')],
     "f1.json is a damaged comparison"),
    (["compare", "--diff", SavedRun(b'{"schema": "sizelab-compare/1", "rows": [{}]}'),
      SavedRun(b'{"schema": "sizelab-compare/1", "rows": []}')], "f1.json is a damaged comparison (KeyError"),
], ids=lambda value: None if isinstance(value, list) else value[:40])
def test_what_fuzzing_found(capsys, checkpoints, empty_hub_cache, argv, message):
    """Each of these was a traceback (or, for NaN seconds, a five-minute benchmark) before it was fixed."""
    code, err = check_contract(capsys, checkpoints, argv)
    assert code == 2 and message in err, err


def test_an_argument_that_is_not_utf8_is_echoed_not_a_crash(capsys, checkpoints):
    """A byte that is not UTF-8 reaches argv as a lone surrogate (PEP 383); printing it back to a
    strict UTF-8 stream (capsys's, or a terminal's outside the C locale) raised UnicodeEncodeError."""
    code, _ = check_contract(capsys, checkpoints, ["run", "--model", "synthetic/bert-tiny", "--text", "caf\udce9"])
    assert code == 0


@pytest.mark.slow
def test_a_huge_batch_is_an_out_of_memory_error_not_a_crash(tmp_path):
    """--batch 10**8 with the address space capped at 4 GiB: the one-line error, exit code 2.

    In a child process, so the cap (and a real allocation attempt) cannot touch the test run.
    """
    script = ("import resource, sys\n"
              "resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))\n"
              "from core.cli import main\n"
              "sys.exit(main(sys.argv[1:]))\n")
    env = os.environ | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-c", script, "bench", "--batch", str(10**8), "--seq-len", "8",
                             "--warmup", "0", "--min-iterations", "1", "--min-seconds", "0"],
                            check=False, capture_output=True, text=True, timeout=300, env=env,
                            cwd=Path(__file__).parents[2])
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.startswith(PREFIX + "Out of memory") and result.stderr.count("\n") == 1, result.stderr
