"""demucs stems: shapes and rates, streamed == demucs' whole-track apply_model, sums, local repos, offline errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from technob_fx.core.errors import ModelError, ParameterError
from technob_fx.stages.stems import DemucsSeparator, load_model, separate_file, separate_stems

SR = 44100
#: demucs_unittest's own segment is 40 s; a short one keeps the tests fast.
SEG = 4.0


class SplitModel(torch.nn.Module):
    """A 'model' whose two sources (a moving average and the rest) sum exactly to its input."""

    sources = ["low", "high"]
    samplerate = SR
    audio_channels = 2
    segment = 2.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t = x.shape
        low = torch.nn.functional.avg_pool1d(x.reshape(b * c, 1, t), 65, stride=1, padding=32,
                                             count_include_pad=False).reshape(b, c, t)
        return torch.stack([low, x - low], dim=1)


@pytest.fixture(scope="module")
def clip():
    """12 s of the synth track (drums, bass, pad, lead), read-only."""
    from technob_fx.synth import synth_techno

    audio, truth, stems = synth_techno((("drop", 10),), seed=3, return_stems=True)
    audio = audio[:, : 12 * SR].copy()
    audio.setflags(write=False)
    return audio


def demucs_whole_track(model, x: np.ndarray, *, shifts: int = 0, seed: int = 0, segment: float | None = SEG,
                       overlap: float = 0.25) -> np.ndarray:
    """demucs' own one-pass processing of a whole mix ``(2, n)``: normalised as its CLI does, one
    ``apply_model`` call; the mean shared out over the stems as technob does. ``(sources, 2, n)``."""
    import random

    from demucs.apply import apply_model

    ref = x.mean(axis=0)
    mean, std = float(ref.mean()), float(ref.std(ddof=1))
    random.seed(seed)
    with torch.no_grad():
        out = apply_model(model, torch.from_numpy((x - np.float32(mean)) / np.float32(std))[None], shifts=shifts,
                          split=True, overlap=overlap, segment=segment)[0].numpy()
    return out * np.float32(std) + np.float32(mean / out.shape[0])


@pytest.fixture(scope="module")
def whole(clip):
    """Whole-track stems of ``clip`` with demucs_unittest by demucs itself, by name."""
    out = demucs_whole_track(load_model("demucs_unittest"), np.ascontiguousarray(clip, dtype=np.float32))
    return dict(zip(["drums", "bass", "other", "vocals"], out, strict=True))


def test_unittest_model_stems_shapes_rates_channels(clip, whole):
    stems = separate_stems(clip, SR, model="demucs_unittest", segment=SEG, shifts=0)
    assert list(stems) == ["drums", "bass", "other", "vocals"]
    for k, s in stems.items():
        assert s.shape == clip.shape and s.dtype == np.float32 and np.isfinite(s).all()
        # demucs' own whole-track result, far below one 16-bit step (3e-5)
        np.testing.assert_allclose(s, whole[k], rtol=0, atol=1e-6)
    mono = separate_stems(clip[0, : 6 * SR], SR, model="demucs_unittest", segment=SEG, shifts=0)
    assert all(s.shape == (6 * SR,) for s in mono.values())
    # Another rate: resampled to the model's 44.1 kHz and back.
    x48 = clip[:, : 6 * SR]
    s48 = separate_stems(x48, 48000, model="demucs_unittest", segment=SEG, shifts=0)
    assert all(s.shape == x48.shape for s in s48.values())


@pytest.mark.parametrize(("shifts", "bag", "segment"), [(0, False, SEG), (2, False, SEG), (1, True, 3.0),
                                                        (0, False, None)])
def test_streamed_engine_is_demucs_apply_model_to_the_bit(clip, shifts, bag, segment):
    """Fed in odd-sized blocks, the engine reproduces demucs' whole-track ``apply_model``
    exactly: the same segments, padding, weights, random shifts and bag weights."""
    import copy
    import random

    from demucs.apply import BagOfModels, apply_model

    from technob_fx.stages.stems import _iter_stems

    net = load_model("demucs_unittest")
    if bag:
        net = BagOfModels([net, copy.deepcopy(net)], weights=[[1, 0.5, 1, 2], [1, 1, 0.25, 1]])
    x = np.ascontiguousarray(clip[:, : int(9.3 * SR)], dtype=np.float32)
    random.seed(5)
    with torch.no_grad():
        ref = apply_model(net, torch.from_numpy(x)[None], shifts=shifts, split=True, overlap=0.25,
                          segment=segment)[0].numpy()
    calls = []
    blocks = (x[:, i : i + 30001] for i in range(0, x.shape[1], 30001))
    parts = list(_iter_stems(blocks, x.shape[1], net, segment=segment, overlap=0.25, shifts=shifts, device="cpu",
                             norm=(0.0, 1.0), seed=5, progress=lambda f, m: calls.append(f)))
    np.testing.assert_array_equal(np.concatenate(parts, axis=-1), ref)
    assert len(parts) > 1 or segment is None  # output comes out as segments finish, not at the end
    assert calls[-1] == 1.0 and all(b >= a for a, b in zip(calls, calls[1:], strict=False))


def test_with_shifts_is_deterministic_and_seeded(clip):
    import random

    x = clip[:, : 8 * SR]
    state = random.getstate()
    a = separate_stems(x, SR, model="demucs_unittest", segment=SEG, shifts=1, seed=1)
    assert random.getstate() == state  # the caller's global random state is left alone
    b = separate_stems(x, SR, model="demucs_unittest", segment=SEG, shifts=1, seed=1)
    c = separate_stems(x, SR, model="demucs_unittest", segment=SEG, shifts=1, seed=2)
    ref = demucs_whole_track(load_model("demucs_unittest"), np.ascontiguousarray(x, dtype=np.float32), shifts=1,
                             seed=1)
    for i, k in enumerate(a):
        np.testing.assert_array_equal(a[k], b[k])
        np.testing.assert_allclose(a[k], ref[i], rtol=0, atol=1e-6)
        assert np.isfinite(a[k]).all()
    assert any(not np.array_equal(a[k], c[k]) for k in a)  # another seed, other shift offsets


@pytest.mark.parametrize("shifts", [0, 2])
def test_stems_sum_to_the_mix_for_a_model_that_should(clip, shifts):
    stems = separate_stems(clip, SR, model=SplitModel(), shifts=shifts)
    assert list(stems) == ["low", "high"]
    np.testing.assert_allclose(stems["low"] + stems["high"], clip, atol=2e-5)


def test_segment_longer_than_a_transformer_was_trained_on_is_refused():
    from demucs.htdemucs import HTDemucs

    net = HTDemucs(sources=["drums", "bass", "other", "vocals"], channels=8, depth=2, t_layers=1, segment=2.0,
                   bottom_channels=0).eval()
    with pytest.raises(ParameterError, match="segment must be at most 2 s"):
        separate_stems(np.zeros((2, SR), np.float32), SR, model=net, segment=3.0)


def test_separate_file_streams_stems_matching_whole(tmp_path, clip, whole):
    from technob_fx.core.io import audio_info, read_audio, write_audio

    src = write_audio(tmp_path / "mix.wav", clip, SR, bit_depth=32)
    paths = separate_file(src, tmp_path / "stems", model="demucs_unittest", segment=SEG, shifts=0,
                          block_size=30000, bit_depth=32)
    assert list(paths) == ["drums", "bass", "other", "vocals"]
    for k, p in paths.items():
        info = audio_info(p)
        assert (info.sample_rate, info.channels, info.frames) == (SR, 2, clip.shape[1])
        y, _ = read_audio(p)
        np.testing.assert_allclose(y, whole[k], rtol=0, atol=1e-6)  # 32-bit float files: demucs to the bit
    assert not list((tmp_path / "stems").glob(".*part*"))


def test_local_repo_single_model_and_bag(tmp_path, clip):
    import demucs.pretrained
    from demucs.hdemucs import HDemucs

    ref = demucs.pretrained.get_model("demucs_unittest")
    pkg = {"klass": HDemucs, "args": (), "kwargs": {"channels": 4, "sources": list(ref.sources)},
           "state": ref.state_dict()}
    torch.save(pkg, tmp_path / "abcd1234.th")
    (tmp_path / "mybag.yaml").write_text("models: ['abcd1234']\n")
    single = load_model("abcd1234", repo=tmp_path)
    bag = load_model("mybag", repo=tmp_path)
    assert list(single.sources) == list(bag.sources) == ["drums", "bass", "other", "vocals"]
    x = clip[:, : 6 * SR]
    a = separate_stems(x, SR, model="abcd1234", repo=tmp_path, segment=SEG, shifts=0)
    b = separate_stems(x, SR, model=ref, segment=SEG, shifts=0)
    for k in a:
        np.testing.assert_allclose(a[k], b[k], atol=1e-5)
    with pytest.raises(ModelError, match="abcd1234.th"):
        load_model("htdemucs_nope", repo=tmp_path)
    with pytest.raises(ModelError, match="does not exist"):
        load_model("htdemucs", repo=tmp_path / "missing")


def test_offline_missing_model_is_actionable(tmp_path, monkeypatch, clip):
    import technob_fx.stages.stems as stems_mod
    from technob_fx.core.io import write_audio

    monkeypatch.setattr(stems_mod, "_hub_reachable", lambda timeout=3.0: False)
    monkeypatch.setattr(stems_mod, "torch_hub_checkpoints", lambda: tmp_path / "cache")
    with pytest.raises(ModelError) as err:
        load_model("htdemucs")
    msg = str(err.value)
    assert "'htdemucs'" in msg and "955717e8-8726e21a.th" in msg and "--repo DIR" in msg
    assert str(tmp_path / "cache") in msg and "\n" not in msg
    src = write_audio(tmp_path / "mix.wav", clip[:, :SR], SR)
    with pytest.raises(ModelError):
        separate_file(src, tmp_path / "out", model="htdemucs")
    assert not (tmp_path / "out").exists()
    with pytest.raises(ModelError, match="unknown demucs model 'nonsense'"):
        load_model("nonsense")


def test_bad_options(clip):
    with pytest.raises(ParameterError, match="device"):
        separate_stems(clip, SR, model="demucs_unittest", device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ParameterError, match="no CUDA"):
            separate_stems(clip, SR, model="demucs_unittest", device="cuda")
    with pytest.raises(ParameterError, match="overlap"):
        separate_stems(clip, SR, model="demucs_unittest", overlap=1.0)
    with pytest.raises(ParameterError, match="shifts"):
        separate_stems(clip, SR, model="demucs_unittest", shifts=-1)


def test_demucs_node(clip):
    from technob_fx.core.errors import AudioError
    from technob_fx.core.registry import NODE_TYPES, node_class

    if "demucs" in NODE_TYPES:
        assert node_class("demucs") is DemucsSeparator
    x = clip[:, : 6 * SR]
    node = DemucsSeparator(model="demucs_unittest", shifts=0, stem="drums")
    out = node(x, SR)
    assert out.shape == x.shape
    np.testing.assert_array_equal(out, node.stems["drums"])
    node.stem = "mix"
    node.vocals_db = -60.0
    mixed = node(x, SR)
    np.testing.assert_allclose(mixed, node.stems["drums"] + node.stems["bass"] + node.stems["other"], atol=1e-5)
    with pytest.raises(AudioError, match="whole track"):
        node(x, SR, reset=False)
