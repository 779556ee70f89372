"""HPSS node: seamless streaming (any block sizes), the percussive part carries the drums, gains."""

from __future__ import annotations

import numpy as np
import pytest

from technob_fx.core.errors import ParameterError
from technob_fx.stages.hpss import HarmonicPercussive, hpss_file

SR = 44100


@pytest.fixture(scope="module")
def clip(short_track):
    """The first 16 s of the short track and its stems (read-only)."""
    audio, _, stems = short_track
    n = 16 * SR
    return audio[:, :n], {k: v[:, :n] for k, v in stems.items()}


def corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


def test_parts_sum_to_input_and_percussive_carries_drums(short_track):
    audio, _, stems = short_track
    parts = HarmonicPercussive().split(audio, SR)
    assert set(parts) == {"harmonic", "percussive", "residual"}
    for p in parts.values():
        assert p.shape == audio.shape and p.dtype == np.float32
    np.testing.assert_allclose(sum(parts.values()), audio, atol=1e-5)
    synths = stems["pad"] + stems["lead"] + stems["bass"]
    # The percussive part is the drums: it correlates with them, hardly with the synths.
    assert corr(parts["percussive"], stems["drums"]) > 0.6
    assert corr(parts["percussive"], synths) < 0.25
    # And the synths went to the harmonic part.
    assert corr(parts["harmonic"], synths) > 2 * corr(parts["percussive"], synths)
    # Energy: most of what is percussive is drums.
    e_drums = np.sum(parts["percussive"] * stems["drums"])
    assert e_drums > 0.8 * np.sum(parts["percussive"] * audio)


def test_streamed_equals_whole_with_random_block_sizes(clip):
    audio, _ = clip
    node = HarmonicPercussive(percussive_db=3.0, harmonic_db=-6.0, residual_db=-60.0, margin_harmonic=2.0)
    whole = node(audio, SR)
    assert whole.shape == audio.shape
    rng = np.random.default_rng(0)
    outs, i = [], 0
    node.reset()
    while i < audio.shape[1]:
        b = int(rng.choice([1, 7, 511, 512, 4096, 30000]))
        out = node(audio[:, i : i + b], SR, reset=False)
        assert out.shape == audio[:, i : i + b].shape
        outs.append(out)
        i += b
    outs.append(node.flush())
    streamed = np.concatenate(outs, axis=1)
    lat = node.latency
    assert streamed.shape[1] == audio.shape[1] + lat
    # No seams: the stream is the whole-buffer output delayed by the latency, sample for sample.
    np.testing.assert_allclose(streamed[:, lat:], whole, atol=1e-5)


def test_gains_and_margins(clip):
    audio, stems = clip
    perc_only = HarmonicPercussive(harmonic_db=-60.0, residual_db=-60.0)(audio, SR)
    split = HarmonicPercussive().split(audio, SR)
    np.testing.assert_allclose(perc_only, split["percussive"], atol=1e-6)
    louder = HarmonicPercussive(percussive_db=6.0, harmonic_db=0.0)(audio, SR)
    np.testing.assert_allclose(louder, split["harmonic"] + split["residual"] + 10 ** 0.3 * split["percussive"], atol=1e-5)
    strict = HarmonicPercussive(margin_harmonic=3.0, margin_percussive=3.0).split(audio, SR)
    assert np.sum(strict["residual"] ** 2) > 0.01 * np.sum(audio**2)
    np.testing.assert_allclose(sum(strict.values()), audio, atol=1e-5)
    # A stricter margin gives a purer percussive part (less of the synths in it).
    synths = stems["pad"] + stems["lead"] + stems["bass"]
    assert corr(strict["percussive"], synths) <= corr(split["percussive"], synths) + 0.01


def test_input_untouched_mono_and_bad_params(clip):
    audio, _ = clip
    mono = audio[0, : 5 * SR]
    out = HarmonicPercussive()(mono, SR)
    assert out.shape == mono.shape
    with pytest.raises(ParameterError):
        HarmonicPercussive(margin_harmonic=0.5)
    with pytest.raises(ParameterError, match="power of 2"):
        HarmonicPercussive(n_fft=3000)
    with pytest.raises(ParameterError):
        HarmonicPercussive(percussive_kernel=1)


def test_registry_and_chain(clip):
    from technob_fx.core.chain import Chain
    from technob_fx.core.registry import NODE_TYPES, node_class

    if "hpss" in NODE_TYPES:
        assert node_class("hpss") is HarmonicPercussive
    audio, _ = clip
    x = audio[:, : 4 * SR]
    chain = Chain([HarmonicPercussive(percussive_db=3.0, harmonic_db=-3.0)])
    y = chain(x, SR)
    np.testing.assert_allclose(y, HarmonicPercussive(percussive_db=3.0, harmonic_db=-3.0)(x, SR), atol=1e-6)


def test_hpss_file_streams_like_whole(tmp_path, clip):
    from technob_fx.core.io import audio_info, read_audio, write_audio

    audio, _ = clip
    x = audio[:, : 8 * SR]
    src = write_audio(tmp_path / "mix.wav", x, SR, bit_depth=32)
    paths = hpss_file(src, tmp_path / "parts", parts=("harmonic", "percussive", "residual"), block_size=10000,
                      bit_depth=32)
    ref = HarmonicPercussive().split(read_audio(src)[0], SR)
    for k, p in paths.items():
        assert audio_info(p).frames == x.shape[1]
        np.testing.assert_allclose(read_audio(p)[0], ref[k], atol=1e-5)
