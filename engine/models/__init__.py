"""Model packages of the engine (no Qt). Each sub-package exposes its public API in its `__init__.py`."""
