"""Scenescope desktop app (PySide6): views and controllers over the engine, which runs in a worker.

Never imports torch or the model packages: model work happens in the engine's worker process, so an
out-of-memory error or a crash there cannot take the window down.
"""
