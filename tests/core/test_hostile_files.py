"""Hostile files and special paths are refused in one line, never obeyed (issue 12: writing, reading).

Special files are made here, in a temporary folder: a FIFO with os.mkfifo, a device node with
os.mknod (the tests run as root in CI; elsewhere those tests skip). Nothing touches the real /dev.
"""

import json
import os
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import compare_data as compare, safe_files
from core.catalog import ModelEntry, known_depth
from core.cli import main
from core.safe_files import FileRefused, read_json, write_atomic

REPO = Path(__file__).resolve().parents[2]
PREFIX = "sizelab-cli: error: "
TINY = ["--warmup", "0", "--min-iterations", "1", "--min-seconds", "0", "--seq-len", "8"]


def device_node(folder: Path, name: str = "null", major: int = 1, minor: int = 3) -> Path:
    """A character device like /dev/null (1, 3) or /dev/zero (1, 5), made in `folder`."""
    path = folder / name
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
    except PermissionError:
        pytest.skip("making a device node needs root")
    return path


def fifo(folder: Path, name: str = "fifo") -> Path:
    path = folder / name
    os.mkfifo(path)
    return path


def unix_socket(folder: Path) -> Path:
    path = folder / "sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.close()
    return path


def error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith(PREFIX)]
    assert len(lines) == 1, err
    return lines[0][len(PREFIX):]


def finishes_or_unblock(work, path: Path, seconds: float = 20.0):
    """Run work() in a thread; if it blocks on the FIFO at `path`, open the FIFO's other end so it
    ends (and the test fails) instead of hanging the test run."""
    outcome = {}

    def target():
        try:
            outcome["value"] = work()
        except Exception as exc:  # noqa: BLE001 - handed to the test
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    blocked = thread.is_alive()
    if blocked:
        with open(path, "wb"):
            pass
        thread.join(seconds)
    assert not blocked, f"blocked on the FIFO {path}"
    return outcome


# ---------------------------------------------------------------- writing


@pytest.mark.parametrize("kind", ["device", "fifo", "socket", "folder"])
def test_writing_over_a_special_file_is_refused_and_it_stays(tmp_path, kind):
    path = {"device": lambda: device_node(tmp_path), "fifo": lambda: fifo(tmp_path),
            "socket": lambda: unix_socket(tmp_path), "folder": lambda: (tmp_path / "d").mkdir() or tmp_path / "d"}[kind]()
    before = os.lstat(path).st_mode
    with pytest.raises(FileRefused, match="not a regular file"):
        write_atomic(path, "report")
    assert os.lstat(path).st_mode == before
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left behind


def test_bench_out_device_with_force_is_refused_before_work(tmp_path, capsys):
    """--out /dev/null --force renamed a regular file over the device node (as root: the system's)."""
    null = device_node(tmp_path)
    code = main(["bench", "--model", "synthetic/bert-tiny", "--out", str(null), "--force", *TINY])
    assert code == 2 and "it is a device, not a regular file" in error_line(capsys)
    assert stat.S_ISCHR(os.lstat(null).st_mode)


def test_a_link_to_a_device_is_refused_and_a_link_to_a_file_writes_its_target(tmp_path):
    null = device_node(tmp_path)
    (tmp_path / "to-device").symlink_to(null)
    with pytest.raises(FileRefused, match="a link to .*null.*device"):
        write_atomic(tmp_path / "to-device", "x")
    assert stat.S_ISCHR(os.lstat(null).st_mode)
    target = tmp_path / "real.json"
    target.write_text("old")
    (tmp_path / "to-file").symlink_to(target)
    write_atomic(tmp_path / "to-file", "new")
    assert (tmp_path / "to-file").is_symlink() and target.read_text() == "new"


def test_a_loop_of_links_at_out_is_one_line(tmp_path, capsys):
    (tmp_path / "loop").symlink_to("loop")
    code = main(["bench", "--model", "synthetic/bert-tiny", "--out", str(tmp_path / "loop"), "--force", *TINY])
    assert code == 2 and "links go round in a loop" in error_line(capsys)


def test_compare_refuses_the_same_file_for_json_and_csv(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["compare", "--member", "synthetic/bert-tiny", "--out", str(out), "--csv", str(out), *TINY])
    assert code == 2 and "are the same file" in error_line(capsys)
    assert not out.exists()


def test_new_files_follow_the_umask_and_overwritten_ones_keep_their_mode(tmp_path):
    old = os.umask(0o027)
    try:
        path = compare.save_csv(tmp_path / "new.csv", {"rows": [], "request": {"device": "cpu"}})
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640  # was 0600, the temporary file's
    os.chmod(path, 0o604)
    write_atomic(path, "again")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o604


def test_an_output_folder_that_cannot_be_written_is_found_before_the_model_loads(capsys):
    """/proc takes no new files, even from root: the error must come before the model's own error."""
    code = main(["bench", "--model", "synthetic/no-such-model", "--out", "/proc/sizelab-report.json", *TINY])
    assert code == 2 and error_line(capsys).startswith("Cannot write /proc/sizelab-report.json")


# ---------------------------------------------------------------- reading


def test_run_file_that_is_a_device_is_refused(tmp_path, capsys):
    zero = device_node(tmp_path, "zero", 1, 5)
    code = main(["run", "--model", "synthetic/bert-tiny", "--file", str(zero)])
    assert code == 2 and "it is a device, not a regular file" in error_line(capsys)


class EndlessInput:
    """Standard input that never ends: a line per readline; read() to the end would never return."""

    def __init__(self, stop_after: int):
        self.lines, self.stop_after = 0, stop_after

    def readline(self, size=-1):
        self.lines += 1
        if self.lines > self.stop_after:
            raise KeyboardInterrupt  # the user's Ctrl+C, once the test has seen enough
        return "a fine film\n"

    def read(self, size=-1):
        raise AssertionError("read() on an endless stream")


def test_an_endless_stdin_is_served_line_by_line(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", EndlessInput(stop_after=3))
    code = main(["run", "--model", "synthetic/bert-tiny"])
    out = capsys.readouterr().out
    assert code == 130 and len(out.splitlines()) == 3, out


def test_a_line_too_long_is_cut_and_said(capsys, monkeypatch):
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO("x" * 1_500_000 + "\nshort one\n"))
    code = main(["run", "--model", "synthetic/bert-tiny", "--json"])
    captured = capsys.readouterr()
    records = [json.loads(line) for line in captured.out.splitlines()]
    assert code == 0 and len(records) == 2, captured.err
    assert len(records[0]["text"]) == 100_000 and records[1]["text"] == "short one"
    assert "line 1 was cut to its first 100,000 characters (1,400,000 more skipped)" in captured.err


def test_read_lines_holds_a_bounded_piece_of_an_endless_line():
    from core.cli import read_lines

    class Zeros:
        calls = 0

        def readline(self, size=-1):
            assert 0 < size <= 1001
            Zeros.calls += 1
            return "\0" * size if Zeros.calls < 50 else ""

    [(text, note)] = list(read_lines(Zeros(), max_chars=1000))
    assert len(text) == 1000 and "more skipped" in note


def test_a_fifo_config_does_not_hang_the_compare_or_the_open_folder(tmp_path):
    """known_depth (the compare rows' labels, the GUI's Open folder) read config.json whole."""
    folder = tmp_path / "model"
    folder.mkdir()
    config = fifo(folder, "config.json")
    outcome = finishes_or_unblock(lambda: known_depth(ModelEntry.for_folder(folder, "classification")), config)
    assert outcome == {"value": None}


def test_a_fifo_in_a_model_folder_is_refused_before_transformers_opens_it(tmp_path, bert_dir):
    import shutil

    from core.errors import ModelSourceError
    from core.loading import check_folder

    folder = tmp_path / "model"
    shutil.copytree(bert_dir, folder)
    (folder / "tokenizer.json").unlink()
    pipe = fifo(folder, "tokenizer.json")
    outcome = finishes_or_unblock(lambda: check_folder(folder, allow_pickle=False), pipe)
    assert isinstance(outcome.get("error"), ModelSourceError), outcome
    assert "tokenizer.json in" in str(outcome["error"]) and "FIFO" in str(outcome["error"])


DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize("name", ["config.json", "tokenizer_config.json"])
def test_json_nested_deep_in_a_model_folder_is_one_line(tmp_path, bert_dir, capsys, name):
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(bert_dir, folder)
    (folder / name).write_bytes(b'{"a": ' + DEEP + b"}")
    code = main(["run", "--folder", str(folder), "--text", "x"])
    assert code == 2 and f"{name} in" in error_line(capsys)


@pytest.mark.parametrize("option", ["--open", "--diff"])
def test_a_saved_run_nested_deep_is_one_line(tmp_path, capsys, option):
    deep = tmp_path / "deep.json"
    deep.write_bytes(b'{"schema": "sizelab-compare/1", "rows": ' + DEEP + b"}")
    code = main(["compare", option, str(deep)] + ([str(deep)] if option == "--diff" else []))
    assert code == 2 and "nests deeper than" in error_line(capsys)


def test_a_saved_run_that_is_a_fifo_is_refused(tmp_path, capsys):
    pipe = fifo(tmp_path, "run.json")
    outcome = finishes_or_unblock(lambda: main(["compare", "--open", str(pipe)]), pipe)
    assert outcome == {"value": 2} and "FIFO" in error_line(capsys)


def json_containers(inner):
    return st.lists(inner, max_size=3) | st.dictionaries(st.text('[]{}"\\', max_size=3), inner, max_size=3)


# strings full of brackets, quotes and backslashes: the check must skip what lies inside strings
JSON_WITH_TRICKY_STRINGS = st.recursive(
    st.one_of(st.none(), st.integers(), st.text(alphabet='[]{}"\\ab', max_size=6)), json_containers)


@settings(max_examples=200, deadline=None)
@given(JSON_WITH_TRICKY_STRINGS)
def test_the_depth_check_agrees_with_the_parser(value):
    data = json.dumps(value).encode()

    def depth(v):
        return 1 + max(map(depth, v.values() if isinstance(v, dict) else v), default=0) \
            if isinstance(v, (list, dict)) else 0

    for limit in (1, 2, 3, 5):
        assert safe_files.nests_deeper(data, limit) == (depth(value) > limit)


def test_a_file_bigger_than_the_limit_is_refused_without_reading_it_all(tmp_path):
    big = tmp_path / "big.json"
    with open(big, "wb") as handle:
        handle.truncate(2**30)  # sparse: 1 GiB on paper, nothing on disk
    with pytest.raises(FileRefused, match="larger than 1 MiB"):
        read_json(big, limit=2**20)


# ---------------------------------------------------------------- unreadable files (as a user, not root)

AS_NOBODY = """
import os, sys
sys.path.insert(0, {repo!r})
from core.errors import SizeLabError
from core.loading import check_folder
from pathlib import Path
os.setgid(65534); os.setuid(65534)  # after the imports: the interpreter's files may be root's alone
try:
    check_folder(Path(sys.argv[1]), allow_pickle=False)
except SizeLabError as exc:
    print(exc)
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to another user needs root")
@pytest.mark.parametrize("locked", ["folder", "weights"])
def test_an_unreadable_folder_or_weights_file_says_permission_denied(bert_dir, tmp_path_factory, locked):
    import shutil
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="sizelab-perm-"))
    try:
        root.chmod(0o755)
        folder = root / "model"
        shutil.copytree(bert_dir, folder)
        for path in [folder, *folder.iterdir()]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        (folder if locked == "folder" else folder / "model.safetensors").chmod(0)
        result = subprocess.run([sys.executable, "-c", AS_NOBODY.format(repo=str(REPO)), str(folder)],
                                capture_output=True, text=True, timeout=120, check=False)
    finally:
        shutil.rmtree(root)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert "permission denied" in result.stdout, result.stdout
    if locked == "weights":
        assert "model.safetensors" in result.stdout and "No such file" not in result.stdout
