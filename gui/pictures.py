"""Pictures of plots for files: PNG bytes (written by core.safe_files, like every other export) and
plots drawn without pyqtgraph's buttons."""

import contextlib

from PySide6.QtCore import QBuffer, QIODevice
from PySide6.QtGui import QImage


def png_bytes(image: QImage) -> bytes:
    """The image encoded as PNG, for core.safe_files.write_atomic: QImage.save(path) would open a FIFO
    or a device at that path like a file, and keep no mode of a file it replaces."""
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise OSError("Could not encode the plots as PNG")
    return bytes(buffer.data())


@contextlib.contextmanager
def without_buttons(plots):
    """pyqtgraph's "A" (auto-range) button shows while the mouse is over a plot: not in a picture."""
    shown = [plot.getPlotItem() for plot in plots if not plot.getPlotItem().buttonsHidden]
    for item in shown:
        item.hideButtons()
    try:
        yield
    finally:
        for item in shown:
            item.showButtons()
