"""Tiny synthesised genre recordings: "classical" and "Lo-Fi", for tests and the demo.

- ``classical``: string pad + piano phrases in a key, a I-vi-IV-V style progression, rubato (the
  beat period drifts with a slow sine and each phrase slows down at its end), no drums, full band.
- ``lofi``: swung drums (kick, snare, hat; swing ratio ~0.62) at 70-90 BPM, jazz seventh chords
  on an electric-piano tone, a low-pass filter and vinyl crackle.

They are not music to listen to; they are two classes with the properties the learner measures
(tempo, swing, band-wise drum onsets, key and harmony, spectral tilt).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)


def _hz(m: float) -> float:
    return 440.0 * 2.0 ** ((m - 69.0) / 12.0)


def _env(n: int, sr: float, attack: float, decay: float) -> np.ndarray:
    t = np.arange(n) / sr
    a = np.clip(t / max(attack, 1e-4), 0.0, 1.0)
    return (a * np.exp(-t / max(decay, 1e-4))).astype(np.float32)


def _piano(m: float, dur: float, sr: float, amp: float) -> np.ndarray:
    n = int(dur * sr)
    t = np.arange(n) / sr
    f = _hz(m)
    sig = sum((0.6 ** k) * np.sin(2 * np.pi * f * (k + 1) * t * (1 + 0.0004 * k)) for k in range(6))
    return (amp * sig * _env(n, sr, 0.004, 0.35 + 0.5 * dur)).astype(np.float32)


def _strings(m: float, dur: float, sr: float, amp: float, rng: np.random.Generator) -> np.ndarray:
    n = int(dur * sr)
    t = np.arange(n) / sr
    f = _hz(m) * (1 + 0.004 * np.sin(2 * np.pi * 5.5 * t + rng.uniform(0, 6)))  # vibrato
    phase = 2 * np.pi * np.cumsum(f) / sr
    sig = sum(np.sin((k + 1) * phase) / (k + 1) for k in range(10))  # band-limited saw
    env = np.minimum(1.0, t / 0.25) * np.minimum(1.0, (dur - t) / 0.3).clip(0, 1)
    return (amp * 0.35 * sig * env).astype(np.float32)


def _epiano(m: float, dur: float, sr: float, amp: float) -> np.ndarray:
    n = int(dur * sr)
    t = np.arange(n) / sr
    f = _hz(m)
    mod = np.sin(2 * np.pi * f * 2 * t) * 1.5 * np.exp(-t / 0.25)
    sig = np.sin(2 * np.pi * f * t + mod)
    return (amp * sig * _env(n, sr, 0.005, 0.9)).astype(np.float32)


def _add(buf: np.ndarray, start: int, sig: np.ndarray) -> None:
    if start >= buf.shape[-1] or start < 0:
        return
    end = min(buf.shape[-1], start + sig.shape[-1])
    buf[start:end] += sig[: end - start]


def _lowpass(x: np.ndarray, sr: float, cutoff: float) -> np.ndarray:
    from scipy.signal import butter, sosfilt

    sos = butter(4, cutoff, btype="low", fs=sr, output="sos")
    return sosfilt(sos, x).astype(np.float32)


def synth_classical(seconds: float, sr: float = 22050, *, seed: int = 0, tonic: int | None = None,
                    mode: str | None = None) -> np.ndarray:
    """Strings and piano phrases in one key with rubato.

    Returns
    -------
    np.ndarray, float32, shape ``(2, round(seconds * sr))``
    """
    rng = np.random.default_rng(seed)
    tonic = int(rng.integers(0, 12)) if tonic is None else int(tonic)
    mode = mode or ("major" if rng.random() < 0.5 else "minor")
    scale = MAJOR if mode == "major" else MINOR
    n = int(round(seconds * sr))
    buf = np.zeros(n, np.float32)
    degrees = [0, 5, 3, 4] if mode == "major" else [0, 3, 5, 4]  # I vi IV V / i iv VI v
    base_period = 60.0 / rng.uniform(84, 108)
    t, beat = 0.0, 0
    root = 60 + tonic - 12 * (tonic > 6)
    while t < seconds:
        chord_deg = degrees[(beat // 4) % 4]
        phrase_pos = (beat % 16) / 16.0
        rubato = 1.0 + 0.18 * np.sin(2 * np.pi * t / 9.0) + 0.35 * phrase_pos ** 4
        period = base_period * rubato
        if beat % 4 == 0:  # string chord per bar
            for k in (0, 2, 4):
                deg = chord_deg + k
                m = root - 12 + scale[deg % 7] + 12 * (deg // 7)
                _add(buf, int(t * sr), _strings(m, 4.2 * period, sr, 0.10, rng))
        # piano melody: scale steps around the chord
        deg = chord_deg + int(rng.choice([0, 2, 4, 7, 1, 3]))
        m = root + 12 + scale[deg % 7] + 12 * (deg // 7)
        _add(buf, int((t + rng.normal(0, 0.012)) * sr), _piano(m, 1.4 * period, sr, 0.16))
        if rng.random() < 0.4:  # an eighth-note passing tone
            m2 = root + 12 + scale[(deg + 1) % 7] + 12 * ((deg + 1) // 7)
            _add(buf, int((t + period / 2) * sr), _piano(m2, 0.8 * period, sr, 0.11))
        t += period
        beat += 1
    buf = buf / max(1e-6, float(np.abs(buf).max())) * 0.7
    right = np.roll(buf, int(0.0007 * sr))
    return np.stack([buf, right]).astype(np.float32)


def synth_lofi(seconds: float, sr: float = 22050, *, seed: int = 0, bpm: float | None = None,
               swing: float = 0.62) -> np.ndarray:
    """Swung drums, jazz seventh chords, low-pass and crackle.

    Returns
    -------
    np.ndarray, float32, shape ``(2, round(seconds * sr))``
    """
    rng = np.random.default_rng(seed)
    bpm = float(rng.uniform(72, 90)) if bpm is None else float(bpm)
    n = int(round(seconds * sr))
    drums = np.zeros(n, np.float32)
    keys = np.zeros(n, np.float32)
    beat = 60.0 / bpm
    tt = np.arange(int(0.3 * sr)) / sr
    kick = (np.sin(2 * np.pi * (50 + 90 * np.exp(-tt / 0.03)) * tt) * np.exp(-tt / 0.12)).astype(np.float32)
    noise = rng.standard_normal(tt.size).astype(np.float32)
    snare = (0.5 * noise * np.exp(-tt / 0.07) + 0.5 * np.sin(2 * np.pi * 190 * tt) * np.exp(-tt / 0.05))
    hat_noise = np.diff(rng.standard_normal(tt.size + 1)).astype(np.float32)
    hat = hat_noise * np.exp(-tt / 0.02)
    kick_pat = [0, 7, 10] if seed % 2 == 0 else [0, 6, 10, 11]
    tonic = int(rng.integers(0, 12))
    prog = [(2, "m7"), (7, "7"), (0, "maj7"), (9, "m7")]  # ii-V-I-vi
    shapes = {"m7": (0, 3, 7, 10), "7": (0, 4, 7, 10), "maj7": (0, 4, 7, 11)}
    bar = 0
    while bar * 4 * beat < seconds:
        t0 = bar * 4 * beat
        for s in range(16):  # sixteenths; the off-beat eighth is delayed to `swing` of the beat
            b, sub = divmod(s, 4)
            pos = t0 + beat * (b + (0.0, swing / 2, swing, (1 + swing) / 2)[sub])
            if sub in (0, 2):
                _add(drums, int(pos * sr), hat * rng.uniform(0.15, 0.3))
            if s in kick_pat:
                _add(drums, int(pos * sr), kick * 0.9)
            if s in (4, 12):
                _add(drums, int(pos * sr), snare * 0.45)
        root, quality = prog[bar % 4]
        for iv in shapes[quality]:
            m = 48 + (tonic + root) % 12 + iv
            _add(keys, int(t0 * sr), _epiano(m, 4 * beat, sr, 0.09))
            _add(keys, int((t0 + (2 + swing) * beat) * sr), _epiano(m + 12, 1.2 * beat, sr, 0.03))
        bar += 1
    mix = 0.9 * drums + keys
    mix = _lowpass(mix, sr, 3200.0)
    crackle = np.zeros(n, np.float32)
    pos = rng.integers(0, n, size=int(seconds * 9))
    crackle[pos] = rng.uniform(-0.25, 0.25, size=pos.size).astype(np.float32)
    mix = mix + crackle + rng.standard_normal(n).astype(np.float32) * 0.003
    mix = mix / max(1e-6, float(np.abs(mix).max())) * 0.7
    return np.stack([mix, np.roll(mix, int(0.0004 * sr))]).astype(np.float32)


def make_genre_folders(root: str | Path, *, files: int = 2, seconds: float = 12.0, sr: float = 22050,
                       seed: int = 0, fmt: str = ".wav") -> dict[str, Path]:
    """Write ``root/classical/*.wav`` and ``root/lofi/*.wav`` (``files`` recordings each).

    Returns
    -------
    dict
        ``{"classical": Path, "lofi": Path}``.
    """
    from ..core.io import write_audio

    root = Path(root)
    out: dict[str, Path] = {}
    for genre, fn in (("classical", synth_classical), ("lofi", synth_lofi)):
        d = root / genre
        d.mkdir(parents=True, exist_ok=True)
        for i in range(files):
            path = d / f"{genre}_{i:02d}{fmt}"
            if not path.exists():
                write_audio(path, fn(seconds, sr, seed=seed * 100 + i), sr)
        out[genre] = d
    return out
