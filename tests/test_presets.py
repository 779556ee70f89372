"""Presets: shipped chains, round-trip, and every error naming the key and the file."""

from __future__ import annotations

import textwrap
import warnings

import numpy as np
import pedalboard
import pytest

from technob_fx.core.chain import Chain, load_preset
from technob_fx.core.errors import PresetError, TechnobWarning
from technob_fx.core.presets import list_presets, presets_dir
from technob_fx.stages.effects import VinylNoise, WowFlutter

SR = 44100


def test_shipped_presets_are_found_by_name():
    shipped = list_presets()
    assert {"techno_master", "lofi"} <= set(shipped)
    assert all(p.parent == presets_dir() for p in shipped.values())


def test_lofi_preset_has_lowpass_bitcrush_wow_flutter_and_vinyl():
    chain = Chain.from_preset("lofi")
    kinds = [type(el).__name__ for el in chain]
    assert {"LowpassFilter", "Bitcrush", "WowFlutter", "VinylNoise"} <= set(kinds)
    assert chain["tape"].depth_ms == 1.6 and chain["dull"].cutoff_frequency_hz == 5200.0


def test_techno_master_mixes_builtins_and_nodes(short_track):
    chain = Chain.from_preset("techno_master")
    kinds = {type(el).__name__ for el in chain}
    assert {"Compressor", "TruePeakLimiter", "StereoWidth", "SoftClip"} <= kinds
    out = chain(short_track[0][:, : SR * 3], SR)
    assert out.shape == (2, SR * 3) and np.abs(out).max() <= 1.0


@pytest.mark.parametrize("name", ["techno_master", "lofi"])
def test_round_trip_gives_same_chain_and_same_audio(tmp_path, short_track, name):
    chain = Chain.from_preset(name)
    path = chain.to_preset(tmp_path / f"{name}_copy.toml", description="copy")
    again = Chain.from_preset(path)
    assert again.names == chain.names
    assert again.parameters.keys() == chain.parameters.keys()
    for key in chain.parameters:
        assert again.get_parameter(key) == pytest.approx(chain.get_parameter(key))
    audio = short_track[0][:, : SR * 2]
    np.testing.assert_allclose(again(audio, SR), chain(audio, SR), atol=1e-6)


def test_round_trip_of_a_chain_built_in_python(tmp_path):
    chain = Chain([pedalboard.Reverb(room_size=0.7), WowFlutter(name="tape", depth_ms=2.5), VinylNoise(seed=9)])
    path = chain.to_preset(tmp_path / "mine.toml")
    text = path.read_text()
    assert 'type = "Reverb"' in text and 'type = "wow_flutter"' in text and 'name = "tape"' in text
    again = Chain.from_preset(path)
    assert again["tape"].depth_ms == 2.5 and again["vinyl_noise"].seed == 9
    assert again["reverb"].room_size == pytest.approx(0.7)


def test_overrides_apply_after_loading():
    chain = load_preset("lofi", overrides={"tape.depth_ms": 3.0, "dull.cutoff_frequency_hz": 3000})
    assert chain["tape"].depth_ms == 3.0 and chain["dull"].cutoff_frequency_hz == 3000


def _write(tmp_path, body: str):
    path = tmp_path / "bad.toml"
    path.write_text(textwrap.dedent(body))
    return path


BAD_PRESETS = [
    ('[[chain]]\ntype = "Reverbb"\n', r"chain\[0\].*unknown type 'Reverbb'"),
    ('[[chain]]\ntype = "wow_flutter"\nspeed = 2\n', r"chain\[0\] \(type 'wow_flutter'\).*unknown parameter 'speed'"),
    ('[[chain]]\ntype = "Reverb"\nroom = 2\n', r"chain\[0\] \(type 'Reverb'\).*unknown parameter 'room'"),
    ('[[chain]]\ntype = "wow_flutter"\ndepth_ms = 50.0\n', r"depth_ms=50.0 is out of range \[0.0, 20.0\]"),
    ('[[chain]]\ntype = "Reverb"\nroom_size = 3.0\n', r"chain\[0\] \(type 'Reverb'\).*room_size"),
    ('[[chain]]\ntype = "Gain"\ngain_db = 500.0\n', r"gain_db=500.0 is out of range"),
    ('[[chain]]\ntype = "plugin"\npath = "missing.vst3"\n', r"chain\[0\]\.path: plugin file not found: .*missing.vst3"),
    ('[[chain]]\ntype = "plugin"\n', r"needs a 'path'"),
    ('[[chain]]\nname = "x"\n', r"chain\[0\]: missing 'type'"),
    ('[[chain]\ntype = "Reverb"\n', r"not valid TOML"),
    ('[effects]\nx = 1\n', r"unknown top-level key\(s\) effects"),
    ('[preset]\ncolour = "red"\n', r"\[preset\] has unknown key\(s\) colour"),
    ('[[chain]]\ntype = "Gain"\ngain_db = "loud"\n', r"gain_db must be a number"),
    ('[[chain]]\ntype = "Gain"\nname = "a b"\n', r"name must be an identifier"),
    ('[[chain]]\ntype = "Convolution"\nimpulse_response_filename = "nope.wav"\n', r"impulse_response_filename: file not found"),
]


@pytest.mark.parametrize(("body", "pattern"), BAD_PRESETS)
def test_every_preset_error_names_file_and_key(tmp_path, body, pattern):
    path = _write(tmp_path, body)
    with pytest.raises(PresetError, match=pattern) as err:
        load_preset(path)
    assert str(path) in str(err.value)


def test_unknown_preset_name_lists_shipped():
    with pytest.raises(PresetError, match="no preset named 'nope'.*lofi"):
        load_preset("nope")


def test_bad_override_names_key_and_file():
    with pytest.raises(PresetError, match=r"lofi.toml: override tape.depth_ms=99.*out of range"):
        load_preset("lofi", overrides={"tape.depth_ms": 99})
    with pytest.raises(PresetError, match=r"override ghost.x=1.*no element named 'ghost'"):
        load_preset("lofi", overrides={"ghost.x": 1})


def test_disabled_elements_are_skipped(tmp_path):
    path = _write(tmp_path, '[[chain]]\ntype = "Gain"\nenabled = false\n[[chain]]\ntype = "Reverb"\n')
    assert Chain.from_preset(path).names == ["reverb"]


def test_preset_file_is_unchanged_by_loading(tmp_path):
    src = presets_dir() / "lofi.toml"
    before = src.read_bytes()
    load_preset("lofi").to_preset(tmp_path / "copy.toml")
    assert src.read_bytes() == before


def test_float_parameters_print_and_save_as_typed(tmp_path, capsys):
    """pedalboard keeps gain_db as a single-precision linear gain (1.5 dB reads back as
    1.4999998): shown and saved as the 1.5 the preset says, and stable over save/load."""
    from technob_fx.cli import main

    assert main(["presets", "show", "techno_master"]) == 0
    out = capsys.readouterr().out
    assert "gain_db = 1.5\n" in out and "1.49999" not in out
    path = Chain.from_preset("techno_master").to_preset(tmp_path / "tm.toml")
    text = path.read_text()
    assert "gain_db = 1.5\n" in text and "q = 0.707\n" in text and "1.49999" not in text
    assert Chain.from_preset(path).to_preset(tmp_path / "again.toml").read_text().replace("again", "tm") == text


@pytest.mark.parametrize("sr", [8000, 44100, 192000])
@pytest.mark.parametrize("name", sorted(list_presets()))
def test_every_shipped_preset_holds_from_8_to_192_khz(name, sr):
    rng = np.random.default_rng(3)
    t = np.arange(sr) / sr
    audio = (0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal((2, sr))).astype(np.float32)
    chain = Chain.from_preset(name)
    before = dict(chain.parameters)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = chain(audio, sr)
    assert out.shape == audio.shape and np.isfinite(out).all() and np.abs(out).max() <= 1.0
    clamped = [str(w.message) for w in caught if issubclass(w.category, TechnobWarning)]
    too_high = [k for k, v in before.items() if k.endswith(("cutoff_frequency_hz", "cutoff_hz")) and v > 0.45 * sr]
    assert len(clamped) == len(too_high)  # one warning per clamped cutoff, naming it
    for key in too_high:
        assert any(msg.startswith(f"{key}=") and f"using {0.45 * sr:g} Hz" in msg for msg in clamped)
    assert dict(chain.parameters) == before  # the preset's own values are kept for other rates


def test_cutoff_above_nyquist_is_clamped_once_per_rate_and_streams_like_whole():
    sr = 8000
    rng = np.random.default_rng(4)
    audio = (rng.standard_normal((2, sr * 2)) * 0.2).astype(np.float32)
    chain = Chain([pedalboard.LowpassFilter(5200), pedalboard.PeakFilter(9000, 6.0, 1.0), pedalboard.Gain(0.0)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        whole = chain(audio, sr)
        chain.reset()
        blocks = [chain.process(audio[:, i : i + 1000], sr, reset=False) for i in range(0, audio.shape[1], 1000)]
    assert len([w for w in caught if issubclass(w.category, TechnobWarning)]) == 2
    np.testing.assert_array_equal(np.concatenate(blocks, axis=1), whole)
    at_limit = Chain([pedalboard.LowpassFilter(3600), pedalboard.PeakFilter(3600, 6.0, 1.0), pedalboard.Gain(0.0)])
    np.testing.assert_array_equal(at_limit(audio, sr), whole)
    assert chain["lowpass_filter"].cutoff_frequency_hz == 5200.0


@pytest.mark.parametrize("kind", ["synth", "dense", "noise"])
def test_techno_master_keeps_true_peak_under_minus_1_dbtp_on_loud_input(short_track, kind):
    from scipy.signal import resample_poly

    from technob_fx.stages.effects import true_peak, true_peak_bs1770

    x = short_track[0][:, : SR * 6].astype(np.float64)
    if kind == "dense":
        x = np.tanh(4 * x / np.abs(x).max())
    elif kind == "noise":  # full band: the meters differ most near Nyquist
        x = np.random.default_rng(0).standard_normal((2, SR * 6))
    x = (x / np.abs(x).max() * 10 ** (-0.5 / 20)).astype(np.float32)  # -0.5 dBFS sample peak
    y = Chain.from_preset("techno_master")(x, SR)
    meters = {
        "technob (kaiser 10)": true_peak(y),
        "ITU-R BS.1770-4 (48 taps)": true_peak_bs1770(y),
        "resample_poly default (kaiser 5)": np.abs(resample_poly(y.astype(np.float64), 4, 1, axis=1)).max(),
    }
    for name, peak in meters.items():
        assert 20 * np.log10(peak) <= -1.0, (name, 20 * np.log10(peak))
    assert np.abs(y).max() < 1.0
