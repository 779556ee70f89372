"""MP3 decoding honours the encoder delay and padding: beats of the same audio as MP3 and WAV agree."""

from __future__ import annotations

import numpy as np
import pytest

from technob_fx.core.io import audio_info, read_audio, stream_audio, write_audio


@pytest.fixture(scope="module")
def pair(short_track, tmp_path_factory):
    """The short track as WAV and as a LAME MP3 (pedalboard's encoder, V2)."""
    audio, truth, _ = short_track
    folder = tmp_path_factory.mktemp("mp3")
    clip = np.ascontiguousarray(audio[:, : int(24 * truth.sample_rate)])
    wav = write_audio(folder / "loop.wav", clip, truth.sample_rate)
    mp3 = write_audio(folder / "loop.mp3", clip, truth.sample_rate, quality="V2")
    return wav, mp3, clip, truth.sample_rate


def _lag(a: np.ndarray, b: np.ndarray, sr: float) -> int:
    """Samples by which ``b`` is late against ``a`` (cross-correlation of the first 2 s)."""
    import scipy.signal

    n = int(2 * sr)
    c = scipy.signal.correlate(b[0, : 2 * n], a[0, :n], mode="valid", method="fft")
    return int(np.argmax(c))


def test_mp3_decodes_sample_aligned_and_the_same_length(pair):
    from pedalboard.io import AudioFile

    wav, mp3, clip, sr = pair
    y, rate = read_audio(mp3)
    assert rate == sr and y.shape == clip.shape  # padding removed
    assert _lag(clip, y, sr) == 0  # encoder + decoder delay removed
    assert audio_info(mp3).frames == clip.shape[1]
    # streaming and seeking agree with the whole-file decode
    blocks = np.concatenate(list(stream_audio(mp3, 30000)), axis=1)
    assert np.array_equal(blocks, y)
    part, _ = read_audio(mp3, offset=3.0, duration=1.0)
    assert np.array_equal(part, y[:, int(3 * sr): int(4 * sr)])
    # what pedalboard's own decoder does with the same file (the reason for the gapless path)
    with AudioFile(str(mp3)) as f:
        raw = f.read(f.frames)
    assert _lag(clip, raw, sr) == 1105  # LAME's 576 encoder delay + 529 decoder delay


def test_beats_of_mp3_and_wav_agree_within_2_ms(pair):
    from technob_fx.stages.beats import track_beats

    wav, mp3, _, sr = pair
    a = track_beats(*read_audio(wav))
    b = track_beats(*read_audio(mp3))
    n = min(a.beats.size, b.beats.size)
    assert n > 40 and abs(a.beats.size - b.beats.size) <= 1
    diff = np.abs(a.beats[:n] - b.beats[:n])
    assert np.median(diff) < 0.002
    assert a.tempo == pytest.approx(b.tempo, abs=0.1)
