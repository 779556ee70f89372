"""The benchmark's annotation readers (benchmarks.datasets): the formats of the public sources."""

from __future__ import annotations

import json

import numpy as np

from benchmarks.datasets import EXTRA, _extra_beats, _fmp_times, _read_beats


def test_fmp_times_skip_a_header_and_read_semicolons():
    assert _fmp_times('"start";"end";"labels"\n1.01;22.11;"A1"\n22.11;43.06;"A2"\n') == [1.01, 22.11]
    assert _fmp_times("0.5\n1.0\n\n1.5\n") == [0.5, 1.0, 1.5]


def test_beats_and_bar_lines_give_bar_positions_with_a_pickup():
    """Beats with a separate bar-line file (FMP): positions count from each bar line; the beats
    before the first one count back from it (a one-beat pickup in 3/4 is beat 3)."""
    beats = "0.4\n1.0\n1.6\n2.2\n2.8\n3.4\n4.0\n"
    bars = "1.0\n2.8\n"
    files = {"b.csv": beats, "m.csv": bars}
    entry = {"name": "x", "repo": "r", "commit": "c", "audio": "a.wav", "beats": "b.csv", "bars": "m.csv"}
    text, known = _extra_beats(entry, lambda repo, commit, path: files[path].encode())
    t, pos = _read_beats(text)
    np.testing.assert_allclose(t, [0.4, 1.0, 1.6, 2.2, 2.8, 3.4, 4.0])
    assert pos.astype(int).tolist() == [3, 1, 2, 3, 1, 2, 3]
    assert known == {}


def test_mazurka_table_and_jams_readers():
    table = ",measure_number,beat_number,pid1,pid2\n0,1,0,0.5,0.7\n1,1,1,1.0,1.3\n2,1,2,1.5,1.9\n3,2,0,2.0,2.6\n"
    entry = {"name": "m", "repo": "r", "commit": "c", "audio": "a.wav", "beats": "t.csv", "format": "mazurka:pid2"}
    text, _ = _extra_beats(entry, lambda *_: table.encode())
    t, pos = _read_beats(text)
    np.testing.assert_allclose(t, [0.7, 1.3, 1.9, 2.6])
    assert pos.astype(int).tolist() == [1, 2, 3, 1]
    jams = {"annotations": [
        {"namespace": "beat_position", "data": [
            {"time": 0.5 * i, "value": {"position": i % 4 + 1, "num_beats": 4}} for i in range(8)]},
        {"namespace": "tempo", "data": [{"value": 120.0}]},
        {"namespace": "key_mode", "data": [{"value": "Eb:major"}]}]}
    entry = {"name": "g", "repo": "r", "commit": "c", "audio": "a.wav", "beats": "g.jams", "format": "jams"}
    text, known = _extra_beats(entry, lambda *_: json.dumps(jams).encode())
    t, pos = _read_beats(text)
    assert t.size == 8 and pos[4] == 1
    assert known == {"beats_per_bar": 4, "tempo": 120.0, "key": "Eb major"}


def test_extra_sources_are_pinned_and_named_once():
    names = [e["name"] for e in EXTRA]
    assert len(names) == len(set(names))
    for e in EXTRA:
        assert len(e["commit"]) == 40 and "/" in e["repo"]
        assert e.get("format", "csv") in ("csv", "pos", "jams") or e["format"].startswith("mazurka:")
