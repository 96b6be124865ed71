"""Scenescope engine: video probing, sampling and decoding, the video LLM, grounding, tracking, export.

A library with no Qt: the GUI reaches it through the worker process, the `scenescope` command line
and the tests call it directly. Each sub-package exposes its public API in its `__init__.py`.
"""

__version__ = "0.1.0"
