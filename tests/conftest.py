"""Shared fixtures: a synthesised techno track with ground truth, temp folders, ../shared data."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from technob_fx.synth import SHORT_STRUCTURE, synth_techno

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def short_track():
    """``(audio (2, n) float32, truth, stems)`` of a 28-bar, 128 BPM track at 44.1 kHz."""
    audio, truth, stems = synth_techno(SHORT_STRUCTURE, bpm=128.0, seed=1, return_stems=True)
    audio.setflags(write=False)  # any stage that modifies its input fails loudly
    return audio, truth, stems


@pytest.fixture(scope="session")
def short_track_file(tmp_path_factory, short_track):
    """The short track written as a 44.1 kHz stereo WAV file."""
    from technob_fx.core.io import write_audio

    audio, truth, _ = short_track
    path = tmp_path_factory.mktemp("track") / "short_track.wav"
    write_audio(path, audio, truth.sample_rate)
    return path


@pytest.fixture
def noise():
    """One second of seeded stereo white noise at -12 dBFS, 44.1 kHz."""
    rng = np.random.default_rng(0)
    return (rng.standard_normal((2, 44100)) * 0.25).astype(np.float32)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``; tests using it skip when it is absent (a user's clone)."""
    if not SHARED.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED


def require_program(name: str) -> str:
    """Skip the test unless the external program ``name`` is on PATH."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (CI installs it with apt-get)")
    return path
