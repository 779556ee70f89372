"""Audio buffer conventions and validation.

technob-fx audio is a ``numpy.float32`` array of shape ``(channels, samples)``, the layout
pedalboard uses. A 1-D array of shape ``(samples,)`` is accepted as mono and given back 1-D, as
pedalboard does. Every public entry point validates its input with :func:`as_audio` so that bad
input fails early with a message naming the problem instead of deep inside a DSP routine.
"""

from __future__ import annotations

import numpy as np

from .errors import AudioError

#: Sample rates outside this range are rejected (Hz).
MIN_SAMPLE_RATE = 1_000.0
MAX_SAMPLE_RATE = 768_000.0
#: More channels than this is almost certainly a transposed ``(samples, channels)`` array.
MAX_CHANNELS = 64


def check_sample_rate(sample_rate: float) -> float:
    """Validate a sample rate.

    Parameters
    ----------
    sample_rate : float
        Sample rate in Hz.

    Returns
    -------
    float
        The sample rate as a float.

    Raises
    ------
    AudioError
        If it is not a finite number in ``[1000, 768000]`` Hz.
    """
    try:
        sr = float(sample_rate)
    except (TypeError, ValueError):
        raise AudioError(f"sample rate must be a number, got {sample_rate!r}") from None
    if not np.isfinite(sr) or not (MIN_SAMPLE_RATE <= sr <= MAX_SAMPLE_RATE):
        raise AudioError(
            f"sample rate {sample_rate!r} Hz is out of range "
            f"[{MIN_SAMPLE_RATE:g}, {MAX_SAMPLE_RATE:g}] Hz"
        )
    return sr


def as_audio(
    audio: object,
    *,
    name: str = "audio",
    allow_empty: bool = False,
    check_finite: bool = True,
) -> tuple[np.ndarray, bool]:
    """Validate audio and bring it to ``float32`` of shape ``(channels, samples)``.

    Parameters
    ----------
    audio : array-like, shape ``(samples,)`` or ``(channels, samples)``
        Audio samples, nominally in ``[-1, 1]``.
    name : str
        What to call the array in error messages.
    allow_empty : bool
        Accept zero samples (streaming blocks may be empty).
    check_finite : bool
        Reject NaN and inf samples.

    Returns
    -------
    audio : np.ndarray, float32, shape ``(channels, samples)``
        C-contiguous. It is a new array whenever the input needed converting; callers must
        never modify it in place (it may be the caller's own buffer).
    was_mono : bool
        True when the input was 1-D, so the caller can give back the same layout.

    Raises
    ------
    AudioError
        Wrong type, dimensionality or channel count, empty, or non-finite samples.
    """
    if not isinstance(audio, np.ndarray):
        try:
            audio = np.asarray(audio)
        except Exception as exc:  # noqa: BLE001 - any conversion failure is a bad input
            raise AudioError(f"{name} is not an array: {exc}") from None
    if audio.dtype.kind not in "fiu":
        raise AudioError(f"{name} must be numeric samples, got dtype {audio.dtype}")
    was_mono = audio.ndim == 1
    if was_mono:
        audio = audio[np.newaxis, :]
    if audio.ndim != 2:
        raise AudioError(
            f"{name} must have shape (channels, samples) or (samples,), got {audio.shape}"
        )
    channels, samples = audio.shape
    if channels == 0:
        raise AudioError(f"{name} has no channels (shape {audio.shape})")
    if channels > MAX_CHANNELS:
        hint = " (did you pass (samples, channels)? transpose it)" if samples <= MAX_CHANNELS else ""
        raise AudioError(f"{name} has {channels} channels, more than {MAX_CHANNELS}{hint}")
    if samples == 0 and not allow_empty:
        raise AudioError(f"{name} is empty (0 samples)")
    if audio.dtype.kind in "iu":
        # Integer PCM: scale to [-1, 1] like a decoder would.
        info = np.iinfo(audio.dtype)
        scale = float(max(abs(info.min), info.max))
        offset = (info.max + 1) / 2 if audio.dtype.kind == "u" else 0.0
        audio = ((audio.astype(np.float64) - offset) / scale).astype(np.float32)
    elif audio.dtype != np.float32:
        audio = audio.astype(np.float32)
    if check_finite and samples and not all_finite(audio):
        bad = int(np.size(audio) - np.count_nonzero(np.isfinite(audio)))
        raise AudioError(f"{name} contains {bad} NaN or infinite samples")
    return np.ascontiguousarray(audio), was_mono


def all_finite(audio: np.ndarray) -> bool:
    """True when no sample is NaN or infinite."""
    return bool(np.isfinite(audio).all())


def restore_layout(audio: np.ndarray, was_mono: bool) -> np.ndarray:
    """Give audio back in the layout the caller used (1-D for mono input when possible)."""
    if was_mono and audio.ndim == 2 and audio.shape[0] == 1:
        return audio[0]
    return audio


def to_mono(audio: np.ndarray) -> np.ndarray:
    """Average channels: ``(channels, samples)`` -> ``(samples,)`` float32."""
    if audio.ndim == 1:
        return audio
    if audio.shape[0] == 1:
        return audio[0]
    return audio.mean(axis=0, dtype=np.float32)


def match_channels(audio: np.ndarray, channels: int) -> np.ndarray:
    """Up/down-mix ``(c, n)`` audio to ``channels`` channels (mono is copied, extra averaged)."""
    have = audio.shape[0]
    if have == channels:
        return audio
    if have == 1:
        return np.repeat(audio, channels, axis=0)
    if channels == 1:
        return to_mono(audio)[np.newaxis, :]
    if have > channels:
        return audio[:channels]
    reps = int(np.ceil(channels / have))
    return np.tile(audio, (reps, 1))[:channels]
