"""The architecture's rules, checked: core never imports Qt; the GUI starts without torch; the import contracts."""

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

BLOCK_QT = textwrap.dedent("""
    import importlib.abc, sys
    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("PySide6", "pyqtgraph", "shiboken6", "gui"):
                raise ImportError(f"core imported {name}")
    sys.meta_path.insert(0, Block())
""")


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


def test_every_core_module_imports_with_qt_blocked():
    code = BLOCK_QT + textwrap.dedent("""
        import pkgutil, importlib, core
        names = [m.name for m in pkgutil.iter_modules(core.__path__, "core.")]
        for name in names:
            importlib.import_module(name)
        print(len(names))
    """)
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) >= 10


def test_main_window_module_does_not_import_torch():
    code = textwrap.dedent("""
        import sys
        import gui.main_window, gui.app
        heavy = [m for m in ("torch", "transformers") if m in sys.modules]
        print(heavy)
    """)
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_import_contracts_hold():
    """pyproject.toml's import-linter contracts: core is Qt-free; what the window reads is torch-free."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint_imports), "--no-cache"], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout
