"""Novelty measured on the audio: the longest verbatim copy of a source, after undoing re-pitching."""

from __future__ import annotations

import numpy as np
import pytest

SR = 22050


def _melody(seconds: float, seed: int, sr: float = SR) -> np.ndarray:
    """Random notes (0.15-0.4 s, MIDI 52-84) with a random harmonic timbre each: no repeats."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    x = np.zeros(n)
    t0 = 0.0
    while t0 < seconds:
        dur = float(rng.uniform(0.15, 0.4))
        f = 440.0 * 2 ** ((int(rng.integers(52, 85)) - 69) / 12)
        t = np.arange(int((dur + 0.3) * sr)) / sr
        amps = rng.uniform(0.1, 1.0, 8) / np.arange(1, 9)
        note = sum(a * np.sin(2 * np.pi * (h + 1) * f * t) for h, a in enumerate(amps) if (h + 1) * f < sr / 2)
        note = note * np.exp(-t / float(rng.uniform(0.1, 0.4))) * np.minimum(1.0, t / 0.005)
        i = int(t0 * sr)
        m = min(note.size, n - i)
        x[i:i + m] += note[:m]
        t0 += dur
    return (x / np.abs(x).max() * 0.5).astype(np.float32)


@pytest.fixture(scope="module")
def bank():
    from technob_fx.blend.novelty import SourceBank

    return SourceBank.from_signals({"a": (_melody(20.0, 1), SR), "b": (_melody(20.0, 2), SR)})


def _plant(out: np.ndarray, src: np.ndarray, *, src_at: float, seconds: float, semitones: int, out_at: float,
           gain_db: float = 0.0) -> np.ndarray:
    step = 2.0 ** (semitones / 12.0)
    seg = src[int(src_at * SR): int((src_at + seconds * step) * SR)]
    y = np.interp(np.arange(int(seg.size / step)) * step, np.arange(seg.size), seg)  # a sampler's re-pitch
    y = y * np.sqrt(np.mean(out ** 2) / np.mean(y ** 2)) * 10 ** (gain_db / 20)
    o = out.copy()
    o[int(out_at * SR): int(out_at * SR) + y.size] += y.astype(np.float32)
    return o


def test_planted_copy_is_found_with_its_length_place_and_shift(bank):
    from technob_fx.blend.novelty import longest_copy, resample_candidates

    other = _melody(12.0, 7)
    mix = _plant(other, _melody(20.0, 1), src_at=5.0, seconds=3.0, semitones=3, out_at=4.0)
    got = longest_copy(mix, SR, bank, resample_candidates())
    assert got["source"] == "a" and got["semitones"] == 3, got
    assert 2.4 <= got["seconds"] <= 3.4, got
    assert got["source_at"] == pytest.approx(5.0, abs=0.6) and got["output_at"] == pytest.approx(4.0, abs=0.6), got
    # the same copy at another output rate (44.1 kHz) and shifted down
    mix2 = _plant(other, _melody(20.0, 2), src_at=8.0, seconds=2.5, semitones=-4, out_at=1.0)
    from technob_fx.core.io import resample

    got2 = longest_copy(resample(mix2, SR, 44100), 44100, bank, resample_candidates())
    assert got2["source"] == "b" and got2["semitones"] == -4 and 1.9 <= got2["seconds"] <= 2.9, got2


def test_new_material_and_reversed_sources_give_no_copy(bank):
    from technob_fx.blend.novelty import longest_copy, resample_candidates

    other = _melody(12.0, 7)
    assert longest_copy(other, SR, bank, resample_candidates())["seconds"] < 0.8
    mix = _plant(other, _melody(20.0, 1), src_at=5.0, seconds=3.0, semitones=0, out_at=4.0)
    assert longest_copy(mix, SR, bank.reversed(), resample_candidates())["seconds"] < 1.2  # chance level
    # a copy the candidates do not undo (re-pitched +3, searched only at 0) is not claimed as long
    shifted = _plant(other, _melody(20.0, 1), src_at=5.0, seconds=3.0, semitones=3, out_at=4.0)
    assert longest_copy(shifted, SR, bank, [(0, 1.0)])["seconds"] < 0.8


def test_sustained_chord_is_not_a_copy():
    """Same notes, different recording: a held chord matches every lag, so it is not called a copy."""
    from technob_fx.blend.novelty import SourceBank, longest_copy

    t = np.arange(int(6.0 * SR)) / SR

    def chord(seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        x = sum(rng.uniform(0.5, 1.0) * np.sin(2 * np.pi * 440.0 * 2 ** ((m - 69) / 12) * k * t) / k
                for m in (57, 60, 64) for k in (1, 2, 3))
        return (x * 0.1).astype(np.float32)

    bank = SourceBank.from_signals({"held": (chord(1), SR)})
    assert longest_copy(chord(2), SR, bank, [(0, 1.0)], contrast=0.0)["seconds"] > 3.0  # cosine alone
    assert longest_copy(chord(2), SR, bank, [(0, 1.0)])["seconds"] < 0.8
