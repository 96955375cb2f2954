"""The engine lives in its own process: the window's process never imports torch.

That is what keeps the window responsive and its memory out of the model's figures
(core/engine_process.py). Checked in a fresh process, since pytest's own has torch imported by
other tests: the real app window loads the bundled model, classifies, and runs a one-row Compare
(everything the window sends to or gets back from the engine), then reports its imports.
"""

import pytest

import json
import textwrap

from .app_process import run_driver

DRIVER = textwrap.dedent('''
    import json
    import sys

    from core.catalog import DEFAULT_MODEL_ID, Ladder, LadderMember, load_catalog
    from core.variants import Variant
    from tests.benchmarks.qtapp import application, main_window, wait_until


    def main():
        application()
        window = main_window()
        window.modelPanel.layersSpin.setValue(1)
        window.modelPanel.loadButton.click()
        wait_until(lambda: window.session.summary is not None and window.session.load_job is None, 120)
        window.runPanel.inputEdit.setPlainText("A fine, honest film.")
        window.runPanel.runButton.click()
        wait_until(lambda: window.historyModel.rowCount() == 1 and window.session.run_job is None, 60)
        view = window.compareView
        entry = load_catalog().get(DEFAULT_MODEL_ID)
        view.set_ladders([Ladder("one", "One row", "classification", (LadderMember(entry, Variant(layers=1)),))])
        view.qualityCheck.setChecked(False)
        view.seqLenSpin.setValue(8)
        view.warmupSpin.setValue(1)
        view.minItersSpin.setValue(3)
        view.minSecondsSpin.setValue(0)
        view.runButton.click()
        wait_until(lambda: not view.running() and view.run is not None, 120)
        rows = [row["status"] for row in view.run["rows"]]
        window.close()
        print(json.dumps({"rows": rows, "summary": window.historyModel.rowCount(),
                          "imported": sorted(name for name in ("torch", "transformers", "safetensors")
                                             if name in sys.modules)}))


    if __name__ == "__main__":  # not in the engine process, which multiprocessing starts from this file
        main()
''')

pytestmark = pytest.mark.slow  # the real app in a fresh process, loading and comparing


def test_the_window_process_never_imports_torch(tmp_path):
    result = run_driver(DRIVER, tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["rows"] == ["done"], report  # the work really happened, in the engine process
    assert report["summary"] == 1
    assert report["imported"] == [], report
