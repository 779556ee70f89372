"""Pitch tracking: accuracy on the synth's lead line, note events, voicing."""

from __future__ import annotations

import mir_eval
import numpy as np

from technob_fx.stages.pitch import PitchTrack, PitchTracker, track_pitch


def _ref(notes, times):
    f = np.zeros(times.size)
    for n in notes:
        f[(times >= n.onset) & (times < n.offset)] = 440 * 2 ** ((n.pitch - 69) / 12)
    return f


def test_lead_line_accuracy_and_notes(short_track):
    _, truth, stems = short_track
    track = track_pitch(stems["lead"], truth.sample_rate)
    ref = _ref(truth.notes, track.times)
    scores = mir_eval.melody.evaluate(track.times, ref, track.times, np.nan_to_num(track.f0, nan=0.0))
    assert scores["Raw Pitch Accuracy"] >= 0.95
    assert scores["Voicing Recall"] >= 0.9
    ref_iv = np.array([[n.onset, n.offset] for n in truth.notes])
    est_iv = np.array([[n.onset, n.offset] for n in track.notes])
    hz = lambda ns: 440 * 2 ** ((np.array([n.pitch for n in ns]) - 69) / 12)  # noqa: E731
    p, r, f, _ = mir_eval.transcription.precision_recall_f1_overlap(
        ref_iv, hz(truth.notes), est_iv, hz(track.notes), offset_ratio=None)
    assert f >= 0.85


def test_sine_and_silence():
    sr = 44100
    t = np.arange(sr) / sr
    x = np.concatenate([0.5 * np.sin(2 * np.pi * 220 * t), np.zeros(sr)]).astype(np.float32)
    track = track_pitch(x, sr)
    first = track.f0[(track.times > 0.1) & (track.times < 0.9)]
    assert np.all(np.isfinite(first)) and np.allclose(first, 220, rtol=0.005)
    assert np.all(np.isnan(track.f0[track.times > 1.1]))
    assert len(track.notes) == 1 and track.notes[0].pitch == 57


def test_result_round_trips_through_json():
    node = PitchTracker(fmin=80, fmax=800)
    sr = 22050
    x = (0.3 * np.sin(2 * np.pi * 330 * np.arange(sr) / sr)).astype(np.float32)
    node(x, sr)
    back = PitchTrack.from_json(node.result.to_json())
    assert np.array_equal(np.isnan(back.f0), np.isnan(node.result.f0))
    assert back.notes[0].pitch == node.result.notes[0].pitch
