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
