"""Learned beat and downbeat activation: a small temporal convolutional network (numpy inference).

The network reads the shared front-end's log-mel spectrogram and gives, per frame (86 per second,
:data:`technob_fx.core.frontend.FPS`), the probability that a beat and that a downbeat falls on it.
The beat tracker (:mod:`technob_fx.stages.beats`) uses the beat activation twice: for the tempo
octave (where its beats stand out, :func:`peak_height`, and its activation repeats at half
the beat period, the pulse is twice as fast: half-time drums over drum and bass), and, on music
with a drum kit, added to the onsets that place the beats (weight 1 x trust), which puts a
breakbeat or a broken kick on its beats rather than on its busiest sixteenths. The downbeat
activation, minus its mean, joins the hand-made score of each 4/4 bar phase on music with a drum
kit (weight 3 x trust): a flat, unsure activation weighs little.

The first weights learned from music rendered in code only, and on real recordings they were sure
of themselves and wrong: on ``../shared``'s drum-and-bass track the beat activation peaked
0.93-0.97 on the off-beats, and it was on the beat in 3 of the 7 real recordings (against
madmom's beats) and in 3 of 11 real drum loops. The shipped weights also learned from 210 tracks
built on 7 real drum loops (Sonic Pi's CC0 pack: the amen break, percussion, garage and industrial
loops) under rendered bass and chords: on the beat in 7 of 7 recordings, 3 of the 4 loops never
trained on, and every trap fixture.

Architecture (Davies & Böck 2019, "Temporal convolutional networks for musical audio beat
tracking", made smaller): 32 log-mel bands and their positive flux -> a 3-tap convolution -> residual
blocks of dilated 5-tap convolutions (dilations 1 to 512 frames, so each output sees about +-24 s) ->
two logistic outputs. About 40,000 parameters, shipped as ``models/beat_tcn.npz`` (no download, no
torch at run time). ``training/train_beats.py`` reproduces the weights from music rendered by
:mod:`technob_fx.synth.traps` with exact labels (seeds disjoint from the benchmark's fixtures) and
from the real drum loops of :data:`benchmarks.datasets.LOOPS` marked for training.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..core.frontend import Frontend

#: The shipped weights.
WEIGHTS = Path(__file__).parent / "models" / "beat_tcn.npz"
#: Mel bands after pooling the front-end's 128 (4 adjacent bands averaged, in dB).
N_BANDS = 32
#: Flux lag, frames (as the front-end's onset bands).
FLUX_LAG = 2
#: :func:`confidence` at and above which the activation is trusted fully, and at and below which
#: not at all (linear in between). On the real recordings of ``../shared/data/music`` the median
#: activation peak is 0.41-0.83 (orchestra 0.41, drum and bass 0.76); on real drum loops
#: 0.79-0.98: where the network is unsure, the tracker leans on its hand-made signals.
TRUST_FULL = 0.9
TRUST_NONE = 0.6


def features(log_mel: np.ndarray) -> np.ndarray:
    """Network input from a log-mel spectrogram.

    Parameters
    ----------
    log_mel : np.ndarray, shape ``(n_frames, 128)``
        ``10 log10`` mel power (the front-end's :meth:`~technob_fx.core.frontend.Frontend.log_mel`).

    Returns
    -------
    np.ndarray, float32, shape ``(2 * N_BANDS, n_frames)``
        Pooled level relative to the track's loudest band-frame (``/ 80 dB``, in ``[-1, 0]``) and
        its positive flux over :data:`FLUX_LAG` frames (``/ 20 dB``).
    """
    lm = np.asarray(log_mel, np.float32)
    n, m = lm.shape
    pooled = lm[:, : (m // N_BANDS) * N_BANDS].reshape(n, N_BANDS, -1).mean(axis=2)
    top = float(pooled.max()) if pooled.size else 0.0
    level = np.maximum(pooled - top, -80.0) / 80.0
    flux = np.zeros_like(pooled)
    if n > FLUX_LAG:
        flux[FLUX_LAG:] = np.maximum(pooled[FLUX_LAG:] - pooled[:-FLUX_LAG], 0.0) / 20.0
    return np.ascontiguousarray(np.concatenate([level, flux], axis=1).T.astype(np.float32))


def _elu(x: np.ndarray) -> np.ndarray:
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0.0)))


def _conv(x: np.ndarray, w: np.ndarray, b: np.ndarray, dilation: int = 1) -> np.ndarray:
    """'Same' 1-D convolution (cross-correlation, zero padding) of ``x (c_in, n)`` with ``w (c_out, c_in, k)``."""
    c_out, _, k = w.shape
    n = x.shape[1]
    half = dilation * (k - 1) // 2
    xp = np.pad(x, ((0, 0), (half, half)))
    y = np.broadcast_to(b[:, None], (c_out, n)).astype(np.float32, copy=True)
    for j in range(k):
        y += w[:, :, j] @ xp[:, j * dilation : j * dilation + n]
    return y


class BeatNet:
    """The network with its weights (numpy arrays from a ``.npz`` written by the training script).

    Parameters
    ----------
    path : Path
        ``.npz`` with ``inp.w/b``, ``out.w/b``, ``block{i}.conv.w/b``, ``block{i}.mix.w/b`` and
        ``dilations``.
    """

    def __init__(self, path: Path = WEIGHTS) -> None:
        with np.load(path) as z:
            self.params = {k: z[k].astype(np.float32) for k in z.files if k != "dilations"}
            self.dilations = [int(d) for d in z["dilations"]]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Logits ``(2, n_frames)`` (beat, downbeat) of input ``x (2 * N_BANDS, n_frames)``."""
        p = self.params
        h = _elu(_conv(x, p["inp.w"], p["inp.b"]))
        for i, d in enumerate(self.dilations):
            z = _elu(_conv(h, p[f"block{i}.conv.w"], p[f"block{i}.conv.b"], d))
            h = h + _conv(z, p[f"block{i}.mix.w"], p[f"block{i}.mix.b"])
        return _conv(h, p["out.w"], p["out.b"])


def peak_height(act: np.ndarray, percentile: float = 50.0) -> float:
    """A percentile of the heights of the local maxima above 0.1 of a beat activation ``act``
    ``(n_frames,)`` (0 when there are none)."""
    a = np.asarray(act)
    if a.size < 3:
        return 0.0
    k = np.flatnonzero((a[1:-1] >= a[:-2]) & (a[1:-1] > a[2:]) & (a[1:-1] > 0.1)) + 1
    return float(np.percentile(a[k], percentile)) if k.size else 0.0


def confidence(act: np.ndarray) -> float:
    """How sure the network is on this audio: the median height of the local maxima above 0.1 of
    its beat activation ``act`` ``(n_frames,)`` (0 when there are none)."""
    return peak_height(act, 50.0)


def trust(frontend: Frontend) -> float:
    """Weight in ``[0, 1]`` the beat tracker gives the activation of this audio (from
    :func:`confidence`, between :data:`TRUST_NONE` and :data:`TRUST_FULL`); cached on the
    front-end (the tempo octave, the beats and the downbeats each ask)."""

    def compute() -> float:
        c = confidence(beat_activation(frontend)[0])
        return float(np.clip((c - TRUST_NONE) / (TRUST_FULL - TRUST_NONE), 0.0, 1.0))

    return frontend.get("beat_trust", compute)


@functools.lru_cache(maxsize=1)
def _shipped() -> BeatNet:
    return BeatNet(WEIGHTS)


def beat_activation(frontend: Frontend) -> np.ndarray:
    """Beat and downbeat probability per front-end frame, ``(2, n_frames)`` float32 in ``[0, 1]``.

    Row 0: a beat (any beat, downbeats included) on the frame; row 1: a downbeat. Cached on the
    front-end.
    """

    def compute() -> np.ndarray:
        lm = frontend.log_mel()
        if lm.shape[0] == 0:
            return np.zeros((2, 0), np.float32)
        logits = _shipped()(features(lm))
        act = (1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30)))).astype(np.float32)
        act.setflags(write=False)
        return act

    return frontend.get("beat_activation", compute)
