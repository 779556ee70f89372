"""Frame and bar features: intensity, pitch, timbre and loudness.

Everything comes from the shared front-end, so no extra STFT is taken:

* **intensity** -- onset strength (log-mel flux) and frame RMS;
* **pitch** -- the f0 of :func:`technob_fx.stages.pitch.track_pitch`, on the feature frames;
* **timbre** -- spectral centroid (Hz), spectral flatness and 13 MFCCs (DCT-II of the log-mel
  spectrogram, as librosa computes them);
* **loudness** -- BS.1770-4 / EBU R128 momentary (400 ms) and short-term (3 s) loudness every
  100 ms, and the gated integrated loudness (LUFS), from K-weighted block powers.

Per-bar values (means over each bar of the beat grid; the median pitch) sit beside the frame
values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.frontend import StreamedAnalyzer, frontend_for
from ..core.node import AnalyzerNode, Param, Result

if TYPE_CHECKING:
    from ..core.frontend import Frontend
    from ..core.results import BeatGrid
    from .pitch import PitchTrack

N_MFCC = 13


@dataclass
class Features(Result):
    """Frame-level and bar-level features of a track.

    Attributes
    ----------
    frame_rate : float
        Frames per second of the frame arrays (86.13).
    times : np.ndarray, ``(n_frames,)``
        Frame centre times, seconds.
    onset_strength, rms, centroid, flatness, f0 : np.ndarray, ``(n_frames,)``
        Onset strength (mean positive log-mel flux, dB), RMS (linear), spectral centroid (Hz),
        spectral flatness (0-1) and f0 (Hz, NaN unvoiced).
    mfcc : np.ndarray, ``(n_frames, 13)``
        Mel-frequency cepstral coefficients.
    loudness_rate : float
        Values per second of the loudness arrays (10).
    momentary_lufs, short_term_lufs : np.ndarray, ``(n_blocks,)``
        Loudness of the 400 ms / 3 s window ending at each 100 ms step, LUFS (-inf as ``-120``).
    integrated_lufs : float
        Gated integrated loudness, LUFS (``-120`` for silence).
    bar_times : np.ndarray, ``(n_bars,)``
        Bar start times, seconds.
    bar_onset, bar_rms_db, bar_centroid, bar_flatness, bar_lufs, bar_pitch : np.ndarray, ``(n_bars,)``
        Per-bar mean onset strength, RMS (dBFS), centroid (Hz), flatness, short-term loudness
        (LUFS) and median pitch of the voiced frames (MIDI, NaN when none).
    bar_mfcc : np.ndarray, ``(n_bars, 13)``
        Per-bar mean MFCCs.
    summary_values : dict or None
        The :meth:`summary` as stored in ``analysis.json``, kept when a file was read without its
        frame arrays (:func:`technob_fx.stages.analysis.read_analysis`); None: computed.
    """

    frame_rate: float
    times: np.ndarray
    onset_strength: np.ndarray
    rms: np.ndarray
    centroid: np.ndarray
    flatness: np.ndarray
    mfcc: np.ndarray
    f0: np.ndarray
    loudness_rate: float
    momentary_lufs: np.ndarray
    short_term_lufs: np.ndarray
    integrated_lufs: float
    bar_times: np.ndarray = field(default_factory=lambda: np.zeros(0))
    bar_onset: np.ndarray = field(default_factory=lambda: np.zeros(0))
    bar_rms_db: np.ndarray = field(default_factory=lambda: np.zeros(0))
    bar_centroid: np.ndarray = field(default_factory=lambda: np.zeros(0))
    bar_flatness: np.ndarray = field(default_factory=lambda: np.zeros(0))
    bar_lufs: np.ndarray = field(default_factory=lambda: np.zeros(0))
    bar_pitch: np.ndarray = field(default_factory=lambda: np.zeros(0))
    bar_mfcc: np.ndarray = field(default_factory=lambda: np.zeros((0, N_MFCC)))
    summary_values: dict[str, float] | None = None

    #: Names of the per-frame arrays (for ``.npz`` export).
    FRAME_KEYS = ("times", "onset_strength", "rms", "centroid", "flatness", "mfcc", "f0")
    BAR_KEYS = ("bar_times", "bar_onset", "bar_rms_db", "bar_centroid", "bar_flatness", "bar_lufs",
                "bar_pitch", "bar_mfcc")

    def summary(self) -> dict[str, float]:
        """Scalar summary: integrated loudness, loudness range, mean RMS/centroid/flatness/onset."""
        if self.summary_values is not None:
            return dict(self.summary_values)
        # EBU Tech 3342 loudness range: short-term values gated at -70 LUFS and 20 LU below their
        # power mean, 10th to 95th percentile
        st = self.short_term_lufs[self.short_term_lufs > -70]
        if st.size:
            rel = 10 * np.log10(np.mean(10 ** (st / 10))) - 20
            st = st[st > rel]
        lra = float(np.percentile(st, 95) - np.percentile(st, 10)) if st.size > 1 else 0.0
        rms_db = 20 * np.log10(max(float(np.sqrt(np.mean(self.rms.astype(np.float64) ** 2))) if self.rms.size else 0.0, 1e-6))
        voiced = np.isfinite(self.f0)
        return {
            "integrated_lufs": round(float(self.integrated_lufs), 2),
            "loudness_range_lu": round(lra, 2),
            "max_short_term_lufs": round(float(self.short_term_lufs.max()) if self.short_term_lufs.size else -120.0, 2),
            "rms_dbfs": round(rms_db, 2),
            "mean_centroid_hz": round(float(self.centroid.mean()) if self.centroid.size else 0.0, 1),
            "mean_flatness": round(float(self.flatness.mean()) if self.flatness.size else 0.0, 4),
            "mean_onset_strength": round(float(self.onset_strength.mean()) if self.onset_strength.size else 0.0, 4),
            "voiced_fraction": round(float(voiced.mean()) if voiced.size else 0.0, 3),
        }


def _lufs(power: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        out = -0.691 + 10 * np.log10(power)
    return np.where(np.isfinite(out), np.maximum(out, -120.0), -120.0)


def loudness(block_power: np.ndarray, rate: float) -> tuple[np.ndarray, np.ndarray, float]:
    """BS.1770-4 loudness from K-weighted mean squares of 100 ms blocks.

    Parameters
    ----------
    block_power : np.ndarray, ``(channels, n_blocks)``
        Mean square of the K-weighted signal per channel and 100 ms block.
    rate : float
        Blocks per second (10).

    Returns
    -------
    momentary : np.ndarray, ``(n_blocks,)``
        Loudness of the 400 ms ending at each block, LUFS.
    short_term : np.ndarray, ``(n_blocks,)``
        Loudness of the 3 s ending at each block, LUFS.
    integrated : float
        Gated integrated loudness (absolute gate -70 LUFS, relative gate -10 LU), LUFS; -120 when
        every block is below the absolute gate.
    """
    p = np.asarray(block_power, dtype=np.float64).sum(axis=0)  # channel weights 1.0
    nb = p.size
    if nb == 0:
        return np.zeros(0), np.zeros(0), -120.0
    cs = np.concatenate([[0.0], np.cumsum(p)])

    def window(n: int) -> np.ndarray:
        idx = np.arange(1, nb + 1)
        lo = np.maximum(idx - n, 0)
        return (cs[idx] - cs[lo]) / n

    m_pow = window(4)
    s_pow = window(30)
    # integrated: 400 ms gating blocks with 75 % overlap = the full 4-block windows
    g = m_pow[3:] if nb >= 4 else np.array([p.mean()])
    lk = _lufs(g)
    g = g[lk > -70.0]
    if g.size == 0:
        return _lufs(m_pow), _lufs(s_pow), -120.0
    rel = -0.691 + 10 * np.log10(g.mean()) - 10.0
    g2 = g[_lufs(g) > rel]
    integrated = float(-0.691 + 10 * np.log10(g2.mean())) if g2.size else -120.0
    return _lufs(m_pow), _lufs(s_pow), integrated


def mfcc_from_log_mel(log_mel: np.ndarray, n_mfcc: int = N_MFCC) -> np.ndarray:
    """DCT-II (orthonormal) of a ``(n_frames, n_mels)`` dB mel spectrogram -> ``(n_frames, n_mfcc)``."""
    import scipy.fft

    return scipy.fft.dct(log_mel.astype(np.float32), type=2, norm="ortho", axis=1)[:, :n_mfcc]


def interval_means(values: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Mean of the rows of ``values`` (``(n,)`` or ``(n, k)``) over each ``[idx[i], idx[i+1])``.

    Each interval covers at least one row (the last one when ``idx`` runs past ``n``); float64,
    ``(len(idx) - 1,)`` or ``(len(idx) - 1, k)``.
    """
    v = values.astype(np.float64)
    cs = np.concatenate([np.zeros((1,) + v.shape[1:]), np.cumsum(v, axis=0)])
    a, b = idx[:-1], np.maximum(idx[1:], idx[:-1] + 1)
    b = np.minimum(b, v.shape[0])
    a = np.minimum(a, np.maximum(b - 1, 0))
    cnt = np.maximum(b - a, 1).reshape((-1,) + (1,) * (v.ndim - 1))
    return (cs[b] - cs[a]) / cnt


def _bar_means(values: np.ndarray, times: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Mean of ``values`` over the frames whose ``times`` fall in each ``[edges[i], edges[i+1])``."""
    return interval_means(values, np.searchsorted(times, edges))


def extract_features(
    audio: np.ndarray,
    sr: float,
    *,
    grid: BeatGrid | None = None,
    pitch: PitchTrack | None = None,
    frontend: Frontend | None = None,
) -> Features:
    """Frame- and bar-level features (intensity, pitch, timbre, loudness).

    Parameters
    ----------
    audio : np.ndarray, float32, shape ``(channels, samples)`` or ``(samples,)``
        Audio (never modified).
    sr : float
        Sample rate, Hz.
    grid : BeatGrid, optional
        Beat grid for the per-bar values (tracked when absent; no bar values for beatless audio).
    pitch : PitchTrack, optional
        Pitch track (computed when absent).
    frontend : Frontend, optional
        Shared front-end of ``audio``.

    Returns
    -------
    Features
    """
    from .beats import track_beats
    from .pitch import track_pitch

    fe = frontend_for(audio, sr, frontend)
    spec = fe.spectral()
    times = fe.frame_times()
    n = times.size
    onset = np.asarray(fe.onset_envelope(), dtype=np.float64)
    mf = mfcc_from_log_mel(fe.log_mel())
    if pitch is None:
        pitch = track_pitch(fe.audio, fe.sample_rate, frontend=fe)
    if pitch.times.size:
        idx = np.clip(np.searchsorted(pitch.times, times), 0, pitch.times.size - 1)
        f0 = pitch.f0[idx]
    else:
        f0 = np.full(n, np.nan)
    power, rate = fe.loudness_blocks()
    mom, short, integ = loudness(power, rate)
    if grid is None:
        grid = track_beats(fe.audio, fe.sample_rate, frontend=fe)
    out = Features(
        frame_rate=float(fe.fps), times=times, onset_strength=onset, rms=spec.rms.astype(np.float64),
        centroid=spec.centroid.astype(np.float64), flatness=spec.flatness.astype(np.float64),
        mfcc=mf.astype(np.float64), f0=f0.astype(np.float64), loudness_rate=float(rate),
        momentary_lufs=mom, short_term_lufs=short, integrated_lufs=float(integ),
    )
    db = grid.downbeats
    if db.size >= 1:
        bar_len = float(np.median(np.diff(db))) if db.size > 1 else 4 * 60.0 / max(grid.tempo, 1e-3)
        edges = np.append(db, min(db[-1] + bar_len, fe.duration))
        if edges[-1] <= edges[-2]:
            edges = edges[:-1]
        if edges.size >= 2:
            rms_db = 20 * np.log10(np.maximum(spec.rms.astype(np.float64), 1e-6))
            out.bar_times = edges[:-1].copy()
            out.bar_onset = _bar_means(onset, times, edges)
            out.bar_rms_db = _bar_means(rms_db, times, edges)
            out.bar_centroid = _bar_means(out.centroid, times, edges)
            out.bar_flatness = _bar_means(out.flatness, times, edges)
            out.bar_mfcc = _bar_means(out.mfcc, times, edges)
            ltimes = (np.arange(short.size) + 1) / rate  # end time of each loudness window
            out.bar_lufs = _bar_means(short, ltimes, edges + 3.0)  # windows ending within bar + 3 s
            midi = 69 + 12 * np.log2(np.where(np.isfinite(f0), f0, 1.0) / 440.0)
            bp = np.full(edges.size - 1, np.nan)
            fi = np.searchsorted(times, edges)
            for i in range(edges.size - 1):
                seg = midi[fi[i] : fi[i + 1]][np.isfinite(f0[fi[i] : fi[i + 1]])]
                if seg.size:
                    bp[i] = float(np.median(seg))
            out.bar_pitch = bp
    return out


class FeatureExtractor(StreamedAnalyzer, AnalyzerNode):
    """Analyzer node: frame and bar features (:func:`extract_features`); result is :class:`Features`.

    In a chain the bars come from the beat tracker before it and the pitch from the pitch tracker
    before it (``needs = ("grid", "pitch")``); what no earlier analyzer provides is computed here.
    """

    type_name = "features"
    needs = ("grid", "pitch")
    provides = "features"
    per_bar = Param(bool, True, doc="also compute per-bar means (tracks beats)")

    def analyze(self, audio: np.ndarray, sample_rate: float, frontend: Frontend | None = None) -> Any:
        from ..core.results import BeatGrid

        grid = self.inputs.get("grid") if self.per_bar else BeatGrid(np.zeros(0), np.zeros(0), 0.0)
        return extract_features(audio, sample_rate, grid=grid, pitch=self.inputs.get("pitch"), frontend=frontend)
