"""The real engine with one edge replaced, for tests that close the window or lose the engine mid-work.

These factories run in the engine process (the window's EngineHost pickles them by name), so the
replacement is made there, where the work runs; what happened is reported through files in `folder`,
since the test lives in another process. Qt-free, like everything the engine process imports.
"""

import time
from pathlib import Path

from huggingface_hub import errors as hub_errors


class EndlessDownload:
    """snapshot_download at the hub edge: nothing cached, then a download that never ends by itself.

    Our progress reporter (core.loading._CancellableTqdm) is what raises Cancelled mid-download;
    `stopped_by` records what ended it.
    """

    def __init__(self, folder: Path):
        self.folder = folder

    def __call__(self, repo_id, *, allow_patterns=None, local_files_only=False, tqdm_class=None, **kwargs):
        if local_files_only:
            raise hub_errors.LocalEntryNotFoundError("not cached")
        try:
            with tqdm_class(total=10**9, desc="model.safetensors") as bar:
                (self.folder / "downloading").touch()
                while True:
                    time.sleep(0.01)  # a chunk arriving
                    bar.update(1000)
        except BaseException as exc:
            (self.folder / "stopped_by").write_text(type(exc).__name__, encoding="utf-8")
            raise


def engine_with_endless_download(folder: str):
    """The engine, with the hub reachable (as for a user online) and a download that never ends."""
    import huggingface_hub

    from core.engine import Engine

    huggingface_hub.snapshot_download = EndlessDownload(Path(folder))  # the hub edge, as in test_hub.py
    huggingface_hub.constants.HF_HUB_OFFLINE = False
    return Engine()


def engine_with_stalled_quantization(folder: str):
    """The engine, with int8 quantization that never returns: a step nothing can interrupt."""
    from core import derive
    from core.engine import Engine

    def quantize_int8(model, per_channel=False):
        (Path(folder) / "quantizing").touch()
        while True:
            time.sleep(1)

    derive.quantize_int8 = quantize_int8
    return Engine()


def engine_that_dies_at_row(row: int):
    """The engine, whose process ends as a Compare run reaches this row (as the out-of-memory killer would)."""
    import os

    from core import compare
    from core.engine import Engine

    measure_row = compare._measure_row

    def _measure_row(index, *args, **kwargs):
        if index == row:
            os._exit(3)
        return measure_row(index, *args, **kwargs)

    compare._measure_row = _measure_row
    return Engine()
