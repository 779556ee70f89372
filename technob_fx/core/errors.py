"""Exceptions raised by technob-fx.

Every error a user can cause (bad audio, bad preset, bad parameter, missing file or model) is a
:class:`TechnobError`. Its message is one line that names the problem, so the CLI can print it and
exit 1, and the OSC bridge can send it back as ``/technob/error``.
"""

from __future__ import annotations


class TechnobError(Exception):
    """Base class of every error technob-fx raises on bad input."""


class AudioError(TechnobError, ValueError):
    """Audio is unusable: wrong shape or dtype, NaN/inf, empty, bad sample rate, unreadable file."""


class ParameterError(TechnobError, ValueError):
    """A node parameter is unknown, of the wrong type, or out of its declared range."""


class PresetError(TechnobError, ValueError):
    """A preset file is malformed, or names an unknown node, parameter or missing plugin file."""


class ModelError(TechnobError, RuntimeError):
    """A model (e.g. demucs weights) cannot be found or loaded."""


class DependencyError(TechnobError, RuntimeError):
    """An optional external program or package is missing (e.g. the ``rubberband`` CLI)."""


class PathError(TechnobError, ValueError):
    """A path is missing, outside the allowed folders, or would overwrite an input."""


class TechnobWarning(UserWarning):
    """Something a user should know that does not stop the work: a tempo range that excludes the
    likely tempo, a filter cutoff clamped below Nyquist, samples clipped on writing...

    Raised with :func:`warn`; the CLI prints each as one ``technob: warning: ...`` line.
    """


def warn(message: str) -> None:
    """Emit a :class:`TechnobWarning` (one line naming what happened and what to do)."""
    import warnings

    warnings.warn(message, TechnobWarning, stacklevel=2)
