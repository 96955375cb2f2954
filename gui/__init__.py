"""Model Size Lab desktop app (PySide6 + pyqtgraph). Never touches a model: the worker does."""
