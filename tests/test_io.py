"""Audio I/O: every format, streaming, resampling, atomic writes, bad files."""

from __future__ import annotations

import numpy as np
import pytest

from technob_fx.core.errors import AudioError, PathError
from technob_fx.core.io import (
    AtomicAudioWriter,
    atomic_write_text,
    audio_info,
    read_audio,
    resample,
    stream_audio,
    write_audio,
)

SR = 44100


def _tone(seconds=1.0, sr=SR):
    t = np.arange(int(seconds * sr)) / sr
    left = 0.5 * np.sin(2 * np.pi * 440 * t)
    right = 0.5 * np.sin(2 * np.pi * 660 * t)
    return np.stack([left, right]).astype(np.float32)


@pytest.mark.parametrize(("ext", "tol"), [(".wav", 1e-4), (".flac", 1e-4), (".aiff", 1e-4), (".ogg", 0.05), (".mp3", 0.05)])
def test_each_format_round_trips(tmp_path, ext, tol):
    audio = _tone()
    path = write_audio(tmp_path / f"tone{ext}", audio, SR)
    info = audio_info(path)
    assert info.sample_rate == SR and info.channels == 2
    back, sr = read_audio(path)
    assert sr == SR and back.shape[0] == 2
    n = min(back.shape[1], audio.shape[1])
    if ext in (".wav", ".flac", ".aiff"):
        assert back.shape == audio.shape
        np.testing.assert_allclose(back, audio, atol=tol)
    else:  # lossy codecs add encoder delay/padding: compare the spectrum's peak instead
        spec = np.abs(np.fft.rfft(back[0, n // 4 : n // 4 + 8192]))
        assert abs(np.argmax(spec) * SR / 8192 - 440) < 10


def test_stream_blocks_concatenate_to_the_file(tmp_path):
    audio = _tone(2.3)
    path = write_audio(tmp_path / "t.flac", audio, SR)
    blocks = list(stream_audio(path, block_size=10000))
    assert all(b.shape[1] == 10000 for b in blocks[:-1])
    np.testing.assert_allclose(np.concatenate(blocks, axis=1), read_audio(path)[0], atol=0)


def test_read_resampled_mono_and_excerpt(tmp_path):
    path = write_audio(tmp_path / "t.wav", _tone(2.0), SR)
    audio, sr = read_audio(path, 22050, mono=True, offset=0.5, duration=1.0)
    assert sr == 22050 and audio.shape == (1, 22050)
    streamed = np.concatenate(list(stream_audio(path, 4096, sample_rate=16000)), axis=1)
    assert abs(streamed.shape[1] - 32000) <= 2


def test_resample_keeps_frequency():
    audio = _tone(1.0)
    out = resample(audio, SR, 16000)
    assert out.shape == (2, 16000)
    spec = np.abs(np.fft.rfft(out[0]))
    assert abs(np.argmax(spec) - 440) <= 1
    assert resample(audio[0], SR, 22050).shape == (22050,)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [(b"", "file is empty"), (b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk", "cannot decode"), (b"hello world" * 100, "cannot decode")],
)
def test_corrupt_or_empty_files_get_clear_errors(tmp_path, content, fragment):
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(AudioError, match=fragment):
        read_audio(path)
    with pytest.raises(AudioError, match=fragment):
        list(stream_audio(path))


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(AudioError, match="no such file"):
        read_audio(tmp_path / "nope.wav")
    with pytest.raises(AudioError, match="is a folder"):
        read_audio(tmp_path)


def test_unwritable_format_and_bad_audio_leave_nothing(tmp_path):
    with pytest.raises(AudioError, match="cannot write format '.xyz'"):
        write_audio(tmp_path / "x.xyz", _tone(), SR)
    with pytest.raises(AudioError, match="NaN"):
        write_audio(tmp_path / "x.wav", np.full((2, 10), np.nan, np.float32), SR)
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_leaves_no_partial_file_on_failure(tmp_path):
    target = tmp_path / "render.wav"
    with pytest.raises(RuntimeError, match="boom"):
        with AtomicAudioWriter(target, SR, 2) as w:
            w.write(_tone(0.5))
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []  # neither the output nor a temp file


def test_failed_write_keeps_the_previous_file(tmp_path):
    target = write_audio(tmp_path / "keep.wav", _tone(0.2), SR)
    before = target.read_bytes()
    with pytest.raises(AudioError):
        with AtomicAudioWriter(target, SR, 2) as w:
            w.write(np.zeros((3, 10), np.float32))  # wrong channel count
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.wav"]


def test_output_never_overwrites_an_input(tmp_path):
    src = write_audio(tmp_path / "in.wav", _tone(0.2), SR)
    before = src.read_bytes()
    with pytest.raises(PathError, match="refusing to overwrite the input"):
        write_audio(src, _tone(0.2) * 0.5, SR, inputs=[src])
    with pytest.raises(PathError, match="refusing to overwrite the input"):
        write_audio(tmp_path / "." / "in.wav", _tone(0.2), SR, inputs=[src])
    assert src.read_bytes() == before


def test_output_folder_must_exist(tmp_path):
    with pytest.raises(PathError, match="does not exist"):
        write_audio(tmp_path / "no" / "x.wav", _tone(0.1), SR)


def test_written_files_have_normal_permissions(tmp_path):
    path = atomic_write_text(tmp_path / "a.txt", "hi")
    assert path.stat().st_mode & 0o644 == 0o644


# -- decoding: gapless MP3, truncated files --------------------------------------------------


def _clicks(seconds=3.0, every=0.5, sr=SR):
    x = np.zeros((2, int(seconds * sr)), np.float32)
    x[:, :: int(every * sr)] = 0.9
    return x


def test_mp3_decodes_gaplessly(tmp_path):
    """The LAME encoder delay and padding are removed: same length, clicks where they were."""
    src = _clicks()
    path = write_audio(tmp_path / "clicks.mp3", src, SR, quality="V2")
    back, sr = read_audio(path)
    assert sr == SR and back.shape == src.shape
    assert audio_info(path).frames == src.shape[1]
    found = np.flatnonzero(np.abs(back[0]) > 0.3)
    firsts = found[np.concatenate([[True], np.diff(found) > 100])]
    np.testing.assert_array_equal(firsts, np.flatnonzero(src[0]))  # to the sample


def test_truncated_wav_is_refused_not_padded(tmp_path):
    path = write_audio(tmp_path / "full.wav", _tone(3.0), SR)
    data = path.read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(data[: len(data) // 4])
    for fn in (audio_info, read_audio, lambda p: list(stream_audio(p))):
        with pytest.raises(AudioError, match=r"truncated: the header says 3\.00 s .* holds 0\.7"):
            fn(cut)


def test_truncated_flac_is_refused_not_padded(tmp_path):
    rng = np.random.default_rng(0)
    path = write_audio(tmp_path / "full.flac", (0.1 * rng.standard_normal((2, 3 * SR))).astype(np.float32), SR)
    data = path.read_bytes()
    cut = tmp_path / "cut.flac"
    cut.write_bytes(data[: len(data) // 4])
    with pytest.raises(AudioError, match="truncated or corrupt"):
        read_audio(cut)
    with pytest.raises(AudioError, match="truncated or corrupt"):
        list(stream_audio(cut, 8192))


# -- encoding: bit depth follows the input, TPDF dither, clipping is reported -----------------


@pytest.mark.parametrize(("src_bits", "ext", "expected"), [(24, ".wav", 24), (16, ".flac", 16), (32, ".wav", 32),
                                                            (32, ".flac", 24), (None, ".wav", 24)])
def test_output_bit_depth_follows_the_input(tmp_path, src_bits, ext, expected):
    src = write_audio(tmp_path / "src.wav", _tone(0.2), SR, bit_depth=src_bits)
    assert audio_info(src).bit_depth == (src_bits or 24)
    out = write_audio(tmp_path / f"out{ext}", _tone(0.2), SR, inputs=[src] if src_bits else [])
    assert audio_info(out).bit_depth == expected
    with pytest.raises(AudioError, match="bit depth must be 16, 24 or 32"):
        write_audio(tmp_path / "bad.wav", _tone(0.2), SR, bit_depth=12)


def test_mp3_input_gives_24_bit_output(tmp_path):
    src = write_audio(tmp_path / "src.mp3", _tone(0.5), SR)
    assert audio_info(src).bit_depth is None
    out = write_audio(tmp_path / "out.wav", _tone(0.2), SR, inputs=[src])
    assert audio_info(out).bit_depth == 24


def test_dither_is_tpdf_deterministic_and_the_same_streamed(tmp_path):
    """16-bit output of a very quiet tone: TPDF dither decorrelates the error from the signal
    (no harmonics), silence stays exactly zero, and block-wise writing gives the same bytes."""
    t = np.arange(SR) / SR
    quiet = np.zeros((2, 2 * SR), np.float32)
    quiet[:, :SR] = (2.5 * 2.0**-15 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)  # ~2.5 LSB
    whole = write_audio(tmp_path / "whole.wav", quiet, SR, bit_depth=16)
    with AtomicAudioWriter(tmp_path / "blocks.wav", SR, 2, bit_depth=16) as w:
        for i in range(0, quiet.shape[1], 1000):
            w.write(quiet[:, i : i + 1000])
    assert whole.read_bytes() == (tmp_path / "blocks.wav").read_bytes()
    assert write_audio(tmp_path / "again.wav", quiet, SR, bit_depth=16).read_bytes() == whole.read_bytes()
    back, _ = read_audio(whole)
    assert np.all(back[:, SR:] == 0.0)  # digital silence is not dithered
    err = (back[0, :SR] - quiet[0, :SR]).astype(np.float64)
    lsb = 2.0**-15
    assert 0.3 * lsb < err.std() < 0.8 * lsb  # TPDF (+-1 LSB) plus rounding: about 0.58 LSB rms
    spec = np.abs(np.fft.rfft(err * np.hanning(err.size)))
    harmonics = spec[[2000, 3000, 4000, 5000]].max()  # 2nd..5th harmonic bins of 1 kHz (1 Hz bins)
    assert harmonics < 8 * np.median(spec[100:20000])  # error is noise, not distortion


def test_clipping_on_write_is_reported(tmp_path, recwarn):
    from technob_fx.core.errors import TechnobWarning

    loud = (3.0 * _tone(0.2)).astype(np.float32)  # peak 1.5
    write_audio(tmp_path / "loud.wav", loud, SR)
    msgs = [str(w.message) for w in recwarn if issubclass(w.category, TechnobWarning)]
    assert len(msgs) == 1 and "samples beyond full scale were clipped" in msgs[0] and "+3.52 dBFS" in msgs[0]
    recwarn.clear()
    write_audio(tmp_path / "loud_float.wav", loud, SR, bit_depth=32)  # float keeps them: no warning
    assert not [w for w in recwarn if issubclass(w.category, TechnobWarning)]


def test_an_interrupt_while_the_temporary_file_is_made_leaves_nothing(tmp_path, monkeypatch):
    """Ctrl-C (or SIGTERM raising Terminated) just after the temporary file exists, before the
    caller gets its name: nothing is left. With tempfile.mkstemp the name came back only on
    return, and a dataset worker interrupted there kept a .part.npy (2 of 15 runs of the
    SIGINT test)."""
    import os

    from technob_fx.core.io import atomic_path

    real_close = os.close
    calls = {"n": 0}

    def close_then_interrupt(fd):
        real_close(fd)
        calls["n"] += 1
        if calls["n"] == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(os, "close", close_then_interrupt)
    with pytest.raises(KeyboardInterrupt), atomic_path(tmp_path / "out.npy"):
        pass
    monkeypatch.undo()
    assert calls["n"] == 1 and list(tmp_path.iterdir()) == []
