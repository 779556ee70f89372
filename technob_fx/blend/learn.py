"""What the generator learns from a dataset: Lo-Fi groove, hits and tone; classical phrases.

:func:`learn` reads the chunk WAVs listed in ``manifest.csv`` and measures

Lo-Fi (genre ``lofi``)
    - tempo range: 10th/50th/90th percentile of the chunk tempos folded into 60-120 BPM;
    - swing ratio: median beat phase of percussive onsets between the beat and the next
      (0.5 straight, 0.67 triplet swing), on the beat grid aligned to the onsets (the tracker's
      lag would otherwise read as swing);
    - per-bar drum patterns: onsets of the percussive part (HPSS) labelled kick, snare or hat
      by their sound (:func:`technob_fx.blend.drums.drum_onsets`: nearest synthesised template;
      bass and other tonal onsets are dropped) into the ``low`` / ``mid`` / ``high`` slots,
      quantised to the 16 swung steps of each 4-beat bar; the most frequent binary patterns
      are kept with their mean velocities and counts;
    - one-shot hits: the strongest, most band-dominant onsets of each band sliced from the
      percussive part (kick-, snare- and hat-like hits of the recordings themselves);
    - tone: the mean power spectrum (dB) of the Lo-Fi chunks and of the classical chunks; their
      smoothed difference is the EQ curve the generator applies;
    - loudness: median integrated loudness (LUFS).

Classical (genre ``classical``)
    - phrases: 8-beat (two-bar) windows on the tracked beat grid of each chunk, with their tempo,
      key (the chunk's key, or the key stage's profiles on the phrase chroma) and harmony (one
      triad per beat from beat-synchronous chroma of the key stage); only phrases above -35 dB RMS are kept.

The model is ``model.json`` (numbers, patterns, phrases as references into the chunk WAVs) and
``model.npz`` (hits and tone curves) in the dataset folder, both written atomically.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import ParameterError, PathError
from ..core.progress import ProgressCallback
from ..stages.key import PITCH_CLASSES
from . import _analysis

MODEL_JSON = "model.json"
MODEL_NPZ = "model.npz"
#: Drum bands: name -> (low Hz, high Hz).
BANDS: dict[str, tuple[float, float]] = {"low": (30.0, 150.0), "mid": (200.0, 1800.0), "high": (2500.0, 1e9)}
#: Slice length of a one-shot hit per band, s.
HIT_SECONDS = {"low": 0.35, "mid": 0.25, "high": 0.12}
STEPS = 16
#: Bars with fewer drum hits (velocity >= 0.35, all three slots) are left out of the patterns.
MIN_BAR_HITS = 3
#: Tempi are folded into ``[60, TEMPO_MAX)`` BPM (a 130-BPM hip-hop beat stays 130).
TEMPO_MAX = 145.0
#: The "high frequency" share of the spectral balance: energy above this, Hz.
HF_SPLIT = 5000.0
PHRASE_BEATS = 8
N_FFT = 2048
HOP = 256


def step_phases(swing: float) -> np.ndarray:
    """Beat phase of each 16th step within a beat with the off-beat 8th at ``swing``.

    Returns
    -------
    np.ndarray, shape ``(4,)``
        ``[0, swing/2, swing, (1+swing)/2]``.
    """
    return np.array([0.0, swing / 2.0, swing, (1.0 + swing) / 2.0])


@dataclass
class Model:
    """A learned model (see the module docstring for what each part means).

    Attributes
    ----------
    sample_rate : float
        Hz of the hits and of the chunk audio.
    tempo : dict
        ``{"p10", "p50", "p90"}`` Lo-Fi tempo, BPM.
    swing : float
        Lo-Fi swing ratio.
    patterns : np.ndarray, shape ``(k, 3, 16)``
        Velocities 0..1 per band (low, mid, high) and 16th step.
    pattern_counts : list of int
        Bars that had each pattern.
    hits : dict
        ``{band: [np.ndarray (samples,), ...]}`` one-shots.
    tone_freqs : np.ndarray, shape ``(n_fft // 2 + 1,)``
        Hz.
    tone_db : dict
        ``{genre: np.ndarray}`` mean power spectrum, dB.
    phrases : list of dict
        ``{"wav", "start", "end", "tempo", "tonic", "mode", "chords", "rms_db", "source"}``.
    loudness : dict
        ``{genre: median LUFS}``.
    info : dict
        Counts, fingerprint of the manifest.
    score : dict
        The sequence models (:meth:`technob_fx.blend.compose.ScoreModel.to_dict`).
    samples : dict
        ``{genre: [(MIDI pitch, float32 (n,)), ...]}`` note samples cut from the recordings.
    sample_info : dict
        ``{genre: [{"source", "at", "seconds"}, ...]}`` where each sample was cut.
    hf_ratio : dict
        ``{genre: median share of energy above 5 kHz}`` of the chunks.
    """

    sample_rate: float
    tempo: dict[str, float]
    swing: float
    patterns: np.ndarray
    pattern_counts: list[int]
    hits: dict[str, list[np.ndarray]]
    tone_freqs: np.ndarray
    tone_db: dict[str, np.ndarray]
    phrases: list[dict]
    loudness: dict[str, float]
    info: dict[str, Any] = field(default_factory=dict)
    score: dict[str, Any] = field(default_factory=dict)
    samples: dict[str, list[tuple[int, np.ndarray]]] = field(default_factory=dict)
    sample_info: dict[str, list[dict]] = field(default_factory=dict)
    hf_ratio: dict[str, float] = field(default_factory=dict)

    def eq_curve(self, max_db: float = 18.0) -> np.ndarray:
        """Lo-Fi minus classical tone, smoothed over 1/3 octave, 0 dB at 500 Hz, clipped.

        Returns
        -------
        np.ndarray, shape like ``tone_freqs``, dB
        """
        lo = self.tone_db.get("lofi")
        cl = self.tone_db.get("classical")
        if lo is None or cl is None:
            return np.zeros_like(self.tone_freqs)
        diff = lo - cl
        f = np.maximum(self.tone_freqs, 1.0)
        out = np.empty_like(diff)
        for i, fc in enumerate(f):
            m = (f >= fc / 2 ** (1 / 6)) & (f <= fc * 2 ** (1 / 6))
            out[i] = diff[m].mean() if m.any() else diff[i]
        out -= np.interp(500.0, f, out)
        return np.clip(out, -max_db, max_db)

    def save(self, out_dir: str | Path) -> Path:
        """Write ``model.json`` and ``model.npz`` atomically; returns the json path."""
        from ..core.io import atomic_write_bytes, atomic_write_text

        out_dir = Path(out_dir)
        arrays: dict[str, np.ndarray] = {"patterns": self.patterns.astype(np.float32),
                                         "tone_freqs": self.tone_freqs.astype(np.float32)}
        for g, v in self.tone_db.items():
            arrays[f"tone_{g}"] = v.astype(np.float32)
        for band, hs in self.hits.items():
            for i, h in enumerate(hs):
                arrays[f"hit_{band}_{i}"] = h.astype(np.float32)
        for g, ss in self.samples.items():
            for i, (_, x) in enumerate(ss):
                arrays[f"smp_{g}_{i}"] = np.asarray(x, np.float32)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        atomic_write_bytes(out_dir / MODEL_NPZ, buf.getvalue())
        meta = {"sample_rate": self.sample_rate, "tempo": self.tempo, "swing": self.swing,
                "pattern_counts": self.pattern_counts, "tone_genres": sorted(self.tone_db),
                "hits": {b: len(h) for b, h in self.hits.items()}, "loudness": self.loudness,
                "phrases": self.phrases, "info": self.info, "score": self.score,
                "samples": {g: [int(p) for p, _ in ss] for g, ss in self.samples.items()},
                "sample_info": self.sample_info, "hf_ratio": self.hf_ratio,
                "patterns_readable": [_pattern_text(p) for p in self.patterns]}
        return atomic_write_text(out_dir / MODEL_JSON, json.dumps(meta, indent=1) + "\n")

    @classmethod
    def load(cls, out_dir: str | Path) -> Model:
        """Read a model saved by :meth:`save`.

        Raises
        ------
        PathError
            No model in ``out_dir``.
        """
        out_dir = Path(out_dir)
        if not (out_dir / MODEL_JSON).exists() or not (out_dir / MODEL_NPZ).exists():
            raise PathError(f"{out_dir}: no learned model; run `technob dataset learn {out_dir}`")
        meta = json.loads((out_dir / MODEL_JSON).read_text())
        with np.load(out_dir / MODEL_NPZ) as z:
            arrays = {k: z[k] for k in z.files}
        hits = {b: [arrays[f"hit_{b}_{i}"] for i in range(n)] for b, n in meta["hits"].items()}
        samples = {g: [(int(p), arrays[f"smp_{g}_{i}"]) for i, p in enumerate(ps)]
                   for g, ps in meta.get("samples", {}).items()}
        return cls(
            sample_rate=float(meta["sample_rate"]), tempo=meta["tempo"], swing=float(meta["swing"]),
            patterns=arrays["patterns"], pattern_counts=list(meta["pattern_counts"]), hits=hits,
            tone_freqs=arrays["tone_freqs"],
            tone_db={g: arrays[f"tone_{g}"] for g in meta["tone_genres"]},
            phrases=meta["phrases"], loudness=meta["loudness"], info=meta["info"],
            score=meta.get("score", {}), samples=samples, sample_info=meta.get("sample_info", {}),
            hf_ratio=meta.get("hf_ratio", {}),
        )


def _pattern_text(p: np.ndarray) -> dict[str, str]:
    return {b: "".join("x" if v >= 0.5 else ("o" if v > 0 else ".") for v in p[i])
            for i, b in enumerate(BANDS)}


# --------------------------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------------------------


def percussive(mono: np.ndarray, sr: float) -> np.ndarray:
    """Percussive part of a mono signal (:class:`technob_fx.stages.hpss.HarmonicPercussive`).

    Returns
    -------
    np.ndarray, float32, shape like ``mono``
    """
    from ..stages.hpss import HarmonicPercussive

    return HarmonicPercussive(margin_percussive=2.0).split(mono, sr)["percussive"]


def band_onsets(perc: np.ndarray, sr: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Onsets of the percussive signal in each of :data:`BANDS`.

    Returns
    -------
    dict
        ``{band: (times s, strengths 0..1)}``; strengths relative to the band's strongest onset.
    """
    import librosa

    S = np.abs(librosa.stft(perc, n_fft=N_FFT, hop_length=HOP)) ** 2
    freqs = librosa.fft_frequencies(sr=sr, n_fft=N_FFT)
    out = {}
    for band, (lo, hi) in BANDS.items():
        m = (freqs >= lo) & (freqs < hi)
        if not m.any():
            out[band] = (np.zeros(0), np.zeros(0))
            continue
        e = 10.0 * np.log10(S[m].sum(axis=0) + 1e-10)
        flux = np.maximum(0.0, np.diff(e, prepend=e[:1]))
        if flux.max() <= 0:
            out[band] = (np.zeros(0), np.zeros(0))
            continue
        flux = flux / flux.max()
        wait = max(1, int(0.07 * sr / HOP))
        peaks = librosa.util.peak_pick(flux, pre_max=3, post_max=3, pre_avg=10, post_avg=10,
                                       delta=0.12, wait=wait)
        level = e[np.minimum(peaks + 2, e.size - 1)]
        keep = level > e.max() - 30.0
        peaks = peaks[keep]
        out[band] = (peaks * HOP / sr, flux[peaks])
    return out


def _folded_beats(tempo: float, beats: np.ndarray) -> tuple[float, np.ndarray]:
    folded = _analysis.fold_tempo(tempo, 60.0, TEMPO_MAX)
    if beats.size < 2 or tempo <= 0:
        return folded, beats
    r = folded / tempo
    if r < 0.75:  # half time: every other beat
        step = int(round(1 / r))
        return folded, beats[::step]
    if r > 1.5:  # double time: subdivide
        k = int(round(r))
        sub = [beats[:-1] + (beats[1:] - beats[:-1]) * j / k for j in range(k)]
        return folded, np.sort(np.concatenate(sub + [beats[-1:]]))
    return folded, beats


def align_grid(onsets: np.ndarray, beats: np.ndarray, anchors: np.ndarray | None = None,
               weights: np.ndarray | None = None) -> np.ndarray:
    """Shift a beat grid onto the onsets that fall near its beats.

    With ``anchors`` (kick and snare onsets, ``weights`` their strengths), a grid whose beats sit
    more than 0.15 beat away from where the anchors cluster (the strength-weighted peak of their
    beat phases, smoothed over +-0.04 beat: a tracker locked to the swung off-beats) is first moved
    there.

    Beat trackers place beats at a consistent lag or lead from the percussive attacks (30-50 ms
    here); left in, that lag reads as swing. The shift is the median phase (in beats, within
    +-0.15) of the onsets nearest to each beat.

    Returns
    -------
    np.ndarray, shape like ``beats``
        Seconds, a new array.
    """
    if beats.size < 2 or onsets.size == 0:
        return beats.copy()
    i = np.clip(np.searchsorted(beats, onsets) - 1, 0, beats.size - 2)
    period = beats[i + 1] - beats[i]
    ph = np.mod((onsets - beats[i]) / period, 1.0)
    if anchors is not None and anchors.size:  # the beat is where kick and snare hit most
        j = np.clip(np.searchsorted(beats, anchors) - 1, 0, beats.size - 2)
        pa = np.mod((anchors - beats[j]) / (beats[j + 1] - beats[j]), 1.0)
        w = np.ones_like(pa) if weights is None else np.asarray(weights, float)
        cand = np.arange(100) / 100.0
        d = np.abs(cand[:, None] - pa[None, :])
        d = np.minimum(d, 1.0 - d)  # circular
        peak = float(cand[int(np.argmax((w[None, :] * np.exp(-(d / 0.04) ** 2)).sum(axis=1)))])
        if min(peak, 1.0 - peak) > 0.15:  # the tracker sits off the beat (e.g. on swung "ands")
            beats = beats + (peak if peak <= 0.5 else peak - 1.0) * np.median(np.diff(beats))
            i = np.clip(np.searchsorted(beats, onsets) - 1, 0, beats.size - 2)
            ph = np.mod((onsets - beats[i]) / (beats[i + 1] - beats[i]), 1.0)
    ph = np.where(ph > 0.5, ph - 1.0, ph)
    near = np.abs(ph) < 0.15
    if not near.any():
        return beats.copy()
    shift = float(np.median(ph[near]))
    return beats + shift * np.median(np.diff(beats))


def swing_ratio(onsets: np.ndarray, beats: np.ndarray) -> list[float]:
    """Beat phases in ``(0.3, 0.85)`` of ``onsets`` (the off-beat 8ths) on a beat grid."""
    out = []
    for t in onsets:
        i = np.searchsorted(beats, t) - 1
        if 0 <= i < beats.size - 1:
            ph = (t - beats[i]) / (beats[i + 1] - beats[i])
            if 0.3 < ph < 0.85:
                out.append(float(ph))
    return out


def bar_patterns(onsets: dict[str, tuple[np.ndarray, np.ndarray]], beats: np.ndarray,
                 swing: float) -> list[np.ndarray]:
    """Per-bar ``(3, 16)`` velocity grids of band onsets on a beat grid.

    The bar phase (which beat is "one") is the one that puts the most low-band onsets on step 0.
    """
    if beats.size < 5:
        return []
    phases = step_phases(swing)
    grid_t = []  # times of every 16th step
    for i in range(beats.size - 1):
        grid_t.extend(beats[i] + phases * (beats[i + 1] - beats[i]))
    grid_t = np.asarray(grid_t)
    tol = 0.3 * np.median(np.diff(beats)) / 4
    steps = {}
    for b, (times, strengths) in onsets.items():
        idx = np.abs(grid_t[None, :] - times[:, None]).argmin(axis=1) if times.size else np.zeros(0, int)
        ok = np.abs(grid_t[idx] - times) < tol if times.size else np.zeros(0, bool)
        steps[b] = (idx[ok], strengths[ok])
    low_idx = steps["low"][0]
    offset = int(np.argmax([np.sum(low_idx % 16 == 4 * k) for k in range(4)])) * 4
    n_bars = (grid_t.size - offset) // STEPS
    pats = []
    for bar in range(n_bars):
        p = np.zeros((len(BANDS), STEPS), np.float32)
        lo = offset + bar * STEPS
        for bi, b in enumerate(BANDS):
            idx, st = steps[b]
            m = (idx >= lo) & (idx < lo + STEPS)
            for j, s in zip(idx[m] - lo, st[m]):
                p[bi, j] = max(p[bi, j], float(s))
        if p.max() > 0:
            pats.append(np.minimum(1.0, p / p.max() * 1.2))
    return pats


_TRIADS = [(r, q, np.roll(np.array(t, float), r)) for r in range(12)
           for q, t in (("", [1, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0]), ("m", [1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0]))]


def chord_of(chroma: np.ndarray) -> str:
    """Best-matching major/minor triad of a 12-bin chroma vector, e.g. ``"F#m"``."""
    c = chroma / max(float(np.linalg.norm(chroma)), 1e-9)
    best = max(_TRIADS, key=lambda t: float(c @ t[2]) / np.sqrt(3))
    return f"{PITCH_CLASSES[best[0]]}{best[1]}"


def classical_phrases(mono: np.ndarray, sr: float, *, wav: str, source: str, offset: float = 0.0,
                      key: str = "") -> list[dict]:
    """8-beat phrases of a classical chunk with tempo, key and per-beat chords.

    ``key`` (``"G minor"``, the chunk's key from the analysis) is every phrase's key when given; a
    two-bar estimate with the key stage's profiles otherwise (unreliable: a phrase on the dominant
    reads as another key). The chroma is the key stage's harmony chroma
    (:func:`technob_fx.stages.key.harmony_chroma`, 93 ms hop), the one the key of the chunk comes from.
    """
    from ..core.frontend import CHROMA_N_FFT, CHROMA_SR, Frontend
    from ..stages.key import harmony_chroma

    # one front-end for the grid, the downbeats and the chroma (the grid is tracked once)
    fe = Frontend(np.asarray(mono, np.float32)[np.newaxis, :], sr)
    tempo, beats = _analysis.beat_times(mono, sr, frontend=fe)
    tempo, beats = _folded_beats(tempo, beats)
    if beats.size < 5:  # no usable grid: beats at 90 BPM
        beats = np.arange(0.0, mono.size / sr, 60.0 / 90.0)
    nb = PHRASE_BEATS if beats.size > PHRASE_BEATS else 4  # short chunks: one-bar phrases
    first = 0  # phrases start on the first downbeat (cuts on bar lines)
    if mono.size >= 2 * sr and float(np.abs(mono).max()) > 1e-4:
        down = np.asarray(_analysis.chunk_grid(mono, sr, fe).downbeats, float)
        if down.size:
            first = int(np.argmin(np.abs(beats - down[0])))
            first = first % 4 if beats.size - first < nb + 1 else first
    chroma, rate, _ = harmony_chroma(fe)
    ct = np.arange(chroma.shape[1]) / rate + 0.5 * CHROMA_N_FFT / CHROMA_SR  # frame centres

    def edge(t0: float, t1: float) -> tuple[list[float], float]:
        m = (ct >= t0) & (ct < t1)
        c = chroma[:, m].mean(axis=1) if m.any() else np.zeros(12)
        seg = mono[int(t0 * sr): int(t1 * sr)]
        db = 20 * np.log10(max(float(np.sqrt(np.mean(seg ** 2))) if seg.size else 0.0, 1e-9))
        return [round(float(v), 4) for v in c], round(float(db), 2)

    out = []
    for i in range(first, beats.size - nb, nb):
        s, e = beats[i], beats[i + nb]
        seg = mono[int(s * sr): int(e * sr)]
        if seg.size < sr:
            continue
        rms_db = 20 * np.log10(max(float(np.sqrt(np.mean(seg ** 2))), 1e-9))
        if rms_db < -35.0:
            continue
        m = (ct >= s) & (ct < e)
        if not m.any():
            continue
        tonic, mode, r = _analysis.key_from_chroma(chroma[:, m].mean(axis=1))
        if key and len(key.split()) == 2 and key.split()[0] in PITCH_CLASSES:
            tonic, mode = PITCH_CLASSES.index(key.split()[0]), key.split()[1]
        chords = []
        for j in range(nb):
            mb = (ct >= beats[i + j]) & (ct < beats[i + j + 1])
            chords.append(chord_of(chroma[:, mb].mean(axis=1)) if mb.any() else chords[-1] if chords else "")
        out.append({"wav": wav, "source": source, "start": round(float(s), 4), "end": round(float(e), 4),
                    "source_time": round(offset + float(s), 3),
                    "tempo": round(60.0 * nb / float(e - s), 2), "beats": [round(float(b - s), 4) for b in beats[i: i + nb + 1]],
                    "tonic": int(tonic),
                    "mode": mode, "key_corr": round(r, 3), "chords": chords, "rms_db": round(rms_db, 2),
                    **dict(zip(("chroma_in", "db_in"), edge(s, beats[i + 1]))),
                    **dict(zip(("chroma_out", "db_out"), edge(beats[i + nb - 1], e)))})
    return out


def cluster_patterns(pats: list[np.ndarray], max_distance: int = 5) -> list[list[np.ndarray]]:
    """Group bar patterns whose binary grids (velocity >= 0.35) differ in at most
    ``max_distance`` of the 48 band-steps from the group's first member (greedy, in order).

    Returns
    -------
    list of list of np.ndarray
        Groups in order of creation.
    """
    groups: list[list[np.ndarray]] = []
    keys: list[np.ndarray] = []
    for p in pats:
        b = p >= 0.35
        for k, g in zip(keys, groups):
            if int(np.sum(k != b)) <= max_distance:
                g.append(p)
                break
        else:
            keys.append(b)
            groups.append([p])
    return groups


def hf_ratio(mono: np.ndarray, sr: float) -> float:
    """Share of the energy above :data:`HF_SPLIT` (5 kHz) in the mean power spectrum of ``mono``.

    Returns
    -------
    float in ``[0, 1]``; 0 for silence or a signal shorter than one 2048-sample frame.
    """
    x = np.asarray(mono, np.float64)
    if x.size < N_FFT:
        return 0.0
    hop = N_FFT // 2
    n = 1 + (x.size - N_FFT) // hop
    idx = np.arange(N_FFT)[None, :] + hop * np.arange(n)[:, None]
    P = (np.abs(np.fft.rfft(x[idx] * np.hanning(N_FFT), axis=1)) ** 2).sum(axis=0)
    f = np.fft.rfftfreq(N_FFT, 1.0 / sr)
    tot = float(P.sum())
    return float(P[f >= HF_SPLIT].sum() / tot) if tot > 0 else 0.0


def _spectrum_db(mono: np.ndarray) -> np.ndarray:
    import librosa

    S = np.abs(librosa.stft(mono, n_fft=N_FFT, hop_length=N_FFT // 2)) ** 2
    return S.mean(axis=1)


def _hit_candidates(perc: np.ndarray, sr: float, onsets: dict, limit: int = 6) -> list[tuple[float, str, np.ndarray]]:
    from scipy.signal import butter, sosfiltfilt

    out = []
    for band, (times, st) in onsets.items():
        lo, hi = BANDS[band]
        sos = butter(2, [lo, min(hi, sr / 2 * 0.95)] if hi < sr / 2 else lo, btype="band" if hi < sr / 2 else "high",
                     fs=sr, output="sos")
        n = int(HIT_SECONDS[band] * sr)
        for t, s in sorted(zip(times, st), key=lambda x: -x[1])[:limit]:
            a = int(max(0.0, t - 0.005) * sr)
            seg = perc[a: a + n]
            if seg.size < n // 2:
                continue
            head = seg[: int(0.05 * sr)]
            e_all = float(np.sum(head ** 2)) + 1e-12
            e_band = float(np.sum(sosfiltfilt(sos, head) ** 2)) if head.size > 15 else 0.0
            score = s * e_band / e_all * np.sqrt(e_all)
            out.append((score, band, seg.copy()))
    return out


def _finish_hit(seg: np.ndarray, sr: float) -> np.ndarray:
    fade = np.ones(seg.size, np.float32)
    k = min(seg.size, int(0.03 * sr))
    fade[-k:] = np.linspace(1.0, 0.0, k)
    fade[: min(32, seg.size)] *= np.linspace(0.0, 1.0, min(32, seg.size))
    h = (seg * fade).astype(np.float32)
    return (h / max(float(np.abs(h).max()), 1e-6) * 0.9).astype(np.float32)


def manifest_fingerprint(dataset: str | Path) -> str:
    """sha1 of ``manifest.csv`` (a model learned from another manifest is stale)."""
    p = Path(dataset) / "manifest.csv"
    return hashlib.sha1(p.read_bytes()).hexdigest()[:16] if p.exists() else ""


def learn(
    dataset: str | Path,
    *,
    max_chunks: int = 60,
    hits_per_band: int = 4,
    max_patterns: int = 8,
    samples_per_genre: int = 24,
    score: bool = True,
    drums: str = "sound",
    sequence: str = "ngram",
    save: bool = True,
    progress: ProgressCallback | None = None,
) -> Model:
    """Learn the Lo-Fi groove/tone and the classical phrases of a dataset.

    Parameters
    ----------
    dataset : path
        A folder built by :func:`technob_fx.blend.dataset.build_dataset` with genres ``lofi``
        and ``classical``.
    max_chunks : int
        At most this many chunks per genre are analysed (evenly spread, deterministic).
    hits_per_band : int
        One-shots kept per band.
    max_patterns : int
        Drum patterns kept.
    samples_per_genre : int
        Note samples kept per genre (see :func:`technob_fx.blend.instruments.cut_samples`).
    score : bool
        Transcribe the chunks and learn the sequence models and note samples
        (:mod:`technob_fx.blend.compose`); the generative mode needs them, slice mode does not.
    drums : {"sound", "band"}
        How Lo-Fi onsets become kick/snare/hat: by their sound (:mod:`technob_fx.blend.drums`)
        or by band energy alone (:func:`band_onsets`, the former method).
    sequence : {"ngram", "gru"}
        The chord sequence model the generator samples (:func:`technob_fx.blend.compose.learn_score`;
        stored in ``model.json``).
    save : bool
        Write ``model.json`` / ``model.npz`` into ``dataset``.
    progress : callable, optional
        ``progress(fraction, message)``.

    Returns
    -------
    Model

    Raises
    ------
    PathError
        No manifest, or a genre is missing.
    """
    from ..core.io import read_audio
    from .compose import SEQUENCE_MODELS
    from .dataset import load_config, read_manifest

    if sequence not in SEQUENCE_MODELS:
        raise ParameterError(f"sequence must be one of {', '.join(SEQUENCE_MODELS)}, got {sequence!r}")
    dataset = Path(dataset)
    config = load_config(dataset)
    rows = read_manifest(dataset)
    sr = config.sample_rate
    by_genre: dict[str, list[dict]] = {}
    for r in rows:
        by_genre.setdefault(r["genre"], []).append(r)
    for g in ("lofi", "classical"):
        if g not in by_genre:
            raise PathError(f"{dataset}: no {g!r} chunks in the manifest; build with --genre {g} DIR")
    picked = {g: [rs[i] for i in np.unique(np.linspace(0, len(rs) - 1, min(max_chunks, len(rs))).astype(int))]
              for g, rs in by_genre.items()}
    total = sum(len(v) for v in picked.values())
    done = 0
    tempos, swings, pats, hits, lufs = [], [], [], [], {}
    spectra: dict[str, list[np.ndarray]] = {}
    phrases: list[dict] = []
    analysed: list[tuple[str, dict]] = []
    cuts: dict[str, list] = {}
    hf: dict[str, list[float]] = {}
    for genre, rs in picked.items():
        for r in rs:
            audio, _ = read_audio(dataset / r["wav"], sr)
            audio = audio[:, : r["real_samples"]]
            mono = audio.mean(axis=0)
            lufs.setdefault(genre, []).append(r["loudness"])
            if mono.size >= N_FFT:
                spectra.setdefault(genre, []).append(_spectrum_db(mono) * mono.size)  # weight by length
                hf.setdefault(genre, []).append(hf_ratio(mono, sr))
            harmonic = mono
            if genre == "lofi" and mono.size >= 2 * sr:
                from ..stages.hpss import HarmonicPercussive

                parts = HarmonicPercussive(margin_percussive=2.0).split(mono, sr)
                perc, harmonic = parts["percussive"], parts["harmonic"]
            if score and mono.size >= 4 * sr and float(np.abs(mono).max()) > 1e-3:
                from .compose import analyse_chunk
                from .instruments import cut_samples

                a = analyse_chunk(audio, sr, genre)
                analysed.append((genre, a))
                cuts.setdefault(genre, []).extend(cut_samples(harmonic, sr, a["notes"], source=r["source"]))
            if genre == "lofi" and mono.size >= 2 * sr:
                tempo, beats = _analysis.beat_times(mono, sr)
                tempo, beats = _folded_beats(tempo, beats)
                from .drums import drum_onsets

                # kick/snare/hat by their sound (default), or by band energy alone
                ons = drum_onsets(perc, sr) if drums == "sound" else band_onsets(perc, sr)
                if tempo > 0 and beats.size >= 5:
                    tempos.append(tempo)
                    all_on = np.concatenate([ons[b][0] for b in BANDS])
                    beats = align_grid(all_on, beats, np.concatenate([ons["low"][0], ons["mid"][0]]),
                                       np.concatenate([ons["low"][1], ons["mid"][1]]))
                    phases = swing_ratio(all_on, beats)
                    swings.extend(phases)
                    sw = float(np.median(phases)) if phases else 0.5
                    pats.extend(bar_patterns(ons, beats, min(max(sw, 0.5), 0.75)))
                hits.extend(_hit_candidates(perc, sr, ons))
            elif genre == "classical" and mono.size >= 2 * sr:
                phrases.extend(classical_phrases(mono, sr, wav=r["wav"], source=r["source"], offset=r["offset"],
                                                 key=r.get("key", "")))
            done += 1
            if progress:
                progress(done / total, f"{genre} {r['chunk_id']}")
    swing = float(np.clip(np.median(swings), 0.5, 0.75)) if swings else 0.5
    # drum patterns: most frequent binary shapes with mean velocities, of bars with a groove
    # (MIN_BAR_HITS hits or more: a bar with one or two found hits is a break or a miss, and
    # averaging sparse bars together yields empty patterns); an empty mean pattern is not kept
    pats = [p for p in pats if int(np.sum(p >= 0.35)) >= MIN_BAR_HITS]
    ranked = [g for g in sorted(cluster_patterns(pats), key=lambda g: -len(g))
              if np.any(np.mean(g, axis=0) >= 0.35)][:max_patterns]
    patterns = (np.stack([np.mean(g, axis=0) * (np.mean(g, axis=0) >= 0.2) for g in ranked]).astype(np.float32)
                if ranked else _default_patterns())
    counts = [len(g) for g in ranked] if ranked else [1] * len(patterns)
    # one-shots: best-scoring per band
    chosen: dict[str, list[np.ndarray]] = {}
    for _score, band, seg in sorted(hits, key=lambda h: -h[0]):
        if len(chosen.setdefault(band, [])) < hits_per_band:
            chosen[band].append(_finish_hit(seg, sr))
    for band in BANDS:
        if not chosen.get(band):
            chosen[band] = [_default_hit(band, sr)]
    samples: dict[str, list[tuple[int, np.ndarray]]] = {}
    sample_info: dict[str, list[dict]] = {}
    for g, cs in sorted(cuts.items()):
        kept: list = []
        for c in sorted(cs, key=lambda c: -c[0]):
            if sum(abs(k[1] - c[1]) <= 1 for k in kept) < 2:
                kept.append(c)
            if len(kept) >= samples_per_genre:
                break
        kept.sort(key=lambda c: c[1])
        samples[g] = [(c[1], c[2]) for c in kept]
        sample_info[g] = [{"pitch": c[1], **c[3]} for c in kept]
    score_model = {}
    if analysed:
        from .compose import learn_score

        score_model = learn_score(analysed, sequence=sequence).to_dict()
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / sr)
    tone = {g: 10 * np.log10(np.sum(v, axis=0) + 1e-12) for g, v in spectra.items()}
    for g in tone:
        tone[g] = tone[g] - tone[g].max()
    tq = np.percentile(tempos, [10, 50, 90]) if tempos else np.array([75.0, 82.0, 90.0])
    model = Model(
        sample_rate=sr, tempo={"p10": round(float(tq[0]), 2), "p50": round(float(tq[1]), 2),
                               "p90": round(float(tq[2]), 2)},
        swing=round(swing, 4), patterns=patterns, pattern_counts=counts, hits=chosen, tone_freqs=freqs,
        tone_db=tone, phrases=phrases,
        loudness={g: round(float(np.median(v)), 2) for g, v in lufs.items()},
        info={"manifest": manifest_fingerprint(dataset), "chunks": {g: len(v) for g, v in picked.items()},
              "bars": len(pats), "swing_onsets": len(swings)},
        score=score_model, samples=samples, sample_info=sample_info,
        hf_ratio={g: round(float(np.median(v)), 6) for g, v in hf.items()},
    )
    if save:
        model.save(dataset)
    return model


def load_or_learn(dataset: str | Path, *, progress: ProgressCallback | None = None) -> Model:
    """The dataset's saved model, learned again when missing or older than the manifest."""
    dataset = Path(dataset)
    try:
        model = Model.load(dataset)
        if model.info.get("manifest") == manifest_fingerprint(dataset):
            return model
    except (PathError, KeyError, ValueError, OSError):
        pass
    return learn(dataset, progress=progress)


def _default_patterns() -> np.ndarray:
    p = np.zeros((1, 3, STEPS), np.float32)
    p[0, 0, [0, 7, 10]] = 1.0
    p[0, 1, [4, 12]] = 1.0
    p[0, 2, ::2] = 0.6
    return p


def _default_hit(band: str, sr: float) -> np.ndarray:
    n = int(HIT_SECONDS[band] * sr)
    t = np.arange(n) / sr
    if band == "low":
        h = np.sin(2 * np.pi * (50 + 80 * np.exp(-t / 0.03)) * t) * np.exp(-t / 0.1)
    else:
        rng = np.random.default_rng(1 if band == "mid" else 2)
        h = rng.standard_normal(n) * np.exp(-t / (0.06 if band == "mid" else 0.02))
    return _finish_hit(h.astype(np.float32), sr)
