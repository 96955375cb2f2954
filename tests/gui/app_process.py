"""Run a driver script that opens the real app window in a process of its own, offline and offscreen,
with HOME, settings and caches under a temporary folder (never the user's)."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_driver(source: str, folder: Path, timeout: float) -> subprocess.CompletedProcess:
    """source must start its work under `if __name__ == "__main__":`: multiprocessing starts the
    app's engine process from the same file."""
    driver = folder / "driver.py"
    driver.write_text(source, encoding="utf-8")
    env = os.environ | {"QT_QPA_PLATFORM": "offscreen", "HOME": str(folder / "home"),
                        "XDG_CONFIG_HOME": str(folder / "config"), "XDG_CACHE_HOME": str(folder / "cache"),
                        "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, str(driver)], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
