"""`sizelab --smoke-test` from source, as the installer tests run it frozen (tests/test_bundle.py)."""

import pytest

import json
import os
import subprocess
import sys

from .app_process import REPO

pytestmark = pytest.mark.slow  # the real app, start to first result


def test_the_smoke_test_passes_from_source(tmp_path):
    env = os.environ | {"HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-m", "gui.app", "--smoke-test"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=300, check=False)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert result.returncode == 0 and report["ok"] is True, (report, result.stderr[-2000:])
    assert report["label"] == "positive" and report["frozen"] is False
    assert report["torch"], report  # the engine process's version: the window's process has no torch
    assert report["window_shown_seconds"] < report["engine_ready_seconds"] < report["first_result_seconds"]
