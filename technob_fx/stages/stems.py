"""DNN source separation with demucs, in overlapping windows with bounded memory.

demucs separates a whole track at once and keeps every stem of it in memory (a 60-minute file
needs tens of GB). Here a track is cut into windows of ``window`` seconds plus context on both
sides; each window goes through :func:`demucs.apply.apply_model` and only its core is kept, joined
to the next by a short linear crossfade, and written to the stem files as it comes. Windows start
on demucs' own segment grid and carry enough context that every segment demucs runs inside a
window's core is the very segment it runs on the whole track, so with ``shifts=0`` windowed stems
equal whole-track stems to float precision; with random shifts they match within the model's own
shift variance and the crossfade hides any seam. Peak memory depends on the window, not on the
track's length.

Models come from (in order): a local folder (``repo=``, demucs' ``--repo``: ``<sig>.th`` files plus
``<name>.yaml`` for a bag of models), the torch hub cache
(``~/.cache/torch/hub/checkpoints/<sig>-<hash>.th``), or the hub (HuggingFace, then
dl.fbaipublicfiles.com). Offline with no local weights, :class:`~technob_fx.core.errors.ModelError`
says which files are needed and where to put them. ``"demucs_unittest"`` (a tiny untrained
HDemucs built locally) needs no weights; tests and benchmarks use it.
"""

from __future__ import annotations

import contextlib
import math
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..core.audio import as_audio, check_sample_rate, match_channels, restore_layout
from ..core.errors import AudioError, ModelError, ParameterError
from ..core.node import EffectNode, Param
from ..core.progress import ProgressCallback

DEVICES = ("cpu", "cuda", "mps")
#: Seconds of each window's core (the part kept from it).
DEFAULT_WINDOW = 60.0
#: Seconds of crossfade between consecutive windows.
DEFAULT_CROSSFADE = 1.0

_MODEL_CACHE: dict[tuple[str, str | None], Any] = {}


# --------------------------------------------------------------------------------------------
# Loading models
# --------------------------------------------------------------------------------------------


def _remote_files() -> dict[str, str]:
    """Signature -> URL of every model of demucs' legacy remote repository."""
    from demucs import pretrained

    return pretrained._parse_remote_files(pretrained.REMOTE_ROOT / "files.txt")


def _bag_signatures(name: str) -> list[str] | None:
    """Signatures of the models of a named bag (``htdemucs`` -> ``['955717e8']``), or None."""
    import yaml
    from demucs import pretrained

    path = pretrained.REMOTE_ROOT / f"{name}.yaml"
    if not path.is_file():
        return None
    return list(yaml.safe_load(path.read_text())["models"])


def known_models() -> list[str]:
    """Names of the pretrained demucs models (bags) this demucs version knows."""
    from demucs import pretrained

    return sorted(p.stem for p in pretrained.REMOTE_ROOT.glob("*.yaml"))


def torch_hub_checkpoints() -> Path:
    """The torch hub cache folder demucs downloads weights into."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


def _hub_reachable(timeout: float = 3.0) -> bool:
    """Whether one of demucs' model hosts accepts a connection (cheap offline check)."""
    import socket

    for host in ("huggingface.co", "dl.fbaipublicfiles.com"):
        try:
            with socket.create_connection((host, 443), timeout=timeout):
                return True
        except OSError:
            continue
    return False


def _missing_message(name: str, urls: dict[str, str], why: str) -> str:
    files = ", ".join(f"{u.rsplit('/', 1)[-1]} ({u})" for u in urls.values())
    cache = torch_hub_checkpoints()
    return (
        f"demucs model {name!r} is not available: {why}. Download {files}; then either put the .th "
        f"file(s) in {cache} (the torch hub cache), or put them with a copy of demucs' "
        f"remote/{name}.yaml in a folder DIR and pass --repo DIR (repo=DIR in Python)"
    )


def load_model(
    name: str = "htdemucs",
    repo: str | Path | None = None,
    *,
    allow_download: bool = True,
) -> Any:
    """Load a demucs model (a ``BagOfModels`` or a single model), in eval mode.

    Parameters
    ----------
    name : str
        A pretrained name (``htdemucs``, ``htdemucs_ft``, ``htdemucs_6s``, ``mdx_extra``...), a
        model signature in ``repo``, or ``"demucs_unittest"`` (tiny, untrained, built locally).
    repo : path, optional
        Local folder of weights (demucs' ``--repo``): ``<sig>.th`` / ``<sig>-<hash>.th`` files
        and ``<name>.yaml`` bag files.
    allow_download : bool
        Try the hub when the weights are not cached locally.

    Returns
    -------
    demucs model
        Has ``sources``, ``samplerate``, ``audio_channels``.

    Raises
    ------
    ModelError
        Unknown name, missing folder, or weights neither local nor downloadable (the message
        says which files and where to put them).
    """
    import demucs.pretrained as pretrained

    key = (name, str(repo) if repo is not None else None)
    if key in _MODEL_CACHE:
        return _MODEL_CACHE[key]
    if name == "demucs_unittest":
        model = pretrained.get_model(name)
    elif repo is not None:
        folder = Path(repo)
        if not folder.is_dir():
            raise ModelError(f"demucs model folder {folder} does not exist (--repo must be a folder "
                             f"holding <sig>.th weights and <name>.yaml bag files)")
        try:
            model = pretrained.get_model(name, repo=folder)
        except Exception as exc:  # noqa: BLE001 - ModelLoadingError, torch/yaml errors
            held = sorted(p.name for p in folder.iterdir() if p.suffix in (".th", ".yaml"))
            raise ModelError(
                f"demucs model {name!r} cannot be loaded from {folder} ({exc}); it holds: "
                f"{', '.join(held) or 'no .th or .yaml files'}"
            ) from None
    else:
        remote = _remote_files()
        sigs = _bag_signatures(name)
        if sigs is None:
            if name not in remote:
                raise ModelError(
                    f"unknown demucs model {name!r}; known: {', '.join(known_models())} "
                    "(or a signature with --repo DIR)"
                )
            sigs = [name]
        urls = {s: remote[s] for s in sigs if s in remote}
        cache = torch_hub_checkpoints()
        cached = all((cache / u.rsplit("/", 1)[-1]).is_file() for u in urls.values())
        try:
            if cached:
                # Straight from the torch hub cache: no network (the hub is only asked when the
                # weights are missing).
                from demucs.repo import AnyModelRepo, BagOnlyRepo, RemoteRepo

                model_repo = RemoteRepo(remote)
                model = AnyModelRepo(model_repo, BagOnlyRepo(pretrained.REMOTE_ROOT, model_repo)).get_model(name)
            elif not allow_download:
                raise ModelError(_missing_message(name, urls, "its weights are not cached and downloads are off"))
            elif not _hub_reachable():
                raise ModelError(_missing_message(name, urls, "its weights are not cached and the hub cannot be reached (offline?)"))
            else:
                model = pretrained.get_model(name)
        except ModelError:
            raise
        except Exception as exc:  # noqa: BLE001 - URLError, hub errors, corrupt files
            raise ModelError(_missing_message(name, urls, f"loading failed ({type(exc).__name__}: {exc})")) from None
    model.eval()
    _MODEL_CACHE[key] = model
    return model


def check_device(device: str) -> str:
    """Validate a torch device name (``cpu``, ``cuda``, ``cuda:1``, ``mps``).

    Raises
    ------
    ParameterError
        Unknown device, or one not present on this machine.
    """
    import torch

    base = str(device).split(":", 1)[0]
    if base not in DEVICES:
        raise ParameterError(f"device must be one of {', '.join(DEVICES)}; got {device!r}")
    if base == "cuda" and not torch.cuda.is_available():
        raise ParameterError("device 'cuda' requested but no CUDA GPU is available; use device='cpu'")
    if base == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ParameterError("device 'mps' requested but Apple MPS is not available; use device='cpu'")
    return str(device)


# --------------------------------------------------------------------------------------------
# Windowed separation
# --------------------------------------------------------------------------------------------


def _model_segment(model: Any, segment: float | None) -> float:
    if segment is not None:
        return float(segment)
    seg = getattr(model, "segment", None)
    if seg is None and hasattr(model, "models"):
        seg = min(float(m.segment) for m in model.models)
    return float(seg)


def _pad_margin(model: Any, seg_len: int) -> int:
    """Samples of context demucs reads around one segment (its ``valid_length`` padding)."""
    models = getattr(model, "models", [model])
    extra = 0
    for m in models:
        if hasattr(m, "valid_length"):
            with contextlib.suppress(Exception):
                extra = max(extra, int(m.valid_length(seg_len)) - seg_len)
    return extra // 2 + 16


class _Plan:
    """Window geometry in samples at the model's rate."""

    def __init__(self, model: Any, sr: int, segment: float | None, overlap: float, window: float,
                 crossfade: float) -> None:
        self.seg = _model_segment(model, segment)
        self.seg_len = int(sr * self.seg)
        self.stride = max(int((1 - overlap) * self.seg_len), 1)
        half_x = int(round(crossfade * sr / 2))
        pad = _pad_margin(model, self.seg_len)
        core = max(int(round(window * sr)), 2 * half_x + 1, self.stride)
        self.core = int(math.ceil(core / self.stride) * self.stride)
        # Left context: a stride multiple (windows start on demucs' segment grid) covering every
        # segment that reaches into the core or its crossfade.
        left = self.seg_len - self.stride + half_x + pad
        self.left = int(math.ceil(max(left, 0) / self.stride) * self.stride)
        self.right = self.seg_len + half_x + pad
        self.half_x = half_x


def _separate_window(model: Any, x: np.ndarray, *, segment: float | None, overlap: float, shifts: int,
                     device: str, seed: int, callback: Callable[[dict], None] | None) -> np.ndarray:
    import torch
    from demucs.apply import apply_model

    random.seed(seed)  # demucs draws its shift offsets from `random`
    mix = torch.from_numpy(np.ascontiguousarray(x))[None]
    with torch.no_grad():
        out = apply_model(model, mix, shifts=shifts, split=True, overlap=overlap, progress=False,
                          device=device, segment=segment, callback=callback)
    return out[0].to("cpu").numpy().astype(np.float32, copy=False)


def _iter_stems(
    blocks: Iterator[np.ndarray],
    total: int | None,
    model: Any,
    *,
    segment: float | None,
    overlap: float,
    shifts: int,
    device: str,
    window: float,
    crossfade: float,
    norm: tuple[float, float],
    seed: int,
    progress: ProgressCallback | None,
) -> Iterator[np.ndarray]:
    """Yield consecutive stem blocks ``(sources, channels, n)`` of a stream of input blocks.

    ``blocks`` are ``(model channels, n)`` at the model's rate; ``total`` is the expected number
    of samples (for progress only).
    """
    sr = int(model.samplerate)
    plan = _Plan(model, sr, segment, overlap, window, crossfade)
    mean, std = norm
    buf = np.zeros((model.audio_channels, 0), np.float32)
    buf_start = 0
    exhausted = False
    emitted = 0
    tail: np.ndarray | None = None
    reported = [0.0]
    i = 0
    while True:
        s0 = max(i * plan.core - plan.left, 0)
        e_need = (i + 1) * plan.core + plan.right
        parts = [buf]
        have = buf_start + buf.shape[1]
        while not exhausted and have < e_need:
            try:
                blk = next(blocks)
            except StopIteration:
                exhausted = True
                break
            parts.append(blk)
            have += blk.shape[1]
        buf = np.concatenate(parts, axis=1) if len(parts) > 1 else buf
        end = buf_start + buf.shape[1]
        if end <= emitted and tail is None:
            break
        e0 = min(e_need, end)
        last = exhausted and e0 == end
        x = (buf[:, s0 - buf_start : e0 - buf_start] - mean) / std
        w_total = max(total or end, 1)

        def cb(d: dict, _s0: int = s0, _len: int = e0 - s0, _tot: int = w_total) -> None:
            if progress is not None and d.get("state") == "end":
                done = _s0 + min(d.get("segment_offset", 0) + plan.seg_len, _len)
                frac = min(done / _tot, 0.999)
                if frac > reported[0]:  # windows overlap: report only forward progress
                    reported[0] = frac
                    progress(frac, f"separating {done / sr:.0f}/{_tot / sr:.0f} s")

        out = _separate_window(model, x, segment=segment, overlap=overlap, shifts=shifts, device=device,
                               seed=seed + i, callback=cb if progress else None)
        # (sources, channels, e0 - s0); the mean is shared out so that stems of a model whose
        # sources sum to its input still sum to the mix (demucs' CLI adds it to every stem).
        out = out * np.float32(std) + np.float32(mean / out.shape[0])
        if tail is not None:
            t0, t1 = emitted, emitted + tail.shape[-1]
            ramp = ((np.arange(t1 - t0) + 0.5) / (t1 - t0)).astype(np.float32)
            yield tail * (1 - ramp) + out[..., t0 - s0 : t1 - s0] * ramp
            emitted = t1
            tail = None
        if last:
            if e0 > emitted:
                yield out[..., emitted - s0 :]
            emitted = e0
            break
        cut = (i + 1) * plan.core - plan.half_x
        if cut > emitted:
            yield out[..., emitted - s0 : cut - s0]
            emitted = cut
        t_end = min((i + 1) * plan.core + plan.half_x, e0)
        tail = out[..., emitted - s0 : t_end - s0].copy()
        if tail.shape[-1] == 0:
            tail = None
        # Drop input that no later window needs.
        next_s0 = max((i + 1) * plan.core - plan.left, 0)
        if next_s0 > buf_start:
            buf = buf[:, next_s0 - buf_start :]
            buf_start = next_s0
        i += 1
    if progress:
        progress(1.0, "separated")


def _check_options(shifts: int, overlap: float, window: float, crossfade: float, segment: float | None) -> None:
    if not isinstance(shifts, (int, np.integer)) or shifts < 0 or shifts > 20:
        raise ParameterError(f"shifts must be a whole number in [0, 20], got {shifts!r}")
    if not 0.0 <= overlap < 1.0:
        raise ParameterError(f"overlap must be in [0, 1), got {overlap!r}")
    if not window > 0:
        raise ParameterError(f"window must be > 0 s, got {window!r}")
    if not 0 <= crossfade <= window:
        raise ParameterError(f"crossfade must be in [0, window] s, got {crossfade!r}")
    if segment is not None and not segment > 0:
        raise ParameterError(f"segment must be > 0 s, got {segment!r}")


def separate_stems(
    audio: np.ndarray,
    sr: float,
    *,
    model: str | Any = "htdemucs",
    repo: str | Path | None = None,
    device: str = "cpu",
    segment: float | None = None,
    overlap: float = 0.25,
    shifts: int = 1,
    window: float | None = DEFAULT_WINDOW,
    crossfade: float = DEFAULT_CROSSFADE,
    seed: int = 0,
    progress: ProgressCallback | None = None,
) -> dict[str, np.ndarray]:
    """Separate a mix into stems with demucs.

    Parameters
    ----------
    audio : np.ndarray, shape ``(channels, samples)`` or ``(samples,)``
        The mix; never modified. Mono is fed to the model as stereo and the stems averaged back
        to mono; more than two channels are down-mixed.
    sr : float
        Sample rate, Hz (resampled to the model's rate and back when different).
    model : str or demucs model
        Model name (``htdemucs``, ``htdemucs_6s`` for 6 stems, ``demucs_unittest``...) or a loaded
        demucs model.
    repo : path, optional
        Local folder of weights (see :func:`load_model`).
    device : {"cpu", "cuda", "mps"}
        Where the model runs (``cuda:N`` accepted).
    segment : float, optional
        Seconds per demucs segment (default: the model's own).
    overlap : float
        Overlap of demucs segments, ``[0, 1)``.
    shifts : int
        Random time shifts averaged (demucs' ``--shifts``; 0 = deterministic, faster).
    window : float or None
        Seconds of each processing window (memory is bounded by it); ``None`` = whole track
        in one window (demucs' own behaviour).
    crossfade : float
        Seconds of linear crossfade between windows.
    seed : int
        Seed of the shift offsets (reproducible output).
    progress : callable, optional
        ``progress(fraction, message)``.

    Returns
    -------
    dict of str -> np.ndarray, float32, shape ``(channels, samples)``
        One entry per model source (``drums``, ``bass``, ``other``, ``vocals``; plus ``guitar``,
        ``piano`` for 6-source models), in the model's order, at ``sr``, same layout as the
        input.

    Raises
    ------
    ModelError
        The model cannot be loaded (see :func:`load_model`).
    ParameterError
        Bad option or unavailable device.
    """
    from ..core.io import resample

    x, was_mono = as_audio(audio, name="audio to separate")
    rate = check_sample_rate(sr)
    _check_options(shifts, overlap, window or 1.0, crossfade if window else 0.0, segment)
    dev = check_device(device)
    net = model if not isinstance(model, str) else load_model(model, repo)
    msr = int(net.samplerate)
    y = match_channels(x, net.audio_channels)
    if rate != msr:
        y = resample(y, rate, msr)
    ref = y.mean(axis=0)
    norm = (float(ref.mean()), float(ref.std()) or 1.0)
    n = y.shape[1]
    win = float(window) if window else (n / msr + 1.0)
    blocks = iter([y])
    parts = list(_iter_stems(blocks, n, net, segment=segment, overlap=overlap, shifts=shifts, device=dev,
                             window=win, crossfade=crossfade if window else 0.0, norm=norm, seed=seed,
                             progress=progress))
    stems = np.concatenate(parts, axis=-1) if len(parts) > 1 else parts[0]
    out: dict[str, np.ndarray] = {}
    for k, name in enumerate(net.sources):
        s = stems[k]
        if rate != msr:
            s = resample(s, msr, rate)
            s = s[:, : x.shape[1]] if s.shape[1] >= x.shape[1] else np.pad(s, ((0, 0), (0, x.shape[1] - s.shape[1])))
        s = match_channels(s, x.shape[0])
        out[name] = restore_layout(np.ascontiguousarray(s, dtype=np.float32), was_mono)
    return out


def _file_stats(path: Path, sr: float, channels: int, block: int) -> tuple[tuple[float, float], int]:
    """Mean and standard deviation of the mono mix of a file (one streaming pass), and its length."""
    from ..core.io import stream_audio

    n = 0
    s1 = 0.0
    s2 = 0.0
    for b in stream_audio(path, block, sample_rate=sr):
        m = match_channels(b, channels).mean(axis=0, dtype=np.float64)
        n += m.size
        s1 += float(m.sum())
        s2 += float(np.dot(m, m))
    if n == 0:
        raise AudioError(f"{path}: contains no audio samples")
    mean = s1 / n
    std = math.sqrt(max(s2 / n - mean * mean, 0.0))
    return (mean, std or 1.0), n


def separate_file(
    path: str | Path,
    out_dir: str | Path,
    *,
    model: str | Any = "htdemucs",
    repo: str | Path | None = None,
    device: str = "cpu",
    segment: float | None = None,
    overlap: float = 0.25,
    shifts: int = 1,
    window: float = DEFAULT_WINDOW,
    crossfade: float = DEFAULT_CROSSFADE,
    seed: int = 0,
    fmt: str = "wav",
    bit_depth: int | None = None,
    block_size: int = 262144,
    progress: ProgressCallback | None = None,
) -> dict[str, Path]:
    """Separate an audio file into stem files, streaming with bounded memory.

    The input is read block by block, separated window by window (see the module docs) and
    every stem is written incrementally to ``out_dir/<stem>.<fmt>`` at the model's sample rate
    and channel count. Files appear only when all of them are complete; on any error none is
    left behind.

    Parameters
    ----------
    path : str or Path
        Input audio file (never modified).
    out_dir : str or Path
        Folder for the stems (created).
    model, repo, device, segment, overlap, shifts, window, crossfade, seed
        As in :func:`separate_stems`.
    fmt : str
        Output extension: ``wav``, ``flac``, ``aiff``, ``ogg``, ``mp3``.
    bit_depth : int, optional
        16, 24 or 32 (wav/flac/aiff).
    block_size : int
        Samples read per block.
    progress : callable, optional
        ``progress(fraction, message)``.

    Returns
    -------
    dict of str -> Path
        Stem name -> written file, in the model's source order.

    Raises
    ------
    ModelError, ParameterError, AudioError, PathError
    """
    from ..core.io import audio_info
    from ..core.runner import AudioOutputs, run_file

    src = Path(path)
    audio_info(src)  # fails early on a missing / corrupt input
    _check_options(shifts, overlap, window, crossfade, segment)
    dev = check_device(device)
    net = model if not isinstance(model, str) else load_model(model, repo)  # before any output exists
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ParameterError(f"{out}: exists and is not a folder")
    msr = int(net.samplerate)
    ch = int(net.audio_channels)
    if progress:
        progress(0.0, "measuring the mix")
    norm, total = _file_stats(src, msr, ch, block_size)
    paths = {name: out / f"{name}.{fmt.lstrip('.')}" for name in net.sources}
    # The folder is created with the files and removed again if the run fails or is stopped.
    outputs = AudioOutputs(paths, msr, inputs=[src], bit_depth=bit_depth, make_folders=True)
    run_file(src, lambda blocks: _iter_stems(blocks, total, net, segment=segment, overlap=overlap, shifts=shifts,
                                             device=dev, window=window, crossfade=crossfade, norm=norm,
                                             seed=seed, progress=progress),
             outputs, block_size=block_size, sample_rate=msr, channels=ch)
    return paths


# --------------------------------------------------------------------------------------------
# Node
# --------------------------------------------------------------------------------------------


class DemucsSeparator(EffectNode):
    """Separate with demucs and output one stem, or a mix of the stems with a gain for each.

    ``stem="drums"`` outputs the drums; ``stem="mix"`` outputs ``sum(gain_<stem> * stem)``
    (gains in dB, ``-inf`` muting below -60 dB), e.g. drums up and vocals out in one chain.
    The last separation's stems stay on ``node.stems``. The node needs whole buffers
    (``reset=True``); to separate long files with bounded memory use :func:`separate_file`.
    """

    type_name = "demucs"
    whole_buffer_only = ("demucs needs the whole track (reset=True); "
                         "use technob_fx.stages.stems.separate_file to stream a long file")
    model = Param(str, "htdemucs", doc="demucs model name (htdemucs, htdemucs_6s, demucs_unittest, ...)")
    repo = Param(str, "", doc="local folder of model weights ('' = cache / hub)")
    device = Param(str, "cpu", doc="cpu, cuda or mps")
    stem = Param(str, "mix", doc="output one stem by name, or 'mix' of all with the gains below")
    drums_db = Param(float, 0.0, -60.0, 12.0, unit="dB", doc="gain of drums in the mix (-60 = off)")
    bass_db = Param(float, 0.0, -60.0, 12.0, unit="dB", doc="gain of bass in the mix")
    other_db = Param(float, 0.0, -60.0, 12.0, unit="dB", doc="gain of other in the mix")
    vocals_db = Param(float, 0.0, -60.0, 12.0, unit="dB", doc="gain of vocals in the mix")
    shifts = Param(int, 1, 0, 20, doc="random shifts averaged")
    overlap = Param(float, 0.25, 0.0, 0.95, doc="overlap of demucs segments")
    window = Param(float, DEFAULT_WINDOW, 1.0, 3600.0, unit="s", doc="processing window (bounds memory)")

    def __init__(self, *, name: str | None = None, **params: Any) -> None:
        super().__init__(name=name, **params)
        self.stems: dict[str, np.ndarray] = {}

    def process_block(self, audio: np.ndarray, sample_rate: float) -> np.ndarray:
        self.stems = separate_stems(audio, sample_rate, model=self.model, repo=self.repo or None,
                                    device=self.device, shifts=self.shifts, overlap=self.overlap,
                                    window=self.window)
        if self.stem != "mix":
            if self.stem not in self.stems:
                raise ParameterError(f"{self.name}: model {self.model!r} has no stem {self.stem!r}; "
                                     f"it has {', '.join(self.stems)}")
            return self.stems[self.stem]
        out = np.zeros_like(audio)
        for k, s in self.stems.items():
            db = getattr(self, f"{k}_db", 0.0)
            if db > -60.0:
                out += s * np.float32(10 ** (db / 20))
        return out
