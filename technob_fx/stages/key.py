"""Musical key estimation: the ONE key estimator (issue 10 section 3).

1. **Tuning**: the deviation of the spectral peaks from equal temperament (A = 440 Hz), a
   weighted circular mean in cents, so a recording tuned at A = 432 or 452 Hz still falls on its
   pitch classes.
2. **Chroma** of the harmony, 200 Hz - 4.2 kHz (spectral peaks only, from a 4096-point STFT at
   11 025 Hz): below 200 Hz a techno kick's pitched body would count as a note on every beat.
   Each frame is normalised and log-compressed; the loud frames are averaged.
3. **Scale and tonic**: the distribution is correlated with a template for each tonic and each
   diatonic mode (plus harmonic minor): the tonic triad weighs most, the rest of the scale less,
   notes outside the scale not at all. A small prior orders the modes as electronic and common
   practice music use them (aeolian, ionian, dorian, harmonic minor, phrygian, mixolydian,
   lydian): a piece whose notes fit a minor key and its relative major equally well (a loop of
   i - VI - III - VII) is read as the minor key.
4. **Chord roots**: the share of the time a chord on the candidate tonic, of the mode's triad
   quality, sounds (the best of major, minor, major-7, minor-7 and dominant-7 templates per
   half second, so that a maj7 chord is not heard as the minor triad on its third) is added.

The winning mode is reported as major (ionian, lydian, mixolydian) or minor (aeolian, dorian,
phrygian, harmonic minor), as mir_eval scores keys. Music without a drum kit (no noisy highs)
keeps the Krumhansl-Schmuckler estimate with Temperley's profiles on the full-range chroma.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.frontend import CHROMA_N_FFT, CHROMA_SR, StreamedAnalyzer, frontend_for
from ..core.node import AnalyzerNode
from ..core.results import KeyEstimate

if TYPE_CHECKING:
    from ..core.frontend import Frontend

PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
# Temperley (Kostka-Payne corpus) key profiles, tonic first.
MAJOR_PROFILE = np.array([0.748, 0.060, 0.488, 0.082, 0.670, 0.460, 0.096, 0.715, 0.104, 0.366, 0.057, 0.400])
MINOR_PROFILE = np.array([0.712, 0.084, 0.474, 0.618, 0.049, 0.460, 0.105, 0.747, 0.404, 0.067, 0.133, 0.330])

#: mode -> (scale degrees in semitones, third of the tonic triad, reported mode, log prior)
MODES: dict[str, tuple[tuple[int, ...], int, str, float]] = {
    "aeolian": ((0, 2, 3, 5, 7, 8, 10), 3, "minor", 0.0),
    "ionian": ((0, 2, 4, 5, 7, 9, 11), 4, "major", -0.05),
    "dorian": ((0, 2, 3, 5, 7, 9, 10), 3, "minor", -0.1),
    "harmonic_minor": ((0, 2, 3, 5, 7, 8, 11), 3, "minor", -0.15),
    "phrygian": ((0, 1, 3, 5, 7, 8, 10), 3, "minor", -0.15),
    "mixolydian": ((0, 2, 4, 5, 7, 9, 10), 4, "major", -0.2),
    "lydian": ((0, 2, 4, 6, 7, 9, 11), 4, "major", -0.3),
}
#: Template weights: tonic, third, fifth of the tonic triad; other scale notes.
TONIC_W, THIRD_W, FIFTH_W, SCALE_W = 1.0, 0.9, 0.9, 0.6
HARMONY_FMIN, HARMONY_FMAX = 200.0, 4200.0
#: Hop of the harmony chroma at 11 025 Hz (93 ms).
HARMONY_HOP = 1024
#: Chord qualities for the chord-root evidence: intervals and the triad they count as (0 major, 1 minor).
CHORD_QUALITIES: dict[str, tuple[tuple[int, ...], int]] = {
    "maj": ((0, 4, 7), 0), "min": ((0, 3, 7), 1), "maj7": ((0, 4, 7, 11), 0), "min7": ((0, 3, 7, 10), 1),
    "7": ((0, 4, 7, 10), 0),
}
#: Weight of the chord-root evidence (share of the time a chord on the tonic, of the mode's
#: triad quality, sounds) beside the template correlation.
CHORD_W = 0.2


def mode_template(mode: str) -> np.ndarray:
    """Pitch-class template of ``mode`` with the tonic at index 0, shape ``(12,)``."""
    scale, third, _, _ = MODES[mode]
    t = np.zeros(12)
    t[list(scale)] = SCALE_W
    t[0], t[third], t[7] = TONIC_W, THIRD_W, FIFTH_W
    return t


def key_scores(chroma_mean: np.ndarray) -> np.ndarray:
    """Correlation of a 12-bin pitch-class distribution with every key profile (Temperley).

    Parameters
    ----------
    chroma_mean : np.ndarray, shape ``(12,)``
        Pitch-class weights, index 0 = C.

    Returns
    -------
    np.ndarray, shape ``(24,)``
        Pearson correlation for C major .. B major, then C minor .. B minor.
    """
    x = np.asarray(chroma_mean, dtype=np.float64)
    out = np.zeros(24)
    if not np.all(np.isfinite(x)) or x.std() < 1e-12:
        return out
    for mode, prof in enumerate((MAJOR_PROFILE, MINOR_PROFILE)):
        for tonic in range(12):
            out[mode * 12 + tonic] = np.corrcoef(x, np.roll(prof, tonic))[0, 1]
    return out


def mode_scores(dist: np.ndarray) -> dict[str, np.ndarray]:
    """Score of every tonic in every mode of :data:`MODES`: correlation with the mode's
    template plus the mode's prior; ``{mode: (12,) array}`` (index = tonic pitch class)."""
    x = np.asarray(dist, dtype=np.float64)
    out = {}
    for mode, (_, _, _, prior) in MODES.items():
        t = mode_template(mode)
        s = np.zeros(12)
        if x.std() > 1e-12:
            for tonic in range(12):
                s[tonic] = np.corrcoef(x, np.roll(t, tonic))[0, 1]
        out[mode] = s + prior
    return out


def chord_roots(chroma: np.ndarray, smooth: int = 5) -> np.ndarray:
    """Share of the loud frames whose best chord (triads and seventh chords, :data:`CHORD_QUALITIES`)
    has each root, ``(2, 12)``: row 0 major-triad chords, row 1 minor-triad chords.

    ``chroma`` is ``(12, n_frames)``; frames are averaged over ``smooth`` neighbours first.
    """
    c = np.asarray(chroma, dtype=np.float64)
    out = np.zeros((2, 12))
    if c.shape[1] == 0:
        return out
    k = np.ones(smooth) / smooth
    cs = np.stack([np.convolve(row, k, mode="same") for row in c])
    e = cs.sum(axis=0)
    if not np.any(e > 1e-6):
        return out
    w = e >= 0.1 * np.percentile(e, 90)
    x = np.log1p(20.0 * cs[:, w] / np.maximum(e[w], 1e-9))
    xz = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-12)
    temps, kinds = [], []
    for intervals, triad in CHORD_QUALITIES.values():
        t = np.zeros(12)
        t[list(intervals)] = 1.0
        for r in range(12):
            temps.append(np.roll(t, r))
            kinds.append((triad, r))
    tz = np.array(temps)
    tz = (tz - tz.mean(axis=1, keepdims=True)) / tz.std(axis=1, keepdims=True)
    for b in np.argmax(tz @ xz, axis=0):
        triad, r = kinds[int(b)]
        out[triad, r] += 1.0
    return out / max(out.sum(), 1.0)


def _peaks(mag: np.ndarray) -> np.ndarray:
    """Spectral peaks only: magnitude minus twice its local mean over 17 bins, floored at 0."""
    k = 17
    cs = np.cumsum(np.pad(mag, ((0, 0), (k // 2 + 1, k // 2))), axis=1)
    floor = (cs[:, k:] - cs[:, :-k]) / k
    return np.maximum(mag - 2.0 * floor, 0.0)


def harmony_chroma(frontend: Frontend) -> tuple[np.ndarray, float, float]:
    """Chroma of the harmony (200 Hz - 4.2 kHz, spectral peaks, tuned), cached on the front-end.

    Returns
    -------
    chroma : np.ndarray, ``(12, n_frames)`` float32
        0 = C; not normalised.
    rate : float
        Frames per second.
    tuning : float
        Estimated tuning, cents from A = 440 Hz (``-50 .. 50``).
    """

    def compute() -> tuple[np.ndarray, float, float]:
        import scipy.fft

        y = frontend.mono_at(CHROMA_SR)
        if y.size < CHROMA_N_FFT:
            y = np.pad(y, (0, CHROMA_N_FFT - y.size))
        frames = np.lib.stride_tricks.sliding_window_view(y, CHROMA_N_FFT)[::HARMONY_HOP]
        win = np.hanning(CHROMA_N_FFT + 1)[:-1].astype(np.float32)
        freqs = np.arange(CHROMA_N_FFT // 2 + 1) * CHROMA_SR / CHROMA_N_FFT
        top = int(np.searchsorted(freqs, HARMONY_FMAX * 1.1)) + 16
        peaks = np.empty((frames.shape[0], top), np.float32)
        for i in range(0, frames.shape[0], 1024):
            x = scipy.fft.rfft(frames[i : i + 1024] * win, axis=1, workers=2)[:, :top]
            peaks[i : i + 1024] = _peaks(np.abs(x))
        tuning = _tuning(peaks, freqs[:top])
        midi = 69 + 12 * np.log2(np.maximum(freqs[:top], 1e-9) / 440.0) - tuning / 100.0
        ok = (freqs[:top] >= HARMONY_FMIN) & (freqs[:top] <= HARMONY_FMAX)
        fb = np.zeros((12, top), np.float32)
        for pc in range(12):
            d = np.abs(((midi - pc) + 6) % 12 - 6)
            fb[pc] = np.where(ok, np.maximum(0.0, 1.0 - d), 0.0)
        return np.ascontiguousarray((peaks @ fb.T).T), CHROMA_SR / HARMONY_HOP, tuning

    return frontend.get("key.harmony_chroma", compute)


def _tuning(peaks: np.ndarray, freqs: np.ndarray) -> float:
    """Tuning in cents from A = 440 Hz: circular mean of the local maxima's deviation from the
    nearest equal-tempered pitch (parabolic interpolation), weighted by their magnitude."""
    band = (freqs >= 100.0) & (freqs <= 2000.0)
    p = peaks[:, band]
    f = freqs[band]
    if p.shape[1] < 3 or not np.any(p > 0):
        return 0.0
    c = p[:, 1:-1]
    is_max = (c > p[:, :-2]) & (c >= p[:, 2:]) & (c > 0.05 * c.max())
    fr, bi = np.nonzero(is_max)
    if fr.size == 0:
        return 0.0
    a, b, g = p[fr, bi], p[fr, bi + 1], p[fr, bi + 2]
    den = a - 2 * b + g
    off = np.where(np.abs(den) > 1e-12, 0.5 * (a - g) / np.where(np.abs(den) > 1e-12, den, 1.0), 0.0)
    hz = f[bi + 1] + np.clip(off, -0.5, 0.5) * (f[1] - f[0])
    cents = 1200 * np.log2(hz / 440.0)
    ang = 2 * np.pi * cents / 100.0
    z = np.sum(b * np.exp(1j * ang))
    return float(np.angle(z) / (2 * np.pi) * 100.0) if abs(z) > 0 else 0.0


def estimate_key(audio: np.ndarray, sr: float, *, frontend: Frontend | None = None) -> KeyEstimate:
    """Estimate the key of a track.

    Parameters
    ----------
    audio : np.ndarray, float32, shape ``(channels, samples)`` or ``(samples,)``
        Audio (never modified).
    sr : float
        Sample rate, Hz.
    frontend : Frontend, optional
        Shared front-end of ``audio``.

    Returns
    -------
    KeyEstimate
        ``tonic`` (e.g. ``"A"``), ``mode`` (``"major"``/``"minor"``; modal music is reported as
        its major or minor family) and ``confidence`` (the winning correlation, ``[-1, 1]``; 0 for
        silence or audio without pitch content).
    """
    fe = frontend_for(audio, sr, frontend)
    if not has_drum_kit(fe):
        return _classic_key(fe)
    chroma, _, _ = harmony_chroma(fe)
    dist = _pitch_distribution(chroma)
    if dist is None or dist.std() < 1e-9:
        return KeyEstimate("C", "major", 0.0)
    roots = chord_roots(chroma)
    best_mode, best_tonic, best = "aeolian", 0, -np.inf
    for mode, s in mode_scores(dist).items():
        s = s + CHORD_W * roots[0 if MODES[mode][1] == 4 else 1]
        t = int(np.argmax(s))
        if s[t] > best:
            best_mode, best_tonic, best = mode, t, float(s[t])
    conf = float(np.clip(best - MODES[best_mode][3], -1.0, 1.0))
    return KeyEstimate(PITCH_CLASSES[best_tonic], MODES[best_mode][2], conf)


#: Flatness above 5 kHz (geometric over arithmetic mean of the mel bands, median loud frame) from
#: which :func:`has_drum_kit` hears a drum kit. Music with a kit measures 0.51-0.83 (the techno
#: fixtures, a country song, drum and bass), without one 0.00-0.31 (a string orchestra's bowing
#: noise is the highest): the middle of the gap.
DRUM_KIT_FLATNESS = 0.4


def has_drum_kit(frontend: Frontend) -> bool:
    """Noisy drums (hats, cymbals, claps) through the track: the spectrum above 5 kHz is flat
    (geometric over arithmetic mean of its mel bands >= :data:`DRUM_KIT_FLATNESS`) in the median
    loud frame; tonal instruments have peaky spectra there. Cached on the front-end (the key,
    the sections and the beat tracker all ask)."""
    from ..core.frontend import mel_centres

    def compute() -> bool:
        mel = frontend.spectral().mel
        if mel.shape[0] == 0:
            return False
        hi = mel[:, mel_centres() > 5000].astype(np.float64) + 1e-12
        total = mel.sum(axis=1)
        if not np.any(total > 0):
            return False
        loud = total > 1e-3 * np.percentile(total, 95)
        flat = np.exp(np.log(hi[loud]).mean(axis=1)) / hi[loud].mean(axis=1)
        return bool(np.median(flat) >= DRUM_KIT_FLATNESS)

    return frontend.get("has_drum_kit", compute)


def _pitch_distribution(chroma: np.ndarray) -> np.ndarray | None:
    """Pitch-class distribution ``(12,)`` of the loud frames (energy >= 10 % of the 90th
    percentile), each frame normalised and log-compressed; None for no frames or silence."""
    if chroma.shape[1] == 0:
        return None
    energy = chroma.sum(axis=0)
    if not np.any(energy > 1e-6):
        return None
    loud = energy >= 0.1 * np.percentile(energy, 90)
    c = chroma[:, loud] / np.maximum(energy[loud], 1e-9)
    return np.log1p(20.0 * c).mean(axis=1)


def _classic_key(fe: Frontend) -> KeyEstimate:
    """Krumhansl-Schmuckler with Temperley's profiles on the full-range chroma (55 Hz - 4.2 kHz)
    of the front-end, for music without a drum kit: between a key and its relative, when their
    correlations are within 0.15, the one whose tonic pitch class is more prominent wins."""
    chroma, _ = fe.chroma()
    dist = _pitch_distribution(chroma)
    if dist is None:
        return KeyEstimate("C", "major", 0.0)
    scores = key_scores(dist)
    best = int(np.argmax(scores))
    rel = (best % 12 + 9) % 12 + 12 if best < 12 else (best % 12 + 3) % 12
    if scores[best] - scores[rel] < 0.15 and dist[rel % 12] > dist[best % 12]:
        best = rel
    return KeyEstimate(PITCH_CLASSES[best % 12], "major" if best < 12 else "minor", float(scores[best]))


class KeyDetector(StreamedAnalyzer, AnalyzerNode):
    """Analyzer node: the key (:func:`estimate_key`); result is a :class:`KeyEstimate`."""

    type_name = "key_detector"
    provides = "key"

    def analyze(self, audio: np.ndarray, sample_rate: float, frontend: Frontend | None = None) -> Any:
        return estimate_key(audio, sample_rate, frontend=frontend)
