"""Kick/snare/hat found by their sound (blend learning), not by band energy."""

from __future__ import annotations

import numpy as np
import pytest

SR = 22050
BPM = 90.0
KICK = {0, 10}
SNARE = {4, 12}
BASS = {2, 3, 6, 7, 14}  # a busy bass line on steps where no kick plays


def _fixture(bars: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """Straight 16ths: kick on 0 and 10, snare on 4 and 12, hats on 8ths, and a plucked
    sawtooth bass (E1-A1) on 2, 3, 6, 7 and 14. Returns (mono, beat times)."""
    from technob_fx.blend.drums import synth_templates

    rng = np.random.default_rng(4)
    beat = 60.0 / BPM
    n = int((bars * 4 + 1) * beat * SR)
    x = np.zeros(n)
    t = np.arange(int(0.6 * SR)) / SR
    kit = synth_templates(SR, per_class=3, seed=9)  # other variants than the classifier's bank

    def add(sig, at):
        i = int(at * SR)
        m = min(sig.size, n - i)
        x[i:i + m] += sig[:m]

    for bar in range(bars):
        for s in range(16):
            at = (bar * 4 + s / 4) * beat
            if s % 2 == 0:
                add(0.15 * kit["hat"][0], at)
            if s in KICK:
                add(0.9 * kit["kick"][0], at)
            if s in SNARE:
                add(0.5 * kit["snare"][1], at)
            if s in BASS:
                f = 440.0 * 2 ** ((float(rng.choice([28, 31, 33])) - 69) / 12)
                saw = sum(np.sin(2 * np.pi * h * f * t) / h for h in range(1, 12))
                add(0.35 * saw * np.minimum(1, t / 0.004) * np.exp(-t / 0.6) * (t < 0.45 * beat), at)
    return x.astype(np.float32), np.arange(bars * 4 + 1) * beat


def _steps(onsets, beats):
    from technob_fx.blend.learn import bar_patterns

    pats = bar_patterns(onsets, beats, 0.5)
    assert pats
    rows = np.mean(pats, axis=0)
    return [set(np.nonzero(rows[i] >= 0.3)[0].tolist()) for i in range(3)]


def test_kick_pattern_does_not_follow_the_bass_line():
    from technob_fx.blend.drums import drum_onsets
    from technob_fx.blend.learn import band_onsets

    x, beats = _fixture()
    band = _steps(band_onsets(x, SR), beats)
    assert band[0] & BASS, band[0]  # the fixture does fool the band method: bass notes read as kicks
    low, mid, _high = _steps(drum_onsets(x, SR), beats)
    assert low == KICK, low
    assert SNARE <= mid and not (mid & BASS), mid
    # (hats under a louder bass note take the note's label: one label per onset)


@pytest.mark.parametrize("cls", ["kick", "snare", "hat", "tonal"])
def test_classify_onset_on_unseen_variants(cls):
    from technob_fx.blend.drums import classify_onset, synth_templates

    xs = synth_templates(SR, per_class=6, seed=21)[cls]
    got = [classify_onset(np.pad(x, (500, 0)), SR, 500) for x in xs]
    assert got.count(cls) >= 5, got


def test_pack_one_shots_by_sound(shared_data):
    """The CC0 pack's kicks, snares and basses (hats are hard at 22 kHz: reported, not asserted)."""
    from technob_fx.blend.drums import classify_onset
    from technob_fx.core.io import read_audio

    right = {}
    for pat, cls in (("bd_*", "kick"), ("sn_*", "snare"), ("bass_*", "tonal")):
        files = sorted((shared_data / "samples").glob(f"{pat}.flac"))
        if not files:
            pytest.skip("no sample pack")
        got = []
        for f in files:
            x, _ = read_audio(f, SR, mono=True)
            x = np.asarray(x).reshape(-1)
            at = max(0, int(np.argmax(np.abs(x) > 0.05 * np.abs(x).max())) - 40)
            got.append(classify_onset(x, SR, at))
        right[cls] = got.count(cls) / len(got)
    assert right["kick"] >= 0.6 and right["snare"] >= 0.6 and right["tonal"] >= 0.8, right
