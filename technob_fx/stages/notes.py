"""Polyphonic note transcription: note events (onset, offset, MIDI pitch, velocity) from a mix or stem.

Two processors, composed:

1. :class:`NotePosteriors` -- the acoustic model. It is **Spotify's basic-pitch model** ("NMP",
   ICASSP 2022, Apache-2.0; the ONNX file of the basic-pitch 0.4.0 wheel is shipped in
   ``technob_fx/stages/models/`` with its licence and notice), run with onnxruntime on the shared
   front-end's mono signal (22 050 Hz, the model's own rate): 2-second windows (43 844 samples)
   every 142 frames, 15 frames of context dropped at each side, so frame ``f`` of the result lies
   exactly at ``f * 256 / 22050`` s on any length of audio. Only the note and onset posteriors
   ``(n_frames, 88)`` (A0..C8, 86.13 frames/s) are kept: memory is bounded by the track length
   (22 MiB for 6 minutes), the audio is fed in batches of windows.
2. :class:`NoteDecoder` -- ours: turns the posteriors into notes. Differences from basic-pitch's own
   decoding (which drops every note shorter than 128 ms by default, and merges notes through
   127 ms of silence):

   * thresholds scale with the file's own onset confidence (the 99.5th percentile of the per-frame
     maximum onset posterior, down to 60 % of the nominal thresholds), so a dense mix with drums,
     where the model is less sure of everything, is not decoded with the thresholds of a solo
     piano;
   * onsets are local maxima (5 frames) of the onset posterior, plus rises of the note posterior
     (slow attacks); a note lasts while its note posterior stays above the frame threshold, with
     at most 2 frames (23 ms) of gap, and ends at the next onset of the same pitch, so repeated
     sixteenth notes stay separate;
   * the minimum note length is a parameter in milliseconds (default 46 ms: a sixteenth note at
     200 BPM is 75 ms);
   * long sustained activations without an onset peak (pads, bowed strings) become notes when
     confident (0.9 for 350 ms).

   The decoder's constants were chosen on generated material (seeds 1000-1039 of
   :mod:`technob_fx.synth.notes`) only; ``benchmarks/bench_notes.py`` evaluates on other seeds and
   on real annotated recordings.

:func:`transcribe` runs both on a buffer or a front-end (for a file, stream it into one with
:func:`technob_fx.stages.analysis.load_frontend`: bounded memory, only the 22 050 Hz mono signal is
kept); :class:`NoteTranscriber` is the analyzer node (``"note_transcriber"``; ``chords=True`` also
names the chord of every bar). :func:`split_roles` divides a mix's notes into bass, chords and lead.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.errors import DependencyError, ModelError, ParameterError
from ..core.frontend import ANALYSIS_SR, StreamedAnalyzer, frontend_for
from ..core.node import AnalyzerNode, Param, Result
from ..core.progress import ProgressCallback
from ..core.results import NoteEvent

if TYPE_CHECKING:
    from ..core.frontend import Frontend

#: Model rate, hop and frames per second.
MODEL_SR = 22050
MODEL_HOP = 256
FPS = MODEL_SR / MODEL_HOP
#: Samples per model window, frames kept per window, context frames dropped at each side.
WINDOW = 43844
KEEP = 142
EDGE = 15
#: MIDI number of the first of the 88 pitch bins (A0).
MIDI_LOW = 21
N_PITCHES = 88
#: The shipped model file.
MODEL_FILE = Path(__file__).resolve().parent / "models" / "basic_pitch_nmp.onnx"

assert ANALYSIS_SR == MODEL_SR  # the front-end's mono signal is the model's input as it is


@dataclass
class Transcription(Result):
    """Notes of a transcription, and the chords per bar when they were asked for.

    Attributes
    ----------
    notes : list of NoteEvent
        Sorted by onset; ``onset``/``offset`` in seconds, ``pitch`` MIDI 21-108, ``velocity``
        1-127 (from the mean note posterior).
    chords : list of Chord
        One per bar (:mod:`technob_fx.stages.chords`); empty unless requested.
    duration : float
        Seconds of audio transcribed.
    """

    notes: list[NoteEvent] = field(default_factory=list)
    chords: list[Any] = field(default_factory=list)
    duration: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"notes": [n.to_dict() for n in self.notes], "chords": [c.to_dict() for c in self.chords],
                "duration": self.duration}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Transcription:
        from .chords import Chord

        return cls([NoteEvent.from_dict(n) for n in data.get("notes", [])],
                   [Chord.from_dict(c) for c in data.get("chords", [])], float(data.get("duration", 0.0)))

    def as_array(self) -> np.ndarray:
        """Notes as ``(n, 4)`` float: onset, offset, pitch, velocity."""
        return np.array([(n.onset, n.offset, n.pitch, n.velocity) for n in self.notes], float).reshape(-1, 4)


# --------------------------------------------------------------------------------------------
# acoustic model
# --------------------------------------------------------------------------------------------

_SESSIONS: dict[int, Any] = {}
_LOCK = threading.Lock()


def _session(threads: int) -> Any:
    """One onnxruntime session per thread count (created once, thread-safe to run)."""
    with _LOCK:
        if threads not in _SESSIONS:
            try:
                import onnxruntime as ort
            except ImportError:
                raise DependencyError("note transcription needs onnxruntime (pip install onnxruntime)") from None
            if not MODEL_FILE.exists():
                raise ModelError(f"note model missing: {MODEL_FILE} (reinstall technob-fx)")
            so = ort.SessionOptions()
            so.intra_op_num_threads = threads
            so.inter_op_num_threads = 1
            so.log_severity_level = 3
            _SESSIONS[threads] = ort.InferenceSession(str(MODEL_FILE), so, providers=["CPUExecutionProvider"])
        return _SESSIONS[threads]


class NotePosteriors:
    """Note and onset posteriors of basic-pitch's model (see the module docstring).

    Parameters
    ----------
    batch : int
        Windows per model call (memory: about 3 MiB of input and 2 MiB of output per window).
    threads : int
        onnxruntime intra-op threads.
    """

    def __init__(self, batch: int = 8, threads: int = 2) -> None:
        self.batch = int(batch)
        self.threads = int(threads)

    def windows(self, y: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(first_window_index, (k, WINDOW, 1) float32)`` batches of model input."""
        n_win = self.n_windows(y.size)
        pad = EDGE * MODEL_HOP
        for b0 in range(0, n_win, self.batch):
            ks = range(b0, min(n_win, b0 + self.batch))
            x = np.zeros((len(ks), WINDOW, 1), np.float32)
            for i, k in enumerate(ks):
                start = k * KEEP * MODEL_HOP - pad
                lo, hi = max(start, 0), min(start + WINDOW, y.size)
                if hi > lo:
                    x[i, lo - start : hi - start, 0] = y[lo:hi]
            yield b0, x

    @staticmethod
    def n_frames(n_samples: int) -> int:
        return int(np.ceil(n_samples / MODEL_HOP)) + 1

    def n_windows(self, n_samples: int) -> int:
        return int(np.ceil(self.n_frames(n_samples) / KEEP))

    def __call__(self, y: np.ndarray, progress: ProgressCallback | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Posteriors of mono ``y`` at 22 050 Hz.

        Returns
        -------
        note, onset : np.ndarray, ``(n_frames, 88)`` float32
            Frame ``f`` is centred at ``f * 256 / 22050`` s; column ``p`` is MIDI ``21 + p``.
        """
        sess = _session(self.threads)
        name = sess.get_inputs()[0].name
        n_frames = self.n_frames(y.size)
        n_win = self.n_windows(y.size)
        note = np.zeros((n_win * KEEP, N_PITCHES), np.float32)
        onset = np.zeros((n_win * KEEP, N_PITCHES), np.float32)
        for b0, x in self.windows(y):
            nt, on = sess.run(["StatefulPartitionedCall:1", "StatefulPartitionedCall:2"], {name: x})
            k = x.shape[0]
            note[b0 * KEEP : (b0 + k) * KEEP] = nt[:, EDGE : EDGE + KEEP].reshape(-1, N_PITCHES)
            onset[b0 * KEEP : (b0 + k) * KEEP] = on[:, EDGE : EDGE + KEEP].reshape(-1, N_PITCHES)
            if progress is not None:
                progress(min(1.0, (b0 + k) / n_win), "notes")
        return note[:n_frames], onset[:n_frames]


# --------------------------------------------------------------------------------------------
# decoding
# --------------------------------------------------------------------------------------------


class NoteDecoder:
    """Posteriors -> notes (see the module docstring for the method).

    Parameters
    ----------
    threshold : float
        Onset confidence a note needs, ``(0, 1)`` (before the per-file scaling).
    frame_threshold : float
        Note posterior that keeps a note sounding.
    min_note_ms : float
        Shortest note kept, milliseconds.
    gap_frames : int
        Frames below ``frame_threshold`` tolerated inside a note.
    sustain_threshold, sustain_ms : float
        A run of note posterior above ``sustain_threshold`` for ``sustain_ms`` without an onset
        becomes a note (0 ms turns it off).
    adapt_level : float
        Per-file onset confidence (99.5th percentile of the frame maxima) at which thresholds are
        used as given; below it they scale down proportionally, to ``adapt_floor`` at most
        (0 turns scaling off).
    """

    def __init__(self, threshold: float = 0.7, frame_threshold: float = 0.5, min_note_ms: float = 46.0,
                 gap_frames: int = 2, sustain_threshold: float = 0.9, sustain_ms: float = 350.0,
                 adapt_level: float = 1.0, adapt_quantile: float = 0.995, adapt_floor: float = 0.6,
                 infer_gain: float = 2.0) -> None:
        self.threshold = float(threshold)
        self.frame_threshold = float(frame_threshold)
        self.min_note_ms = float(min_note_ms)
        self.gap_frames = int(gap_frames)
        self.sustain_threshold = float(sustain_threshold)
        self.sustain_ms = float(sustain_ms)
        self.adapt_level = float(adapt_level)
        self.adapt_quantile = float(adapt_quantile)
        self.adapt_floor = float(adapt_floor)
        self.infer_gain = float(infer_gain)

    def scale(self, onset: np.ndarray) -> float:
        """Threshold scale of this file: ``clip(level / adapt_level, adapt_floor, 1)``."""
        if self.adapt_level <= 0 or onset.shape[0] == 0:
            return 1.0
        lvl = float(np.quantile(onset.max(axis=1), self.adapt_quantile))
        return float(np.clip(lvl / self.adapt_level, self.adapt_floor, 1.0))

    def __call__(self, note: np.ndarray, onset: np.ndarray, scale: float | None = None) -> np.ndarray:
        """Notes ``(n, 4)``: onset s, offset s, MIDI pitch, mean note posterior; sorted by onset."""
        from scipy.ndimage import maximum_filter1d

        T, P = note.shape
        if T == 0:
            return np.zeros((0, 4))
        sc = self.scale(onset) if scale is None else scale
        on_thr, fr_thr, su_thr = self.threshold * sc, self.frame_threshold * sc, self.sustain_threshold * sc
        on = onset
        if self.infer_gain > 0 and T > 2:
            d = np.zeros_like(note)
            d[2:] = np.minimum(note[2:] - note[1:-1], note[2:] - note[:-2])
            on = np.maximum(on, np.clip(d * self.infer_gain, 0.0, 1.0))
        peak = (on >= maximum_filter1d(on, 5, axis=0)) & (on >= on_thr)
        act = note >= fr_thr
        used = np.zeros_like(act)
        min_frames = max(1, int(round(self.min_note_ms / 1000.0 * FPS)))
        gap = max(self.gap_frames, 1)
        notes: list[tuple[int, int, int, float]] = []
        for p in np.flatnonzero(peak.any(axis=0)):
            ts = np.flatnonzero(peak[:, p])
            col = act[:, p]
            for j, t0 in enumerate(ts):
                t_next = int(ts[j + 1]) if j + 1 < len(ts) else T
                t, k = int(t0) + 1, 0
                while t < t_next and k < gap:
                    k = 0 if col[t] else k + 1
                    t += 1
                t_end = t - k
                if t_end - t0 < min_frames:
                    continue
                used[t0:t_end, max(p - 1, 0) : p + 2] = True
                notes.append((int(t0), int(t_end), int(p), float(note[t0:t_end, p].mean())))
        sustain = int(round(self.sustain_ms / 1000.0 * FPS))
        if sustain > 0:
            strong = (note >= su_thr) & ~used
            for p in np.flatnonzero(strong.any(axis=0)):
                d = np.diff(np.concatenate([[0], strong[:, p].astype(np.int8), [0]]))
                for a, b in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1), strict=True):
                    if b - a < sustain:
                        continue
                    while a > 0 and act[a - 1, p] and not used[a - 1, p]:
                        a -= 1
                    while b < T and act[b, p] and not used[b, p]:
                        b += 1
                    notes.append((int(a), int(b), int(p), float(note[a:b, p].mean())))
        if not notes:
            return np.zeros((0, 4))
        arr = np.array(notes, float)
        out = np.empty((len(arr), 4))
        out[:, 0] = arr[:, 0] / FPS
        out[:, 1] = arr[:, 1] / FPS
        out[:, 2] = arr[:, 2] + MIDI_LOW
        out[:, 3] = arr[:, 3]
        return out[np.lexsort((out[:, 2], out[:, 0]))]


def to_events(arr: np.ndarray) -> list[NoteEvent]:
    """Decoder rows -> :class:`NoteEvent` (velocity from the mean posterior, 1-127)."""
    return [NoteEvent(float(a), float(b), int(p), int(np.clip(round(40 + 87 * v), 1, 127))) for a, b, p, v in arr]


def check_params(threshold: float, min_note_ms: float) -> None:
    """Raise :class:`ParameterError` for a threshold outside (0, 1) or a minimum length outside [0, 2000] ms."""
    if not 0.0 < threshold < 1.0:
        raise ParameterError(f"note threshold must be in (0, 1), got {threshold}")
    if not 0.0 <= min_note_ms <= 2000.0:
        raise ParameterError(f"minimum note length must be in [0, 2000] ms, got {min_note_ms}")


def transcribe(
    audio: np.ndarray,
    sr: float,
    *,
    threshold: float = 0.7,
    min_note_ms: float = 46.0,
    chords: bool = False,
    grid: Any = None,
    frontend: Frontend | None = None,
    progress: ProgressCallback | None = None,
) -> Transcription:
    """Transcribe the notes of a mix or a stem.

    Parameters
    ----------
    audio : np.ndarray, float32, shape ``(channels, samples)`` or ``(samples,)``
        Audio (never modified), any rate (the front-end resamples to 22 050 Hz).
    sr : float
        Sample rate, Hz.
    threshold : float
        Onset confidence in ``(0, 1)``: higher gives fewer, surer notes.
    min_note_ms : float
        Shortest note kept, milliseconds.
    chords : bool
        Also name the chord of every bar (:func:`technob_fx.stages.chords.estimate_chords`); the
        bars come from ``grid``, or from the beat tracker.
    grid : BeatGrid, optional
        Bars for the chords.
    frontend : Frontend, optional
        Shared front-end of ``audio``.
    progress : callable, optional
        ``progress(fraction, message)``.

    Returns
    -------
    Transcription

    Raises
    ------
    ParameterError
        ``threshold`` or ``min_note_ms`` out of range.
    AudioError
        Invalid audio or sample rate.
    DependencyError
        onnxruntime is not installed.
    """
    check_params(threshold, min_note_ms)
    fe = frontend_for(audio, sr, frontend)
    y = fe.mono()
    note, onset = NotePosteriors()(y, progress)
    arr = NoteDecoder(threshold=threshold, min_note_ms=min_note_ms)(note, onset)
    events = to_events(arr)
    res = Transcription(events, [], float(fe.duration))
    if chords:
        from .chords import estimate_chords

        if grid is None:
            from .beats import track_beats

            grid = track_beats(fe.audio, fe.sample_rate, frontend=fe)
        res.chords = estimate_chords(events, grid, frontend=fe)
    return res


# --------------------------------------------------------------------------------------------
# roles in a mix
# --------------------------------------------------------------------------------------------

#: Highest MIDI pitch a bass note may have, and lowest a lead note may have.
BASS_MAX = 55
LEAD_MIN = 60


def split_roles(notes: list[NoteEvent]) -> dict[str, list[NoteEvent]]:
    """Divide the notes of a mix into ``bass``, ``chords`` and ``lead`` (a heuristic).

    A note is **bass** when it is at most G3 (MIDI 55) and the lowest note sounding at its middle;
    **chords** when it starts together (within 30 ms) with at least two other non-bass notes, or
    is not the highest note sounding at its middle; **lead** otherwise, from C4 (MIDI 60) up.
    """
    out: dict[str, list[NoteEvent]] = {"bass": [], "chords": [], "lead": []}
    if not notes:
        return out
    arr = np.array([(n.onset, n.offset, n.pitch) for n in notes], float)
    mids = 0.5 * (arr[:, 0] + arr[:, 1])
    for i, n in enumerate(notes):
        sounding = (arr[:, 0] <= mids[i]) & (arr[:, 1] >= mids[i])
        pitches = arr[sounding, 2]
        if n.pitch <= BASS_MAX and n.pitch <= pitches.min():
            out["bass"].append(n)
            continue
        together = np.abs(arr[:, 0] - n.onset) < 0.03
        cluster = int(np.sum(together & (arr[:, 2] > BASS_MAX)))
        if cluster >= 3 or n.pitch < LEAD_MIN or n.pitch < pitches.max():
            out["chords"].append(n)
        else:
            out["lead"].append(n)
    return out


# --------------------------------------------------------------------------------------------
# node
# --------------------------------------------------------------------------------------------


class NoteTranscriber(StreamedAnalyzer, AnalyzerNode):
    """Analyzer node: polyphonic notes (:func:`transcribe`); result is a :class:`Transcription`.

    Streams with bounded memory (only the mono analysis signal is kept while blocks arrive). In a
    chain the chords' bars come from the beat tracker before it (``needs = ("grid",)``).
    ``progress`` (an attribute, None by default) receives the transcription's own progress.
    """

    type_name = "note_transcriber"
    needs = ("grid",)
    provides = "transcription"
    progress: ProgressCallback | None = None
    threshold = Param(float, 0.7, 0.05, 0.95, doc="onset confidence a note needs (higher: fewer notes)")
    min_note_ms = Param(float, 46.0, 0.0, 2000.0, unit="ms", doc="shortest note kept")
    chords = Param(bool, False, doc="also name the chord of every bar (beat tracker's bars)")

    def analyze(self, audio: np.ndarray, sample_rate: float, frontend: Frontend | None = None) -> Any:
        return transcribe(audio, sample_rate, threshold=self.threshold, min_note_ms=self.min_note_ms,
                          chords=self.chords, grid=self.inputs.get("grid"), frontend=frontend,
                          progress=self.progress)
