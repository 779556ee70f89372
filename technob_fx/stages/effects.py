"""technob's own effect nodes, used beside pedalboard's built-ins in presets.

* :class:`StereoWidth` - mid/side width (stateless).
* :class:`SoftClip` - tanh saturation with make-up (stateless).
* :class:`WowFlutter` - tape-speed wobble as a modulated fractional delay (stateful, streams
  seamlessly).
* :class:`VinylNoise` - crackle and hiss of a record (seeded, streams seamlessly).
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
