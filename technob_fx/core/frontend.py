"""The shared spectral front-end.

One :class:`Frontend` wraps one audio buffer. Analysis stages ask it for derived signals (mono
mix at the analysis rate, STFT, mel spectrogram, onset envelope...) and it computes each at most
once, so a chain of analyzers, or one ``analyze`` call, does the expensive DSP a single time.
:class:`~technob_fx.Chain` builds one per run of consecutive analyzer nodes and passes it to each.

Named accessors (all cached; arrays are read-only views, never modify them):

* :meth:`Frontend.mono` -- mono mix at :data:`ANALYSIS_SR` (22 050 Hz).
* :meth:`Frontend.spectral` -- one chunked pass over the STFT (``N_FFT`` 1024, ``HOP`` 256 at
  22 050 Hz, i.e. 46 ms windows every 11.6 ms) that keeps only the mel power spectrogram and per-frame RMS,
  spectral centroid and flatness; the complex STFT itself is never held in memory.
* :meth:`Frontend.mel` -- mel power spectrogram ``(n_mels, n_frames)``.
* :meth:`Frontend.onset_envelope` -- log-mel spectral flux ``(n_frames,)``, and
  :meth:`Frontend.onset_bands` (low / mid / high flux, ``(3, n_frames)``).
* :meth:`Frontend.chroma` -- chroma from a long-window STFT at 11 025 Hz (fine bass resolution).
* :meth:`Frontend.loudness_blocks` -- K-weighted mean squares of 100 ms blocks per channel at the
  original rate (for BS.1770 LUFS).
* :meth:`Frontend.stft` -- the full complex STFT, for stages that really need it (memory heavy).

:class:`FrontendBuilder` builds a front-end from streamed blocks with bounded memory (only the
mono analysis signal and the loudness block powers are kept); :class:`StreamedAnalyzer` makes
analyzer nodes use it when a chain streams a file.

Only numpy, scipy.fft and soxr are used: no librosa/numba import, so analysis starts fast.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .audio import as_audio, check_sample_rate, to_mono

#: Rate of the mono analysis signal (Hz).
ANALYSIS_SR = 22050
#: STFT size and hop at :data:`ANALYSIS_SR` (samples): 46 ms windows, 11.6 ms hops.
N_FFT = 1024
HOP = 256
#: Mel bands of :meth:`Frontend.mel`.
N_MELS = 128
#: Chroma analysis: rate, window and hop (samples at ``CHROMA_SR``).
CHROMA_SR = 11025
CHROMA_N_FFT = 4096
CHROMA_HOP = 2048
#: Frames per second of the spectral features.
FPS = ANALYSIS_SR / HOP


def _readonly(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    """Slaney mel scale (as librosa's default ``htk=False``)."""
    f = np.asarray(f, dtype=np.float64)
    f_sp = 200.0 / 3
    mels = f / f_sp
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-9) / min_log_hz) / logstep, mels)


def mel_to_hz(m: np.ndarray | float) -> np.ndarray:
    """Inverse of :func:`hz_to_mel`."""
    m = np.asarray(m, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def mel_filterbank(sr: float, n_fft: int, n_mels: int = N_MELS, fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    """Slaney-normalised triangular mel filters, ``(n_mels, n_fft // 2 + 1)`` float32 (= librosa's)."""
    fmax = sr / 2 if fmax is None else fmax
    freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)
    pts = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    fdiff = np.diff(pts)
    ramps = pts[:, None] - freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (pts[2 : n_mels + 2] - pts[:n_mels]))[:, None]
    return weights.astype(np.float32)


def mel_centres() -> np.ndarray:
    """Centre frequency (Hz) of each of the :data:`N_MELS` bands of :meth:`Frontend.mel`."""
    return mel_to_hz(np.linspace(hz_to_mel(0), hz_to_mel(ANALYSIS_SR / 2), N_MELS + 2))[1:-1]


def chroma_filterbank(sr: float, n_fft: int, fmin: float = 55.0, fmax: float = 4200.0) -> np.ndarray:
    """Pitch-class weights of STFT bins, ``(12, n_fft // 2 + 1)`` (0 = C).

    Each bin between ``fmin`` and ``fmax`` votes for the pitch class nearest its frequency with a
    triangular weight over +-1 semitone (bins whose width exceeds a semitone are damped).
    """
    freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)
    out = np.zeros((12, freqs.size), dtype=np.float64)
    ok = (freqs >= fmin) & (freqs <= fmax)
    midi = 69 + 12 * np.log2(np.maximum(freqs[ok], 1e-9) / 440.0)
    bin_semitones = 12 * np.log2((freqs[ok] + sr / n_fft / 2) / np.maximum(freqs[ok] - sr / n_fft / 2, 1e-9))
    damp = 1.0 / np.maximum(1.0, bin_semitones)
    idx = np.flatnonzero(ok)
    for pc in range(12):
        d = np.abs(((midi - pc) + 6) % 12 - 6)
        out[pc, idx] = np.maximum(0.0, 1.0 - d) * damp
    return out.astype(np.float32)


def k_weighting(sr: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """BS.1770 K-weighting biquads at ``sr`` (high shelf, then high pass): ``(b1, a1, b2, a2)``.

    Same design as pyloudnorm's ``IIRfilter`` (bilinear transform of the analog prototypes).
    """
    def shelf(g: float, q: float, fc: float) -> tuple[np.ndarray, np.ndarray]:
        a_ = 10 ** (g / 40.0)
        w0 = 2 * np.pi * fc / sr
        alpha = np.sin(w0) / (2 * q)
        c = np.cos(w0)
        b = np.array([a_ * ((a_ + 1) + (a_ - 1) * c + 2 * np.sqrt(a_) * alpha),
                      -2 * a_ * ((a_ - 1) + (a_ + 1) * c),
                      a_ * ((a_ + 1) + (a_ - 1) * c - 2 * np.sqrt(a_) * alpha)])
        a = np.array([(a_ + 1) - (a_ - 1) * c + 2 * np.sqrt(a_) * alpha,
                      2 * ((a_ - 1) - (a_ + 1) * c),
                      (a_ + 1) - (a_ - 1) * c - 2 * np.sqrt(a_) * alpha])
        return b / a[0], a / a[0]

    def highpass(q: float, fc: float) -> tuple[np.ndarray, np.ndarray]:
        w0 = 2 * np.pi * fc / sr
        alpha = np.sin(w0) / (2 * q)
        c = np.cos(w0)
        b = np.array([(1 + c) / 2, -(1 + c), (1 + c) / 2])
        a = np.array([1 + alpha, -2 * c, 1 - alpha])
        return b / a[0], a / a[0]

    b1, a1 = shelf(4.0, 1 / np.sqrt(2), 1500.0)
    b2, a2 = highpass(0.5, 38.0)
    return b1, a1, b2, a2


def k_weighted_block_power(audio: np.ndarray, sr: float, block: int) -> np.ndarray:
    """Mean square of the K-weighted signal in consecutive blocks of ``block`` samples.

    Computed per block in the frequency domain (Parseval with the filters' power response), which
    matches time-domain filtering to a few hundredths of a dB for 100 ms blocks of music.

    Returns
    -------
    np.ndarray, shape ``(channels, n_blocks)``, float64
    """
    import scipy.fft

    c, n = audio.shape
    nb = n // block
    if nb == 0:
        return np.zeros((c, 0))
    b1, a1, b2, a2 = k_weighting(sr)
    z = np.exp(-2j * np.pi * np.arange(block // 2 + 1) / block)

    def resp(b: np.ndarray, a: np.ndarray) -> np.ndarray:
        num = b[0] + b[1] * z + b[2] * z * z
        den = a[0] + a[1] * z + a[2] * z * z
        return np.abs(num / den) ** 2

    h = (resp(b1, a1) * resp(b2, a2)).astype(np.float32)
    wts = np.full(block // 2 + 1, 2.0, dtype=np.float32)
    wts[0] = 1.0
    if block % 2 == 0:
        wts[-1] = 1.0
    h *= wts
    out = np.empty((c, nb))
    step = max(1, 4096 * 4410 // max(block, 1) // 8)
    for ch in range(c):
        frames = audio[ch, : nb * block].reshape(nb, block)
        for i in range(0, nb, step):
            spec = scipy.fft.rfft(frames[i : i + step], axis=1, workers=2)
            p = spec.real**2 + spec.imag**2
            out[ch, i : i + step] = (p @ h) / float(block) ** 2
    return out


def _centred_frames(y: np.ndarray, n_fft: int = N_FFT, hop: int = HOP) -> np.ndarray:
    """``n_fft``-sample frames every ``hop`` of ``y`` zero-padded by ``n_fft // 2`` each side (a view).

    Frame ``i`` is centred on sample ``i * hop``; there is always at least one frame.
    """
    yp = np.pad(y, (n_fft // 2, n_fft // 2))
    return np.lib.stride_tricks.sliding_window_view(yp, n_fft)[::hop]


def mel_spectrogram(y: np.ndarray, sr: float, n_fft: int = N_FFT, hop: int = HOP, n_mels: int = N_MELS,
                    fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    """Mel power spectrogram of a mono signal at any STFT size: the framing and filters of
    :meth:`Frontend.spectral` (centred zero-padded Hann frames, Slaney mel filters; as librosa's
    ``melspectrogram`` with ``power=2``).

    Parameters
    ----------
    y : np.ndarray, shape ``(samples,)``
    sr : float
        Hz.
    n_fft, hop : int
        STFT size and hop, samples.
    n_mels : int
        Bands.
    fmin, fmax : float
        Band edges, Hz (``fmax`` default: Nyquist).

    Returns
    -------
    np.ndarray, float32, shape ``(n_mels, 1 + samples // hop)``
    """
    import scipy.fft

    frames = _centred_frames(np.asarray(y, dtype=np.float32), n_fft, hop)
    win = np.hanning(n_fft + 1)[:-1].astype(np.float32)
    fbt = np.ascontiguousarray(mel_filterbank(sr, n_fft, n_mels, fmin, fmax).T)
    out = np.empty((frames.shape[0], n_mels), np.float32)
    for i in range(0, frames.shape[0], 1024):
        x = scipy.fft.rfft(frames[i : i + 1024] * win, axis=1, workers=2)
        out[i : i + 1024] = (x.real**2 + x.imag**2) @ fbt
    return np.ascontiguousarray(out.T)


@dataclass
class Spectral:
    """Per-frame features of one STFT pass (frames at :data:`FPS` Hz).

    Attributes
    ----------
    mel : np.ndarray, ``(n_frames, n_mels)`` float32
        Mel power spectrogram (frame-major; :meth:`Frontend.mel` gives the transpose).
    rms : np.ndarray, ``(n_frames,)``
        Root mean square of each (unwindowed) frame.
    centroid : np.ndarray, ``(n_frames,)``
        Spectral centroid, Hz.
    flatness : np.ndarray, ``(n_frames,)``
        Spectral flatness (geometric over arithmetic mean) of the mel power bands, ``[0, 1]``.
    """

    mel: np.ndarray
    rms: np.ndarray
    centroid: np.ndarray
    flatness: np.ndarray


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

    def put(self, key: str, value: Any) -> None:
        """Seed the cache (e.g. loudness measured while streaming a file)."""
        with self._lock:
            self._cache[key] = value

    def matches(self, audio: np.ndarray, sample_rate: float) -> bool:
        """True if this front-end describes exactly this buffer (same object and rate)."""
        return audio is self.audio and float(sample_rate) == self.sample_rate

    # -- named accessors ----------------------------------------------------------------------

    @property
    def duration(self) -> float:
        """Seconds of audio (of the original buffer, or as seeded by ``put("duration", ...)``)."""
        if "duration" in self._cache:
            return float(self._cache["duration"])
        return self.audio.shape[-1] / self.sample_rate

    @property
    def fps(self) -> float:
        """Frames per second of :meth:`spectral`, :meth:`mel` and :meth:`onset_envelope`."""
        return FPS

    def mono(self) -> np.ndarray:
        """Mono mix at :data:`ANALYSIS_SR`, float32 ``(samples,)`` (soxr resampling)."""

        def compute() -> np.ndarray:
            m = to_mono(self.audio)
            if self.sample_rate != ANALYSIS_SR:
                import soxr

                m = soxr.resample(np.ascontiguousarray(m), self.sample_rate, ANALYSIS_SR, quality="HQ")
            return _readonly(np.ascontiguousarray(m, dtype=np.float32))

        return self.get("mono", compute)

    def mono_at(self, rate: int) -> np.ndarray:
        """:meth:`mono` resampled to ``rate`` Hz (cached per rate), float32 ``(samples,)``."""
        if rate == ANALYSIS_SR:
            return self.mono()

        def compute() -> np.ndarray:
            import soxr

            y = soxr.resample(self.mono(), ANALYSIS_SR, rate, quality="MQ")
            return _readonly(np.ascontiguousarray(y, dtype=np.float32))

        return self.get(f"mono_{int(rate)}", compute)

    def frame_times(self) -> np.ndarray:
        """Centre time of each spectral frame, seconds."""
        n = self.spectral().mel.shape[0]
        return np.arange(n) / FPS

    def spectral(self) -> Spectral:
        """One chunked STFT pass (centred frames, Hann window): mel, rms, centroid, flatness."""

        def compute() -> Spectral:
            import scipy.fft

            frames = _centred_frames(self.mono())
            n_frames = frames.shape[0]
            win = np.hanning(N_FFT + 1)[:-1].astype(np.float32)
            fb = self.get("melfb", lambda: mel_filterbank(ANALYSIS_SR, N_FFT, N_MELS))
            freqs = np.linspace(0, ANALYSIS_SR / 2, N_FFT // 2 + 1).astype(np.float32)
            mel = np.empty((n_frames, N_MELS), np.float32)
            rms = np.empty(n_frames, np.float32)
            cen = np.empty(n_frames, np.float32)
            flat = np.empty(n_frames, np.float32)
            fbt = np.ascontiguousarray(fb.T)
            chunk = 2048
            for i in range(0, n_frames, chunk):
                fr = frames[i : i + chunk]
                x = scipy.fft.rfft(fr * win, axis=1, workers=2)
                p = x.real**2 + x.imag**2
                mel[i : i + chunk] = p @ fbt
                mag = np.sqrt(p)
                s = mag.sum(axis=1)
                cen[i : i + chunk] = (mag @ freqs) / np.maximum(s, 1e-10)
                mp = mel[i : i + chunk].astype(np.float64) + 1e-10
                flat[i : i + chunk] = np.exp(np.log(mp).mean(axis=1)) / mp.mean(axis=1)
                # RMS of the (unwindowed) frame centre region
                rms[i : i + chunk] = np.sqrt(np.einsum("ij,ij->i", fr, fr) / N_FFT)
            return Spectral(_readonly(mel), _readonly(rms), _readonly(cen), _readonly(flat))

        return self.get("spectral", compute)

    def mel(self) -> np.ndarray:
        """Mel power spectrogram, ``(n_mels, n_frames)`` float32 (librosa's layout)."""
        return self.spectral().mel.T

    def log_mel(self) -> np.ndarray:
        """``10 log10`` mel power, ``(n_frames, n_mels)`` float32, floored 80 dB below the peak."""

        def compute() -> np.ndarray:
            m = self.spectral().mel
            db = 10 * np.log10(np.maximum(m, 1e-10))
            top = float(db.max()) if db.size else 0.0
            return _readonly(np.maximum(db, top - 80.0).astype(np.float32))

        return self.get("log_mel", compute)

    def onset_bands(self) -> np.ndarray:
        """Half-wave rectified log-mel flux in three bands (< 200 Hz, 200 Hz-4 kHz, > 4 kHz).

        Returns
        -------
        np.ndarray, ``(3, n_frames)`` float32
            Mean positive dB increase per band from frame ``i - 2`` to frame ``i`` (23 ms). With
            centred 46 ms windows its peaks fall within a few ms of the onsets.
        """

        def compute() -> np.ndarray:
            lm = self.log_mel()
            lag = 2
            d = np.zeros_like(lm)
            d[lag:] = np.maximum(lm[lag:] - lm[:-lag], 0.0)
            centres = mel_centres()
            lo = centres < 200
            hi = centres > 4000
            mid = ~lo & ~hi
            out = np.stack([d[:, lo].mean(axis=1), d[:, mid].mean(axis=1), d[:, hi].mean(axis=1)])
            return _readonly(out.astype(np.float32))

        return self.get("onset_bands", compute)

    def onset_envelope(self) -> np.ndarray:
        """Onset strength per frame (mean positive log-mel flux over all bands), ``(n_frames,)``."""

        def compute() -> np.ndarray:
            lm = self.log_mel()
            lag = 2
            d = np.zeros(lm.shape[0], np.float32)
            if lm.shape[0] > lag:
                d[lag:] = np.maximum(lm[lag:] - lm[:-lag], 0.0).mean(axis=1)
            return _readonly(d)

        return self.get("onset_envelope", compute)

    def chroma(self) -> tuple[np.ndarray, float]:
        """Chroma energy ``(12, n)`` (0 = C, not normalised) and its frame rate in Hz.

        From a 4096-point STFT of the mono signal at 11 025 Hz (0.37 s windows, 2.7 Hz bins) so
        that bass notes resolve. Only spectral peaks count (magnitude minus twice its local mean over
        17 bins), so drum noise does not smear the pitch classes.
        """

        def compute() -> tuple[np.ndarray, float]:
            import scipy.fft

            y = self.mono_at(CHROMA_SR)
            if y.size < CHROMA_N_FFT:
                y = np.pad(y, (0, CHROMA_N_FFT - y.size))
            frames = np.lib.stride_tricks.sliding_window_view(y, CHROMA_N_FFT)[::CHROMA_HOP]
            win = np.hanning(CHROMA_N_FFT + 1)[:-1].astype(np.float32)
            fb = chroma_filterbank(CHROMA_SR, CHROMA_N_FFT)
            out = np.empty((frames.shape[0], 12), np.float32)
            top = min(CHROMA_N_FFT // 2 + 1, int(np.flatnonzero(fb.any(axis=0))[-1]) + 16)
            fb = np.ascontiguousarray(fb[:, :top])
            for i in range(0, frames.shape[0], 1024):
                x = scipy.fft.rfft(frames[i : i + 1024] * win, axis=1, workers=2)[:, :top]
                mag = np.abs(x)
                # keep spectral peaks only (tones), not the noise floor of drums and sweeps
                k = 17
                cs = np.cumsum(np.pad(mag, ((0, 0), (k // 2 + 1, k // 2))), axis=1)
                floor = (cs[:, k:] - cs[:, :-k]) / k
                peaks = np.maximum(mag - 2.0 * floor, 0.0)
                out[i : i + 1024] = peaks @ fb.T
            return _readonly(np.ascontiguousarray(out.T)), CHROMA_SR / CHROMA_HOP

        return self.get("chroma", compute)

    def loudness_blocks(self) -> tuple[np.ndarray, float]:
        """K-weighted mean square of each channel in 100 ms blocks, and the block rate (10 Hz).

        Returns
        -------
        power : np.ndarray, ``(channels, n_blocks)`` float64
        rate : float
            Blocks per second.
        """

        def compute() -> tuple[np.ndarray, float]:
            block = max(1, int(round(self.sample_rate * 0.1)))
            a = self.audio if self.audio.ndim == 2 else self.audio[np.newaxis]
            return k_weighted_block_power(a, self.sample_rate, block), self.sample_rate / block

        return self.get("loudness_blocks", compute)

    def stft(self) -> np.ndarray:
        """Complex STFT of :meth:`mono`, ``(N_FFT // 2 + 1, n_frames)`` complex64 (memory heavy).

        Same framing as :meth:`spectral` (centred, Hann, ``N_FFT``/``HOP``).
        """

        def compute() -> np.ndarray:
            import scipy.fft

            frames = _centred_frames(self.mono())
            win = np.hanning(N_FFT + 1)[:-1].astype(np.float32)
            out = np.empty((N_FFT // 2 + 1, frames.shape[0]), np.complex64)
            for i in range(0, frames.shape[0], 2048):
                out[:, i : i + 2048] = scipy.fft.rfft(frames[i : i + 2048] * win, axis=1, workers=2).T
            return _readonly(out)

        return self.get("stft", compute)


def frontend_for(audio: np.ndarray, sr: float, frontend: Frontend | None = None) -> Frontend:
    """``frontend`` when given, else a new :class:`Frontend` of ``audio`` (validated first).

    Raises
    ------
    AudioError
        ``frontend`` is None and ``audio`` or ``sr`` is invalid (NaN/inf samples, wrong shape,
        bad sample rate).
    """
    if frontend is not None:
        return frontend
    a, _ = as_audio(audio, name="audio")
    return Frontend(a, check_sample_rate(sr))


class FrontendBuilder:
    """Build a :class:`Frontend` from a stream of blocks with bounded memory.

    Each ``(channels, n)`` block is mixed to mono and resampled to :data:`ANALYSIS_SR` by a
    streaming soxr resampler, and its K-weighted 100 ms block powers are measured per channel at
    the original rate (loudness blocks never straddle two stream blocks: a remainder is carried
    over). Only the mono analysis signal is kept: 32 MiB for 6 minutes, whatever the input's
    rate and channel count.

    Parameters
    ----------
    sample_rate : float
        Hz of the blocks.
    """

    def __init__(self, sample_rate: float) -> None:
        self.sample_rate = float(sample_rate)
        self._lblock = max(1, int(round(self.sample_rate * 0.1)))
        self._carry: np.ndarray | None = None
        self._monos: list[np.ndarray] = []
        self._powers: list[np.ndarray] = []
        self._stream: Any = None
        self.frames = 0
        self.channels = 0

    def add(self, block: np.ndarray) -> None:
        """Append one block, float32 ``(channels, n)`` (not modified)."""
        from .errors import AudioError

        if block.ndim != 2:
            raise AudioError(f"stream blocks must be (channels, samples), got {block.shape}")
        if self.channels == 0:
            self.channels = int(block.shape[0])
            if self.sample_rate != ANALYSIS_SR:
                import soxr

                self._stream = soxr.ResampleStream(self.sample_rate, ANALYSIS_SR, 1, dtype="float32", quality="HQ")
        elif block.shape[0] != self.channels:
            raise AudioError(f"stream changed from {self.channels} to {block.shape[0]} channels")
        if block.shape[1] == 0:
            return
        self.frames += int(block.shape[1])
        x = block if self._carry is None else np.concatenate([self._carry, block], axis=1)
        nb = x.shape[1] // self._lblock
        if nb:
            self._powers.append(k_weighted_block_power(x[:, : nb * self._lblock], self.sample_rate, self._lblock))
        self._carry = x[:, nb * self._lblock :].copy()
        m = np.ascontiguousarray(to_mono(block), dtype=np.float32)
        if self._stream is not None:
            m = self._stream.resample_chunk(m)
        self._monos.append(np.array(m, dtype=np.float32))

    def finish(self) -> Frontend:
        """The front-end of everything added (``duration`` and ``loudness_blocks`` seeded).

        Raises
        ------
        AudioError
            Nothing was added.
        """
        from .errors import AudioError

        if self.frames == 0:
            raise AudioError("the stream contained no audio samples")
        if self._stream is not None:
            self._monos.append(np.asarray(self._stream.resample_chunk(np.zeros(0, np.float32), last=True), np.float32))
        mono = np.concatenate(self._monos) if self._monos else np.zeros(0, np.float32)
        self._monos = []
        if mono.size == 0:
            mono = np.zeros(1, np.float32)
        fe = Frontend(mono[np.newaxis, :], ANALYSIS_SR)
        powers = np.concatenate(self._powers, axis=1) if self._powers else np.zeros((self.channels, 0))
        fe.put("loudness_blocks", (powers, self.sample_rate / self._lblock))
        fe.put("duration", self.frames / self.sample_rate)
        return fe


class StreamedAnalyzer:
    """Mixin for analyzer nodes: bounded-memory streaming through :class:`FrontendBuilder`.

    Put it before :class:`~technob_fx.core.node.AnalyzerNode` in the bases. Streamed blocks
    (``reset=False``) are reduced to the mono analysis signal and loudness block powers as they
    arrive, instead of being kept whole; :meth:`finalize` analyses that front-end.
    """

    _builder: FrontendBuilder | None = None

    def reset(self) -> None:
        super().reset()  # type: ignore[misc]
        self._builder = None

    def accumulate(self, audio: np.ndarray, sample_rate: float) -> None:
        if self._builder is None:
            self._builder = FrontendBuilder(sample_rate)
        self._builder.add(audio)

    def finalize(self) -> Any:
        if self._builder is None or self._builder.frames == 0:
            return self.result  # type: ignore[attr-defined]
        fe = self._builder.finish()
        self._builder = None
        self.result = self.analyze(fe.audio, fe.sample_rate, fe)  # type: ignore[attr-defined]
        return self.result
