"""Model Size Lab desktop app (PySide6 + pyqtgraph). Never touches a model: the engine process does (core/engine_process.py)."""
