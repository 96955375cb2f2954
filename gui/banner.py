"""The error banner: a message over the bottom of the window that moves no other widget.

An inline banner pushed the whole layout down when it appeared and up when it went, under the
user's mouse; this one floats above the history until it is closed, the user types, or the tab
changes.
"""

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QWidget

MARGIN = 8


class ErrorBanner(QFrame):
    closed = Signal()

    def __init__(self, parent: QWidget):
        super().__init__(parent)
        self.setObjectName("errorBanner")
        self.setStyleSheet("#errorBanner { background:#fdecea; border:1px solid #e6a5a0; border-radius:4px; }"
                           "QLabel { color:#611a15; }")
        self.label = QLabel(objectName="errorBannerText", wordWrap=True)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.closeButton = QToolButton(text="✕", objectName="errorBannerClose", autoRaise=True)
        self.closeButton.setToolTip("Dismiss")
        self.closeButton.setAccessibleName("Dismiss the error")
        self.closeButton.clicked.connect(self.dismiss)
        box = QHBoxLayout(self)
        box.setContentsMargins(10, 6, 6, 6)
        box.addWidget(self.label, 1)
        box.addWidget(self.closeButton, 0, Qt.AlignmentFlag.AlignTop)
        self.hide()
        parent.installEventFilter(self)  # follows the parent's size

    def text(self) -> str:
        return self.label.text()

    def show_message(self, message: str) -> None:
        self.label.setText(f"⚠ {message}")
        self._place()
        self.show()
        self.raise_()

    def dismiss(self) -> None:
        if self.isVisible():
            self.hide()
            self.label.clear()
            self.closed.emit()

    def clear(self) -> None:
        self.hide()
        self.label.clear()

    def _place(self) -> None:
        parent = self.parentWidget()
        width = max(100, parent.width() - 2 * MARGIN)
        height = min(self.heightForWidth(width) if self.hasHeightForWidth() else self.sizeHint().height(),
                     parent.height() // 3)
        self.setGeometry(MARGIN, parent.height() - height - MARGIN, width, max(height, self.sizeHint().height()))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if watched is self.parentWidget() and event.type() == QEvent.Type.Resize and self.isVisible():
            self._place()
        return False
