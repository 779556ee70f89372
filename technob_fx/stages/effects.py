"""technob's own effect nodes, used beside pedalboard's built-ins in presets.

* :class:`StereoWidth` - mid/side width (stateless).
* :class:`SoftClip` - tanh saturation with make-up (stateless).
* :class:`WowFlutter` - tape-speed wobble as a modulated fractional delay (stateful, streams
  seamlessly).
* :class:`VinylNoise` - crackle and hiss of a record (seeded, streams seamlessly).
* :class:`TruePeakLimiter` - look-ahead limiter on the 4x-oversampled true peak (stateful, with
  latency; :func:`true_peak` measures dBTP).
"""

from __future__ import annotations

import numpy as np

from ..core.node import EffectNode, Param


class StereoWidth(EffectNode):
    """Scale the side signal of a stereo mix.

    ``width=0`` collapses to mono, ``1`` leaves the mix unchanged, ``2`` doubles the side level.
    Mono input passes through.
    """

    type_name = "stereo_width"
    width = Param(float, 1.0, 0.0, 2.0, unit="x", doc="side gain (0 mono, 1 unchanged)")

    def process_block(self, audio: np.ndarray, sample_rate: float) -> np.ndarray:
        if audio.shape[0] != 2 or self.width == 1.0:
            return audio.copy()
        mid = 0.5 * (audio[0] + audio[1])
        side = 0.5 * (audio[0] - audio[1]) * np.float32(self.width)
        return np.stack([mid + side, mid - side]).astype(np.float32)


class SoftClip(EffectNode):
    """``tanh`` saturation: ``out = tanh(drive * x) / tanh(drive) * ceiling``.

    Adds harmonics and rounds peaks like a tape or console stage. Stateless.
    """

    type_name = "soft_clip"
    drive_db = Param(float, 3.0, 0.0, 36.0, unit="dB", doc="input gain into the curve")
    ceiling_db = Param(float, -0.3, -24.0, 0.0, unit="dB", doc="output level of a full-scale input")

    def process_block(self, audio: np.ndarray, sample_rate: float) -> np.ndarray:
        drive = 10 ** (self.drive_db / 20)
        ceiling = 10 ** (self.ceiling_db / 20)
        norm = np.tanh(drive)
        return (np.tanh(audio * np.float32(drive)) * np.float32(ceiling / norm)).astype(np.float32)


class WowFlutter(EffectNode):
    """Pitch wobble of a worn tape or record: a delay line modulated by two sines.

    The delay is ``depth_ms * (0.5 + 0.5 * (0.7 sin(2 pi wow_hz t) + 0.3 sin(2 pi flutter_hz t)))``
    (plus a fixed base), read with linear interpolation. State (the tail of the input and the
    modulation phase) carries across blocks, so streaming with ``reset=False`` matches
    whole-buffer processing sample for sample.
    """

    type_name = "wow_flutter"
    wow_hz = Param(float, 0.5, 0.05, 5.0, unit="Hz", doc="slow wobble rate")
    flutter_hz = Param(float, 6.0, 1.0, 30.0, unit="Hz", doc="fast wobble rate")
    depth_ms = Param(float, 1.5, 0.0, 20.0, unit="ms", doc="peak delay swing")

    def reset(self) -> None:
        self._history: np.ndarray | None = None
        self._pos = 0  # absolute sample index of the next input sample

    def process_block(self, audio: np.ndarray, sample_rate: float) -> np.ndarray:
        if not hasattr(self, "_history"):
            self.reset()
        ch, n = audio.shape
        max_delay = int(np.ceil((20.0 + 1.0) * 1e-3 * sample_rate)) + 2
        if self._history is None or self._history.shape[0] != ch:
            self._history = np.zeros((ch, max_delay), np.float32)
        buf = np.concatenate([self._history, audio], axis=1)
        t = (self._pos + np.arange(n)) / sample_rate
        mod = 0.7 * np.sin(2 * np.pi * self.wow_hz * t) + 0.3 * np.sin(2 * np.pi * self.flutter_hz * t)
        delay = (1.0 + self.depth_ms * (0.5 + 0.5 * mod)) * 1e-3 * sample_rate  # samples
        read = max_delay + np.arange(n) - delay
        i0 = np.floor(read).astype(np.int64)
        frac = (read - i0).astype(np.float32)
        out = buf[:, i0] * (1 - frac) + buf[:, i0 + 1] * frac
        self._history = buf[:, -max_delay:].copy()
        self._pos += n
        return out.astype(np.float32)


class VinylNoise(EffectNode):
    """Add record surface noise: a bed of hiss and random crackle pops.

    Noise is drawn from a generator seeded with ``seed`` and advanced sample by sample, so a
    stream of blocks gets exactly the noise a whole-buffer call gets.
    """

    type_name = "vinyl_noise"
    hiss_db = Param(float, -48.0, -96.0, -12.0, unit="dBFS", doc="level of the hiss bed")
    crackle_db = Param(float, -24.0, -96.0, 0.0, unit="dBFS", doc="peak level of crackle pops")
    crackle_rate = Param(float, 8.0, 0.0, 200.0, unit="pops/s", doc="average pops per second")
    seed = Param(int, 0, 0, 2**31 - 1, doc="noise seed")

    def reset(self) -> None:
        hiss_seq, pop_seq, amp_seq = np.random.SeedSequence(self.seed).spawn(3)
        self._rng_hiss = np.random.default_rng(hiss_seq)
        self._rng_pop = np.random.default_rng(pop_seq)
        self._rng_amp = np.random.default_rng(amp_seq)
        self._lp: np.ndarray | None = None  # one-pole low-pass state of the hiss, per channel
        self._tail = np.zeros(2, np.float32)  # last two crackle impulses (clicks span 3 samples)

    def _parameter_changed(self, key: str) -> None:
        if key == "seed":
            self.reset()

    def process_block(self, audio: np.ndarray, sample_rate: float) -> np.ndarray:
        from scipy.signal import lfilter

        if not hasattr(self, "_rng_hiss"):
            self.reset()
        ch, n = audio.shape
        # Draw sample-major so that any split into blocks consumes the same random stream.
        hiss = self._rng_hiss.standard_normal((n, ch)).T.astype(np.float32)
        pops = self._rng_pop.random(n)
        amps = self._rng_amp.random(n).astype(np.float32)
        # Hiss: one-pole low-passed white noise (softer than pure white).
        a = 0.6
        zi = self._lp if self._lp is not None and self._lp.shape[0] == ch else np.zeros((ch, 1))
        hiss, self._lp = lfilter([1 - a], [1, -a], hiss, axis=1, zi=zi)
        hiss = hiss.astype(np.float32) * np.float32(10 ** (self.hiss_db / 20) / 0.4)
        p = self.crackle_rate / sample_rate
        impulses = np.where(pops < p, (amps**3) * np.float32(10 ** (self.crackle_db / 20)), 0.0)
        # Each pop is a 3-sample click with alternating sign (a scratch, not a DC step).
        ext = np.concatenate([self._tail, impulses.astype(np.float32)])
        crackle = ext[2:] - 0.5 * ext[1:-1] - 0.5 * ext[:-2]
        self._tail = ext[-2:].copy()
        return (audio + hiss + crackle.astype(np.float32)[np.newaxis, :]).astype(np.float32)


#: Window of the true-peak interpolation filter (``scipy.signal.resample_poly``'s design).
_TP_WINDOW = ("kaiser", 10.0)

#: ITU-R BS.1770-4 Annex 2: the standard 4x true-peak interpolation filter, 4 phases of 12 taps.
BS1770_PHASES = np.array([
    [0.0017089843750, 0.0109863281250, -0.0196533203125, 0.0332031250000, -0.0594482421875, 0.1373291015625,
     0.9721679687500, -0.1022949218750, 0.0476074218750, -0.0266113281250, 0.0148925781250, -0.0083007812500],
    [-0.0291748046875, 0.0292968750000, -0.0517578125000, 0.0891113281250, -0.1665039062500, 0.4650878906250,
     0.7797851562500, -0.2003173828125, 0.1015625000000, -0.0582275390625, 0.0330810546875, -0.0189208984375],
    [-0.0189208984375, 0.0330810546875, -0.0582275390625, 0.1015625000000, -0.2003173828125, 0.7797851562500,
     0.4650878906250, -0.1665039062500, 0.0891113281250, -0.0517578125000, 0.0292968750000, -0.0291748046875],
    [-0.0083007812500, 0.0148925781250, -0.0266113281250, 0.0476074218750, -0.1022949218750, 0.9721679687500,
     0.1373291015625, -0.0594482421875, 0.0332031250000, -0.0196533203125, 0.0109863281250, 0.0017089843750],
])


def true_peak_bs1770(audio: np.ndarray) -> float:
    """True peak of ``audio`` as ITU-R BS.1770-4 Annex 2 measures it (its 48-tap 4x interpolation
    filter), and of the samples themselves, linear. Reads full-band content (noise, cymbals near
    Nyquist) higher than :func:`true_peak`'s longer, softer filter; :class:`TruePeakLimiter` keeps
    both under its ceiling."""
    from scipy.signal import lfilter

    x = np.atleast_2d(np.asarray(audio, dtype=np.float64))
    if x.shape[1] == 0:
        return 0.0
    return float(max([np.abs(x).max()] + [np.abs(lfilter(h, 1.0, x, axis=1)).max() for h in BS1770_PHASES]))


def true_peak(audio: np.ndarray, oversample: int = 4) -> float:
    """True peak of ``audio`` (``(channels, samples)`` or ``(samples,)``), linear.

    The largest absolute value of the signal upsampled ``oversample`` times (as ITU-R BS.1770-4
    Annex 2 measures dBTP with 4x oversampling; here a longer windowed-sinc than its 48 taps,
    which under-read content near Nyquist by up to 0.4 dB), and of the samples themselves.
    ``20 * log10(true_peak(x))`` is dBTP.
    """
    from scipy.signal import resample_poly

    x = np.atleast_2d(np.asarray(audio, dtype=np.float64))
    if x.shape[1] == 0:
        return 0.0
    up = resample_poly(x, oversample, 1, axis=1, window=_TP_WINDOW)
    return float(max(np.abs(x).max(), np.abs(up).max()))


class TruePeakLimiter(EffectNode):
    """Brick-wall limiter on the true (inter-sample) peak, with look-ahead.

    The detector upsamples 4x with the same interpolation filter as :func:`true_peak`, with
    ``scipy.signal.resample_poly``'s default one and with the ITU-R BS.1770-4 meter's
    (:func:`true_peak_bs1770`), and takes the largest absolute value around each sample over all
    channels (the gain is linked). The
    gain reduction each sample needs is held for the look-ahead window, released linearly in dB,
    and smoothed over the look-ahead so it ramps down before a peak instead of clipping it: the
    output's true peak stays at or below ``ceiling_db`` (measured with :func:`true_peak`).

    The output is the input delayed by :attr:`latency` samples when streamed with
    ``reset=False`` (a chain compensates it); a whole-buffer call is aligned and as long as its
    input. State carries across blocks, so a stream of blocks gives exactly the whole-buffer
    output.
    """

    type_name = "true_peak_limiter"
    ceiling_db = Param(float, -1.0, -24.0, 0.0, unit="dBTP", doc="highest true peak of the output")
    gain_db = Param(float, 0.0, 0.0, 24.0, unit="dB", doc="gain into the limiter")
    release_ms = Param(float, 80.0, 1.0, 2000.0, unit="ms", doc="time to recover 10 dB of gain reduction")
    lookahead_ms = Param(float, 2.0, 0.5, 10.0, unit="ms", doc="how early the gain ramps down before a peak")

    #: Oversampling of the detector and the length of its FIR (resample_poly's: 20 taps a phase).
    OVERSAMPLE = 4
    TAPS = 81
    #: Safety margin under the ceiling (dB).
    MARGIN_DB = 0.02
    #: Samples on either side of a peak that get its full gain reduction: the interpolated peak
    #: is built from the samples under the interpolation filter, so the gain is held flat over
    #: all of them (half the filter, in samples) and output peak = gain x input peak exactly.
    SPREAD = 11

    def _window(self, sr: float) -> int:
        return max(1, int(round(self.lookahead_ms * 1e-3 * sr)))

    @property
    def latency(self) -> int:
        sr = self._sample_rate or 44100.0
        return self._window(sr) + self._fir_delay() + self.SPREAD

    def _fir_delay(self) -> int:
        return int(np.ceil((self.TAPS - 1) / 2 / self.OVERSAMPLE))

    def reset(self) -> None:
        self._state: dict | None = None

    def _parameter_changed(self, key: str) -> None:
        if key == "lookahead_ms":  # changes the latency: a new stream
            self.reset()

    def _new_state(self, ch: int, sr: float) -> dict:
        from scipy.signal import firwin

        # The detector reads the peak through three 4x interpolators and keeps the largest:
        # true_peak's (kaiser 10), resample_poly's default (kaiser 5, flatter near Nyquist) and the
        # BS.1770 meter's (delayed 4 samples to line up with the 81-tap ones), so the output
        # stays under the ceiling whichever of these meters reads it (full-band noise differs by
        # 0.4 dB between them).
        phases = []
        centre = 1.0
        for window in (_TP_WINDOW, ("kaiser", 5.0)):
            h = firwin(self.TAPS, 1.0 / self.OVERSAMPLE, window=window) * self.OVERSAMPLE
            # phase 0 of a windowed sinc at 1/OVERSAMPLE is the delayed input itself times its
            # centre tap (the other taps sit on the sinc's zeros): the samples' own term covers it
            centre = max(centre, float(np.abs(h[0 :: self.OVERSAMPLE]).sum()))
            phases += [h[p :: self.OVERSAMPLE] for p in range(1, self.OVERSAMPLE)]
        pad = np.zeros(self._fir_delay() - BS1770_PHASES.shape[1] // 2)
        phases += [np.concatenate([pad, b]) for b in BS1770_PHASES]
        w = self._window(sr)
        return {
            "ch": ch, "sr": sr, "w": w,
            "phases": phases,
            "centre": centre,
            "zi": [np.zeros((ch, len(b) - 1)) for b in phases],
            "xhist": np.zeros((ch, self._fir_delay())),  # samples seen by the FIR, not yet by 'need'
            "need_hist": np.zeros(w + 1 + 2 * self.SPREAD),  # gain reduction needed (dB), recent samples
            "rel": 0.0,  # released reduction (dB) at the last sample
            "rel_hist": np.zeros(w + 1),  # released reduction, last w+1 samples (smoothing window)
            "delay": np.zeros((ch, w + self._fir_delay() + self.SPREAD), np.float32),  # the audio delay line
        }

    def _gain_db(self, x: np.ndarray, st: dict) -> np.ndarray:
        """Smoothed gain reduction (dB, >= 0) for the samples leaving the delay line with ``x``."""
        from scipy.signal import lfilter

        n = x.shape[1]
        xd = x.astype(np.float64) * 10 ** (self.gain_db / 20)
        peak = np.zeros(n)
        for p, b in enumerate(st["phases"]):
            y, st["zi"][p] = lfilter(b, 1.0, xd, axis=1, zi=st["zi"][p])
            peak = np.maximum(peak, np.abs(y).max(axis=0))
        # the samples themselves, aligned with the FIR's delay
        lagged = np.concatenate([st["xhist"], xd], axis=1)
        st["xhist"] = lagged[:, n:]
        peak = np.maximum(peak, st["centre"] * np.abs(lagged[:, :n]).max(axis=0))
        ceiling = 10 ** ((self.ceiling_db - self.MARGIN_DB) / 20)
        need = np.maximum(0.0, 20 * np.log10(np.maximum(peak, 1e-12) / ceiling))
        w = st["w"]
        from scipy.ndimage import maximum_filter1d

        # hold each need over the look-ahead plus SPREAD samples either side (a trailing window
        # of S samples; the audio is delayed so that the smoothed gain below covers them all)
        h = st["need_hist"].size
        size = h + 1
        ext = np.concatenate([st["need_hist"], need])
        held = maximum_filter1d(ext, size=size, origin=(size - 1) // 2, mode="nearest")[h:]
        st["need_hist"] = ext[-h:]
        # linear release in dB: rel[i] = max(held[i], rel[i-1] - rate)
        rate = 10.0 / max(self.release_ms * 1e-3 * st["sr"], 1.0)
        idx = np.arange(n, dtype=np.float64)
        rel = np.maximum(np.maximum.accumulate(held + idx * rate) - idx * rate, st["rel"] - (idx + 1) * rate)
        st["rel"] = float(rel[-1]) if n else st["rel"]
        ext = np.concatenate([st["rel_hist"], rel])
        cs = np.concatenate([[0.0], np.cumsum(ext)])
        smooth = (cs[w + 2 :] - cs[1 : n + 1]) / (w + 1)
        st["rel_hist"] = ext[-(w + 1) :]
        return np.maximum(smooth, 0.0)

    def _push(self, x: np.ndarray) -> np.ndarray:
        st = self._state
        g = 10 ** ((self.gain_db - self._gain_db(x, st)) / 20)
        line = np.concatenate([st["delay"], x], axis=1)
        n = x.shape[1]
        st["delay"] = line[:, n:]
        return (line[:, :n] * g).astype(np.float32)

    def _run(self, audio, sample_rate, buffer_size, *, reset, frontend):  # noqa: ANN001
        ch = audio.shape[0]
        if reset or self._state is None or self._state["ch"] != ch or self._state["sr"] != sample_rate:
            self._state = self._new_state(ch, sample_rate)
        if not reset:
            return self._push(audio)
        # whole buffer: push it and `latency` samples of silence, drop the first `latency`
        lat = self._state["delay"].shape[1]
        parts = [self._push(audio[:, i : i + buffer_size]) for i in range(0, audio.shape[1], buffer_size)]
        parts.append(self._push(np.zeros((ch, lat), np.float32)))
        out = np.concatenate(parts, axis=1)[:, lat:]
        self._state = None
        return out
