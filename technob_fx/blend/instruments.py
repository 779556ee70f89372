"""Instruments for the generated score: notes cut from the user's recordings, plus synthesis.

- :func:`cut_samples`: pitched one-shots and sustained notes cut at transcribed note onsets of a
  recording (the harmonic part for Lo-Fi, where drums would bleed in), ranked by how exposed the
  note is (few other notes starting or sounding with it), its velocity and its length.
- :class:`Sampler`: plays a MIDI pitch with the sample nearest in pitch, re-pitched by resampling
  (a classic sampler: pitch and playback speed move together) at the output rate; a note longer than
  its sample decays naturally; every note gets a release fade.
- :func:`render_score`: the parts of a :class:`technob_fx.blend.compose.Score` as stereo audio:
  ``lead``, ``chords``, ``bass`` and ``drums``. The blend picks the instrumentation: the classical
  sampler plays the lead and sustained chords below 0.5-0.6, the Lo-Fi sampler and a synthesised
  electric piano take over above, the bass is synthesised (a round sine with a little second
  harmonic), the drums are the one-shot hits learned from the Lo-Fi recordings.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Longest sample kept, s.
MAX_SAMPLE_S = 1.6
#: Lowest :func:`pitch_purity` of a kept sample.
MIN_PURITY = 0.6
#: Release fade of every note, s.
RELEASE_S = 0.12


def cut_samples(mono: np.ndarray, sr: float, notes: list, *, limit: int = 12, source: str = ""
                ) -> list[tuple[float, int, np.ndarray, dict[str, Any]]]:
    """Pitched note samples cut at the onsets of transcribed notes.

    Parameters
    ----------
    mono : np.ndarray, float32, ``(samples,)``
        The recording (or its harmonic part).
    sr : float
        Hz.
    notes : list of NoteEvent
        Its transcription.
    limit : int
        Samples returned at most.
    source : str
        Recorded in each sample's info.

    Returns
    -------
    list of ``(score, MIDI pitch, samples float32 (n,), info)``, best first.
    """
    if not notes or mono.size < sr:
        return []
    arr = np.array([(n.onset, n.offset, n.pitch, n.velocity) for n in notes], float)
    out = []
    for i, (on, off, pitch, vel) in enumerate(arr):
        dur = off - on
        if dur < 0.15 or not 36 <= pitch <= 96:
            continue
        others = np.ones(len(arr), bool)
        others[i] = False
        starting = others & (arr[:, 0] > on - 0.03) & (arr[:, 0] < on + min(dur, 0.5))
        sounding = others & (arr[:, 0] <= on - 0.03) & (arr[:, 1] > on + 0.02)
        exposure = 1.0 / (1.0 + float(np.sum(starting)) + 0.5 * float(np.sum(sounding)))
        a = int(max(0.0, on - 0.01) * sr)
        b = min(mono.size, a + int(MAX_SAMPLE_S * sr), int((on + max(dur, 0.3) + 0.1) * sr))
        seg = mono[a:b]
        if seg.size < int(0.2 * sr):
            continue
        rms = float(np.sqrt(np.mean(seg ** 2)))
        if rms < 1e-3:
            continue
        purity = pitch_purity(seg, sr, int(pitch))
        if purity < MIN_PURITY:
            continue  # the transcribed pitch is not what the cut mostly sounds (bleed, octave error)
        score = exposure * purity * (vel / 127.0) * min(dur, 1.0)
        out.append((score, int(pitch), seg, {"source": source, "at": round(float(on), 3),
                                             "seconds": round(seg.size / sr, 3), "purity": round(purity, 3)}))
    out.sort(key=lambda x: -x[0])
    chosen: list[tuple[float, int, np.ndarray, dict[str, Any]]] = []
    for s in out:
        if sum(abs(c[1] - s[1]) <= 1 for c in chosen) >= 2:
            continue  # spread over pitches
        chosen.append((s[0], s[1], _finish(s[2], sr), s[3]))
        if len(chosen) >= limit:
            break
    return chosen


def pitch_purity(seg: np.ndarray, sr: float, pitch: int) -> float:
    """Share of the pitched energy (60 Hz - 4 kHz spectral peaks, first 0.5 s) that belongs to
    ``pitch``'s harmonic series (its pitch class and fifth): 1 for a clean note, low when other
    notes bleed in or the transcribed pitch is wrong."""
    x = np.asarray(seg[: int(0.5 * sr)], np.float64)
    n = 1 << int(np.ceil(np.log2(max(x.size, 256))))
    mag = np.abs(np.fft.rfft(x * np.hanning(x.size), n))
    f = np.fft.rfftfreq(n, 1.0 / sr)
    ok = (f >= 60.0) & (f <= 4000.0)
    if not ok.any() or mag[ok].sum() <= 0:
        return 0.0
    k = 9
    floor = np.convolve(mag, np.ones(k) / k, mode="same")
    peaks = np.maximum(mag - 2.0 * floor, 0.0)[ok] ** 2
    pcs = np.round(69 + 12 * np.log2(f[ok] / 440.0)).astype(int) % 12
    c = np.bincount(pcs, weights=peaks, minlength=12)
    tot = float(c.sum())
    if tot <= 0:
        return 0.0
    pc = int(pitch) % 12
    return float((c[pc] + c[(pc + 7) % 12] + c[(pc + 4) % 12] * 0.5) / tot)


def _finish(seg: np.ndarray, sr: float) -> np.ndarray:
    """2 ms fade in, 40 ms fade out, peak 0.9."""
    x = np.asarray(seg, np.float32).copy()
    k_in, k_out = min(x.size, int(0.002 * sr)), min(x.size, int(0.04 * sr))
    x[:k_in] *= np.linspace(0.0, 1.0, k_in, dtype=np.float32)
    x[x.size - k_out:] *= np.linspace(1.0, 0.0, k_out, dtype=np.float32)
    return (x / max(float(np.abs(x).max()), 1e-6) * 0.9).astype(np.float32)


class Sampler:
    """Plays pitches with recorded notes, re-pitched by resampling.

    Parameters
    ----------
    samples : list of ``(MIDI pitch, float32 (n,))``
        At ``source_sr``.
    source_sr, out_sr : float
        Hz of the samples and of the output.
    max_shift : int
        Semitones a sample may be moved; a pitch further from every sample returns ``None``.
    """

    def __init__(self, samples: list[tuple[int, np.ndarray]], source_sr: float, out_sr: float,
                 max_shift: int = 7) -> None:
        self.samples = [(int(p), np.asarray(x, np.float32)) for p, x in samples]
        self.pitches = np.array([p for p, _ in self.samples], int)
        self.source_sr, self.out_sr, self.max_shift = float(source_sr), float(out_sr), int(max_shift)

    def __bool__(self) -> bool:
        return bool(self.samples)

    def note(self, pitch: int, seconds: float, velocity: float) -> np.ndarray | None:
        """Mono float32 note of ``seconds`` (+ release), or ``None`` when no sample is near."""
        if not self.samples:
            return None
        d = np.abs(self.pitches - int(pitch))
        i = int(np.argmin(d))
        if d[i] > self.max_shift:
            return None
        p0, x = self.samples[i]
        step = 2.0 ** ((int(pitch) - p0) / 12.0) * self.source_sr / self.out_sr
        n = min(int((seconds + RELEASE_S) * self.out_sr), int((x.size - 1) / step))
        if n <= 8:
            return None
        y = np.interp(np.arange(n) * step, np.arange(x.size), x).astype(np.float32)
        hold = min(n, int(seconds * self.out_sr))
        if n > hold:
            y[hold:] *= np.linspace(1.0, 0.0, n - hold, dtype=np.float32)
        k = min(n, int(0.01 * self.out_sr))
        y[n - k:] *= np.linspace(1.0, 0.0, k, dtype=np.float32)
        return y * float(velocity)


def epiano(pitch: int, seconds: float, sr: float, velocity: float) -> np.ndarray:
    """A synthesised electric piano (two-operator FM, bell-like attack, slow decay)."""
    n = int((seconds + RELEASE_S) * sr)
    t = np.arange(n) / sr
    f = 440.0 * 2.0 ** ((pitch - 69) / 12.0)
    mod = np.sin(2 * np.pi * f * t) * (1.2 * np.exp(-t / 0.3) + 0.15)
    sig = np.sin(2 * np.pi * f * t + mod) * np.exp(-t / 1.4) * np.minimum(1.0, t / 0.004)
    hold = int(seconds * sr)
    if n > hold:
        sig[hold:] *= np.linspace(1.0, 0.0, n - hold)
    return (0.5 * velocity * sig).astype(np.float32)


def bass(pitch: int, seconds: float, sr: float, velocity: float) -> np.ndarray:
    """A synthesised round bass (sine + soft second harmonic)."""
    n = int((seconds + RELEASE_S) * sr)
    t = np.arange(n) / sr
    f = 440.0 * 2.0 ** ((pitch - 69) / 12.0)
    sig = np.tanh(1.5 * (np.sin(2 * np.pi * f * t) + 0.25 * np.sin(4 * np.pi * f * t)))
    env = np.minimum(1.0, t / 0.008) * np.exp(-t / 2.5)
    hold = int(seconds * sr)
    if n > hold:
        env[hold:] *= np.linspace(1.0, 0.0, n - hold)
    return (0.55 * velocity * sig * env).astype(np.float32)


def pad(pitch: int, seconds: float, sr: float, velocity: float) -> np.ndarray:
    """A synthesised soft string pad (detuned band-limited saws, slow attack) for notes no sample covers."""
    n = int((seconds + RELEASE_S) * sr)
    t = np.arange(n) / sr
    f = 440.0 * 2.0 ** ((pitch - 69) / 12.0)
    sig = np.zeros(n)
    for det in (-0.003, 0.003):
        ph = 2 * np.pi * f * (1 + det) * t
        sig += sum(np.sin(k * ph) / k for k in range(1, 7))
    env = np.minimum(1.0, t / 0.15)
    hold = int(seconds * sr)
    if n > hold:
        env[hold:] *= np.linspace(1.0, 0.0, n - hold)
    return (0.12 * velocity * sig * env).astype(np.float32)


def _add(buf: np.ndarray, start: int, x: np.ndarray, pan: float) -> None:
    """Add mono ``x`` into stereo ``buf`` at ``start`` with equal-power ``pan`` (-1 left .. 1 right)."""
    if start >= buf.shape[1] or x is None:
        return
    m = min(x.size, buf.shape[1] - start)
    a = (pan + 1.0) * np.pi / 4.0
    buf[0, start:start + m] += np.cos(a) * x[:m]
    buf[1, start:start + m] += np.sin(a) * x[:m]


def resample_hit(h: np.ndarray, source_sr: float, out_sr: float) -> np.ndarray:
    """A drum one-shot at the output rate (polyphase resampling)."""
    if source_sr == out_sr:
        return np.asarray(h, np.float32)
    from fractions import Fraction

    from scipy.signal import resample_poly

    fr = Fraction(int(round(out_sr)), int(round(source_sr))).limit_denominator(1000)
    return resample_poly(h, fr.numerator, fr.denominator).astype(np.float32)


def render_score(score: Any, *, tempo: float, sr: float, blend: float, samplers: dict[str, Sampler],
                 hits: dict[str, list[np.ndarray]], hits_sr: float, rng: np.random.Generator
                 ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Play a :class:`~technob_fx.blend.compose.Score`.

    Parameters
    ----------
    score : Score
    tempo : float
        BPM.
    sr : float
        Output rate, Hz.
    blend : float
        Picks the instruments (see the module docstring).
    samplers : dict
        ``{"classical": Sampler, "lofi": Sampler}`` (either may be empty).
    hits : dict
        ``{band: [one-shot float32, ...]}`` at ``hits_sr``.
    rng : np.random.Generator
        Chooses the kit and humanises timing (+-4 ms) and velocity.

    Returns
    -------
    parts : dict
        ``{"lead", "chords", "bass", "drums"}``: float32 ``(2, samples)``, ``samples`` =
        ``bars * 4`` beats at ``tempo`` (tails past the end are cut).
    info : dict
        Instruments used and how many notes each played (sampled / synthesised).
    """
    beat_s = 60.0 / tempo
    total = int(round(score.bars * 4 * beat_s * sr))
    parts = {k: np.zeros((2, total), np.float32) for k in ("lead", "chords", "bass", "drums")}
    cl, lo = samplers.get("classical"), samplers.get("lofi")
    lead_inst = (lo if lo else cl) if blend >= 0.6 else (cl if cl else lo)
    lead_name = ("lofi" if lo else "classical") if blend >= 0.6 else ("classical" if cl else "lofi")
    used: dict[str, int] = {}

    def count(k: str) -> None:
        used[k] = used.get(k, 0) + 1

    for part, start, length, pitch, vel in score.notes:
        t = start * beat_s + (float(rng.normal(0.0, 0.004)) if part != "bass" else 0.0)
        i = int(round(max(t, 0.0) * sr))
        sec = length * beat_s
        v = vel * float(rng.uniform(0.9, 1.0))
        if part == "lead":
            y = lead_inst.note(pitch, sec, v) if lead_inst else None
            if y is None:
                y = epiano(pitch, sec, sr, v)
                count("lead:epiano (synth)")
            else:
                count(f"lead:{lead_name} sampler")
            _add(parts["lead"], i, y, 0.25)
        elif part == "chords":
            if blend < 0.5:
                y = cl.note(pitch, sec, 0.7 * v) if cl else None
                count("chords:classical sampler" if y is not None else "chords:pad (synth)")
                _add(parts["chords"], i, pad(pitch, sec, sr, v * (0.6 if y is not None else 1.0)), -0.3)
                if y is not None:
                    _add(parts["chords"], i, y, -0.3)
            else:
                _add(parts["chords"], i, epiano(pitch, sec, sr, 0.8 * v), -0.3)
                count("chords:epiano (synth)")
                y = lo.note(pitch, sec, 0.35 * v) if lo else None
                if y is not None:
                    _add(parts["chords"], i, y, -0.3)
                    count("chords:lofi sampler")
        else:
            _add(parts["bass"], i, bass(pitch, sec, sr, v), 0.0)
            count("bass:synth")
    kit = {b: resample_hit(hs[int(rng.integers(len(hs)))], hits_sr, sr) for b, hs in hits.items() if hs}
    for beat, band, vel in score.hits:
        if band not in kit:
            continue
        t = beat * beat_s + float(rng.normal(0.0, 0.003))
        _add(parts["drums"], int(round(max(t, 0.0) * sr)), vel * kit[band], 0.0)
        count(f"drums:{band} one-shot")
    return parts, {"lead": lead_name, "notes_played": dict(sorted(used.items()))}
