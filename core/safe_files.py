"""The one place that decides how the app reads and writes files it is pointed at.

Writing: a temporary file in the target's folder, fsync, then rename over the target, and only over
a regular file: a rename over /dev/null (as root) would replace the device node. A symbolic link is
followed and its target written, if that target is a regular file (or does not exist yet). New
files follow the umask; an overwritten file keeps its mode.

Reading: regular files only (a FIFO would block the reader forever, a device never ends), at most
`limit` bytes, and JSON at most MAX_JSON_DEPTH deep (100,000 brackets end in a RecursionError).
Every refusal is one line that names the file; no torch, no Qt.
"""

import json
import os
import stat
import tempfile
from pathlib import Path

from .errors import InputError

MAX_JSON_BYTES = 512 * 2**20  # a saved run of 20,000 rows is about 100 MB; a config is kilobytes
MAX_JSON_DEPTH = 100  # saved runs nest 6 deep, transformers configs fewer than 10


class FileRefused(InputError):
    """A path the app will not read or write as asked (a device, a FIFO, too big, unreadable)."""


def kind_of(mode: int) -> str:
    """What a stat mode is, in words a user knows."""
    if stat.S_ISREG(mode):
        return "a regular file"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def _reason(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied"
    return exc.strerror or str(exc)


# ---------------------------------------------------------------- writing


def _current_umask() -> int:
    """The process umask, read without changing it where Linux tells it (os.umask sets it to read it)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_target(path: str | Path) -> tuple[Path, int | None]:
    """Where writing `path` really goes, and the mode to keep (None: a new file).

    Raises FileRefused for a target that is not a regular file.
    """
    path = Path(path)
    try:
        target = path.resolve() if path.is_symlink() else path
        info = target.stat()
    except FileNotFoundError:
        return target, None
    except OSError as exc:  # a name too long, a folder we may not enter
        raise FileRefused(f"Cannot write {path}: {_reason(exc)}.") from exc
    except RuntimeError as exc:  # Path.resolve on a loop of links (Python 3.11)
        raise FileRefused(f"Cannot write {path}: its links go round in a loop.") from exc
    if not stat.S_ISREG(info.st_mode):
        what = kind_of(info.st_mode)
        via = f" (a link to {target})" if target != path else ""
        raise FileRefused(f"Cannot write {path}{via}: it is {what}, not a regular file.")
    return target, stat.S_IMODE(info.st_mode)


def check_writable(path: str | Path, force: bool = True) -> None:
    """Before long work: refuse an output that exists (unless force), is not a regular file, or
    lies in a folder where no file can be created (read-only, no permission, not a folder)."""
    path = Path(path)
    try:
        exists = path.exists() or path.is_symlink()
    except OSError as exc:  # a name too long for the file system: it cannot be written either
        raise FileRefused(f"Cannot write {path}: {_reason(exc)}.") from exc
    target, _mode = write_target(path)
    if exists and not force:
        raise FileRefused(f"{path} already exists; pass --force to overwrite it.")
    folder = target.parent
    while not folder.exists() and folder != folder.parent:  # write_atomic creates missing folders
        folder = folder.parent
    if not folder.is_dir():
        raise FileRefused(f"Cannot write {path}: {folder} is not a folder.")
    try:  # the one sure test (os.access says yes to root on a read-only mount)
        fd, probe = tempfile.mkstemp(prefix=".sizelab-probe.", dir=folder)
    except OSError as exc:
        raise FileRefused(f"Cannot write {path}: {folder} is not writable ({_reason(exc)}).") from exc
    os.close(fd)
    os.unlink(probe)


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Write text (UTF-8) or bytes (a PNG) so that a crash never leaves half a file; returns the path written."""
    target, mode = write_target(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        # mkstemp creates 0600: a new file gets what open() would give it, an old one keeps its mode
        os.fchmod(fd, mode if mode is not None else 0o666 & ~_current_umask())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            handle.flush()
            os.fsync(handle.fileno())
        # checked again just before the rename: the path may have become a device meanwhile
        write_target(target)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(path)


# ---------------------------------------------------------------- reading


def open_regular(path: str | Path, what: str = "", allow_fifo: bool = False):
    """An open binary file for a path that is a regular file, or FileRefused in one line.

    allow_fifo: a pipe too (a stream of texts from `<(...)`), for a reader that streams.

    Opened non-blocking, so a FIFO answers at once instead of waiting for a writer; then checked
    on the open descriptor, so the file cannot be swapped between the check and the read.
    """
    path = Path(path)
    name = what or str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise FileRefused(f"Cannot read {name} ({_reason(exc)}).") from exc
    try:
        mode = os.fstat(fd).st_mode
        if not (stat.S_ISREG(mode) or (allow_fifo and stat.S_ISFIFO(mode))):
            raise FileRefused(f"Cannot read {name}: it is {kind_of(mode)}, not a regular file.")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def check_readable(path: str | Path, what: str = "") -> None:
    """Refuse, in one line, a path that is not a regular file this process can read."""
    open_regular(path, what).close()


def read_bytes(path: str | Path, limit: int, what: str = "") -> bytes:
    name = what or str(path)
    with open_regular(path, what) as handle:
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            raise FileRefused(f"Cannot read {name} ({_reason(exc)}).") from exc
    if len(data) > limit:
        raise FileRefused(f"Cannot read {name}: it is larger than {limit / 2**20:.0f} MiB.")
    return data


_KEEP_ONLY = bytes(set(range(256)) - set(b'"[]{}'))
_AS_PARENS = bytes.maketrans(b"[]{}", b"()()")


def nests_deeper(data: bytes, max_depth: int) -> bool:
    """True if the brackets of a JSON text nest deeper than max_depth (or are too unbalanced to tell).

    No recursion and no Python loop per character (a 45 MB saved run takes about a second): escaped
    backslashes and quotes go first, then every byte but quotes and brackets; what lies between
    two quotes is a string, and goes too. Each round then deletes every innermost "()"; pairs left
    after max_depth rounds nest deeper than that.
    """
    kept = data.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _KEEP_ONLY)
    parens = b"".join(kept.split(b'"')[::2]).translate(_AS_PARENS)
    for _ in range(max_depth):
        shorter = parens.replace(b"()", b"")
        if shorter == parens:
            break
        parens = shorter
    # pairs left: deeper than allowed; unmatched brackets only: the parser says what is wrong,
    # unless there are so many that it would recurse past its limit first ("[[[[..." unclosed)
    return b"()" in parens or len(parens) > max_depth


def parse_json(data: bytes, name: str, max_depth: int = MAX_JSON_DEPTH):
    """Parse JSON bytes; deeper than max_depth, or not JSON, is FileRefused in one line."""
    if nests_deeper(data, max_depth):
        raise FileRefused(f"Cannot read {name}: its JSON nests deeper than {max_depth} levels.")
    try:
        # NaN and Infinity are not JSON (RFC 8259); older files may hold them: read as null
        return json.loads(data.decode("utf-8"), parse_constant=lambda _name: None)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise FileRefused(f"Cannot read {name}: {exc}") from exc


def read_json(path: str | Path, what: str = "", limit: int = MAX_JSON_BYTES, max_depth: int = MAX_JSON_DEPTH):
    """Read a JSON file through every check above."""
    name = what or str(path)
    return parse_json(read_bytes(path, limit, name), name, max_depth)
