"""Errors a user can act on.

Every `ScenescopeError` carries a message that says what went wrong and what to do about it; the CLI
prints it as one line and exits with status 2, the GUI shows it in a banner. Anything else that
escapes the engine is a bug.
"""


class ScenescopeError(Exception):
    """A failure caused by the input or the environment, with a message meant for the user."""


class VideoError(ScenescopeError):
    """The file is missing, unreadable, not a video, or damaged beyond use."""


class ModelError(ScenescopeError):
    """A model is missing, incomplete, incompatible, or does not fit the device."""


class ExportError(ScenescopeError):
    """An export cannot be made: its files exist, the folder is not writable, or a span is off the video."""
