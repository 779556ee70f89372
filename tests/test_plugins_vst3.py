"""Real VST3 plugins: Dragonfly Room Reverb (stereo), ZamComp and ZamDelay (mono).

CI installs them with ``.ci/install-vst3.sh`` (Debian's ``dragonfly-reverb-vst3`` and
``zam-plugins``); every test skips cleanly where they are absent.
"""

from __future__ import annotations

import os
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pedalboard
import pytest

from technob_fx.cli import main
from technob_fx.core import plugins as plugins_mod
from technob_fx.core.chain import Chain
from technob_fx.core.errors import ParameterError, PresetError
from technob_fx.core.io import read_audio, write_audio
from technob_fx.core.plugins import MultiMono, load_plugin

SR = 44100
FOLDERS = [Path(p) for p in os.environ.get("VST3_PATH", "").split(os.pathsep) if p] + [
    Path("/usr/lib/vst3"), Path("/usr/local/lib/vst3"), Path.home() / ".vst3",
]


def _bundle(name: str) -> Path:
    for folder in FOLDERS:
        path = folder / f"{name}.vst3"
        if path.exists():
            return path
    pytest.skip(f"{name}.vst3 is not installed (run .ci/install-vst3.sh as root)")


@pytest.fixture
def zamcomp() -> Path:
    return _bundle("ZamComp")


@pytest.fixture
def zamdelay() -> Path:
    return _bundle("ZamDelay")


@pytest.fixture
def dragonfly() -> Path:
    return _bundle("DragonflyRoomReverb")


@pytest.fixture
def stereo() -> np.ndarray:
    """One second of seeded noise bursts, left and right different, read-only."""
    rng = np.random.default_rng(5)
    audio = np.clip(rng.standard_normal((2, SR)) * 0.2, -0.9, 0.9).astype(np.float32)
    audio[:, SR // 2 :] *= 0.1  # loud then quiet: the compressor's state matters
    audio.setflags(write=False)
    return audio


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("ratio", float("nan"), "ratio must be finite"),
        ("ratio", float("inf"), "ratio must be finite"),
        ("ratio", True, "ratio must be a number, got True"),
        ("ratio", "fast", "ratio must be a number"),
        ("ratio", 99.0, "ratio=99.0 is out of range [1.0, 20.0]"),
        ("attack_ms", 0.0, "attack_ms=0.0 is out of range [0.1, 100.0] ms"),
        ("gain_reduction_db", 3.0, "gain_reduction_db is read-only"),
        ("output_level_db", 0.0, "output_level_db is read-only"),
        ("buffer_size_frames", 256, "buffer_size_frames is read-only"),
        ("current_program", "Loud", "current_program must be one of Zero"),
        ("no_such_knob", 1.0, "no_such_knob: unknown parameter of plugin 'ZamComp'"),
    ],
)
def test_external_parameters_are_validated_everywhere(zamcomp, key, value, fragment):
    plugin = load_plugin(zamcomp)
    before = {k: p.raw_value for k, p in plugin.parameters.items()}
    if key in plugin.parameters:  # (an unknown name is a plain Python attribute)
        with pytest.raises(ParameterError) as exc:  # attribute set, as a Python user writes
            setattr(plugin, key, value)
        assert fragment in str(exc.value) and "\n" not in str(exc.value)
    chain = Chain([plugin], names=["comp"])
    with pytest.raises(ParameterError) as exc:  # the Chain path (--set, OSC)
        chain.set_parameter(f"comp.{key}", value)
    assert str(exc.value).startswith(f"comp.{key}") and fragment in str(exc.value)
    assert {k: p.raw_value for k, p in plugin.parameters.items()} == before  # nothing changed
    plugin.ratio = 6  # good values still go through, ints for floats included
    assert plugin.ratio == 6.0 and chain.get_parameter("comp.ratio") == 6.0


def test_plugins_loaded_with_pedalboard_are_guarded_once_in_a_chain(dragonfly):
    plugin = pedalboard.load_plugin(str(dragonfly))
    Chain([plugin], names=["room"])
    with pytest.raises(ParameterError, match=r"room\.decay_s must be finite"):
        plugin.decay_s = float("nan")
    with pytest.raises(ParameterError, match=r"decay_s must be a number, got True"):
        plugin.decay_s = True
    plugin.decay_s = "2.5 s"  # text with the plugin's unit, as pedalboard allows
    assert plugin.decay_s == pytest.approx(2.5)


def test_mono_plugin_runs_dual_mono_with_state_kept(zamcomp, stereo):
    comp = load_plugin(zamcomp, parameters={"threshold_db": -30.0, "ratio": 8.0, "attack_ms": 1.0})
    chain = Chain([comp, pedalboard.Gain(gain_db=0.0)], names=["comp", "gain"])
    assert isinstance(chain["comp"], MultiMono) and chain["comp"].plugin is comp
    out = chain(stereo, SR)
    assert out.shape == stereo.shape and np.isfinite(out).all()
    # each side equals a fresh mono instance with the same settings on that channel alone
    for ch in range(2):
        ref = load_plugin(zamcomp, parameters={"threshold_db": -30.0, "ratio": 8.0, "attack_ms": 1.0})
        np.testing.assert_allclose(out[ch], ref(stereo[ch : ch + 1], SR)[0], atol=1e-6)
    assert np.abs(out - stereo).max() > 0.01  # it compressed
    # streamed in blocks: each instance keeps its own envelope, same output as the whole buffer
    chain.reset()
    blocks = [chain.process(stereo[:, i : i + 4096], SR, buffer_size=512, reset=False) for i in range(0, SR, 4096)]
    np.testing.assert_allclose(np.concatenate(blocks, axis=1), out, atol=1e-6)
    # a parameter set on the user's handle reaches the second instance too
    comp.ratio = 1.0
    comp.threshold_db = 0.0
    again = chain(stereo, SR)
    assert np.abs(again[1] - stereo[1]).max() < np.abs(out[1] - stereo[1]).max() / 4


def test_mono_plugin_of_unknown_file_fails_at_load(tmp_path, zamdelay, monkeypatch):
    copy = tmp_path / "elsewhere" / zamdelay.name
    shutil.copytree(zamdelay, copy)
    plugin = pedalboard.load_plugin(str(copy))
    monkeypatch.setattr(plugins_mod, "vst3_folders", lambda: [])
    with pytest.raises(PresetError, match=r"plugin 'ZamDelay' takes one channel .* its file is unknown"):
        Chain([plugin])


def test_to_preset_round_trips_loaded_plugins(tmp_path, zamcomp, zamdelay, dragonfly, stereo):
    comp = pedalboard.load_plugin(str(zamcomp))  # loaded without technob: the file is found again
    comp.ratio = 5.0
    delay = load_plugin(zamdelay, parameters={"time_ms": 250.0, "dry_wet": 0.3, "feedback": 0.4})
    room = load_plugin(dragonfly, parameters={"decay_s": 1.5, "size_m": 20.0})
    chain = Chain([comp, delay, pedalboard.Gain(gain_db=-1.0), room], names=["comp", "echo", "trim", "room"])
    path = chain.to_preset(tmp_path / "mine.toml")
    text = path.read_text()
    assert f'path = "{zamcomp.resolve()}"' in text and f'path = "{zamdelay.resolve()}"' in text
    assert "time_ms = 250.0" in text and "gain_reduction_db" not in text and "buffer_size" not in text
    again = Chain.from_preset(path)
    assert again.names == chain.names
    assert isinstance(again["comp"], MultiMono) and isinstance(again["echo"], MultiMono)
    for key in chain.parameters:
        assert again.get_parameter(key) == pytest.approx(chain.get_parameter(key)), key
    mono_part = Chain([chain["comp"], chain["echo"]])  # Dragonfly's modulation is not seeded
    np.testing.assert_array_equal(Chain([again["comp"], again["echo"]])(stereo, SR), mono_part(stereo, SR))
    assert np.isfinite(again(stereo, SR)).all()


def test_bad_plugin_parameters_in_a_preset_name_the_key(tmp_path, zamcomp):
    preset = tmp_path / "p.toml"
    preset.write_text(textwrap.dedent(f"""\
        [[chain]]
        type = "plugin"
        name = "comp"
        path = "{zamcomp}"
        [chain.parameters]
        gain_reduction_db = 3.0
        """))
    with pytest.raises(PresetError, match=r"chain\[0\]\.parameters: comp\.gain_reduction_db is read-only"):
        Chain.from_preset(preset)
    preset.write_text(preset.read_text().replace("gain_reduction_db = 3.0", "ratio = nan"))
    with pytest.raises(PresetError, match=r"comp\.ratio must be finite"):
        Chain.from_preset(preset)


def test_cli_render_with_a_vst3_preset_and_set(tmp_path, zamcomp, dragonfly, stereo, capsys):
    preset = tmp_path / "vst.toml"
    preset.write_text(textwrap.dedent(f"""\
        [[chain]]
        type = "plugin"
        name = "comp"
        path = "{zamcomp}"
        [chain.parameters]
        threshold_db = -20.0

        [[chain]]
        type = "plugin"
        name = "room"
        path = "{dragonfly}"
        """))
    wav = write_audio(tmp_path / "in.wav", stereo, SR)
    out = tmp_path / "out.wav"
    argv = ["render", str(wav), str(out), "--preset", str(preset), "--quiet"]
    assert main([*argv, "--set", "comp.ratio=8", "--set", "room.decay_s=2"]) == 0
    audio, sr = read_audio(out)
    assert sr == SR and audio.shape == stereo.shape and np.isfinite(audio).all()
    for bad, fragment in [
        ("comp.ratio=nan", "comp.ratio must be finite"),
        ("comp.ratio=true", "comp.ratio must be a number, got True"),
        ("comp.gain_reduction_db=3", "comp.gain_reduction_db is read-only"),
        ("room.size_m=1", "room.size_m=1 is out of range [8.0, 32.0] m"),
    ]:
        out.unlink(missing_ok=True)
        capsys.readouterr()
        assert main([*argv, "--set", bad]) == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith("technob: error:") and fragment in err and len(err.splitlines()) == 1, err
        assert not out.exists()


def test_presets_show_lists_plugin_parameters(tmp_path, zamdelay, capsys):
    preset = tmp_path / "echo.toml"
    preset.write_text(f'[[chain]]\ntype = "plugin"\nname = "echo"\npath = "{zamdelay}"\n'
                      "[chain.parameters]\ntime_ms = 250.0\ndry_wet = 0.3\n")
    assert main(["presets", "show", str(preset)]) == 0
    out = capsys.readouterr().out
    assert "echo  [plugin 'ZamDelay', dual mono" in out
    assert "time_ms = 250.0" in out and "dry_wet = 0.3" in out and "delaytime_ms" not in out
