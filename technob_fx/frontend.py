"""The shared spectral front-end.

One :class:`Frontend` wraps one audio buffer. Analysis stages ask it for derived signals (mono
mix at the analysis rate, STFT, mel spectrogram, onset envelope...) and it computes each at most
once, so a chain of analyzers, or one ``analyze`` call, does the expensive DSP a single time.
:class:`~technob_fx.Chain` builds one per run of consecutive analyzer nodes and passes it to each.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np


class Frontend:
    """Lazily computed, cached features of one audio buffer.

    Parameters
    ----------
    audio : np.ndarray, float32, shape ``(channels, samples)``
        The audio every feature is derived from. Not copied, never modified.
    sample_rate : float
        Hz.
    """

    def __init__(self, audio: np.ndarray, sample_rate: float) -> None:
        self.audio = audio
        self.sample_rate = float(sample_rate)
        self._cache: dict[str, Any] = {}
        self._lock = threading.RLock()

    def get(self, key: str, compute: Callable[[], Any]) -> Any:
        """Return the feature ``key``, computing it with ``compute()`` the first time."""
        with self._lock:
            if key not in self._cache:
                self._cache[key] = compute()
            return self._cache[key]

    def has(self, key: str) -> bool:
        """Whether ``key`` has been computed already."""
        return key in self._cache

    def matches(self, audio: np.ndarray, sample_rate: float) -> bool:
        """True if this front-end describes exactly this buffer (same object and rate)."""
        return audio is self.audio and float(sample_rate) == self.sample_rate
