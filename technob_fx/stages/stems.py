"""DNN source separation with demucs, streamed segment by segment with bounded memory.

demucs separates a whole track at once and keeps every stem of it in memory (a 60-minute file
needs tens of GB). Here demucs' own segment loop (``apply_model(split=True)``: segments of the
model's length every ``(1 - overlap)`` of it, triangle-weighted overlap-add, random shifts as
leading zeros) runs as the input is read: each segment goes through the model with demucs' own
padding, and what no later segment touches is written to the stem files at once. The model sees
exactly the segments it sees on the whole track, no more (no extra context windows), so the stems
equal whole-track ``apply_model`` with the same ``random`` seed, shifts included, and peak memory
is a few segments, whatever the track's length.

Models come from (in order): a local folder (``repo=``, demucs' ``--repo``: ``<sig>.th`` files plus
``<name>.yaml`` for a bag of models), the torch hub cache
(``~/.cache/torch/hub/checkpoints/<sig>-<hash>.th``), or the hub (HuggingFace, then
dl.fbaipublicfiles.com). Offline with no local weights, :class:`~technob_fx.core.errors.ModelError`
says which files are needed and where to put them. ``"demucs_unittest"`` (a tiny untrained
HDemucs built locally) needs no weights; tests and benchmarks use it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..core.audio import as_audio, check_sample_rate, match_channels, restore_layout
from ..core.errors import AudioError, ModelError, ParameterError
from ..core.node import EffectNode, Param
from ..core.progress import ProgressCallback

DEVICES = ("cpu", "cuda", "mps")

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
# Streaming separation: demucs' own segment loop, fed block by block
# --------------------------------------------------------------------------------------------


def _bag(model: Any) -> tuple[list[Any], list[list[float]] | None]:
    """The models of a bag (with their per-source weights), or ``[model], None``."""
    from demucs.apply import BagOfModels

    if isinstance(model, BagOfModels):
        return list(model.models), [list(map(float, w)) for w in model.weights]
    return [model], None


def _check_segment(model: Any, segment: float | None) -> None:
    """HTDemucs cannot run segments longer than the ones it was trained on (demucs' CLI refuses too)."""
    from demucs.htdemucs import HTDemucs

    if segment is None:
        return
    for m in _bag(model)[0]:
        if isinstance(m, HTDemucs) and segment > float(m.segment):
            raise ParameterError(f"segment must be at most {float(m.segment):g} s for this transformer model "
                                 f"(its training segment); got {segment:g}")


class _SegmentStream:
    """demucs' ``apply_model(split=True)`` loop for one model and one shift, run as input arrives.

    The signal it separates is the normalised mix delayed by ``delay`` samples (demucs' random
    shift: zeros in front, whose output is dropped again) and zero outside the track, exactly as
    demucs' :class:`~demucs.apply.TensorChunk` padding sees it. Segments start every ``stride``
    samples; each goes through the model with demucs' own padding
    (``apply_model(split=False)`` on a chunk that holds all the audio that padding may read), is
    weighted by the same triangle and summed into blocks of ``stride`` samples that live only
    while a segment in flight reaches them. Output before the next segment's start is final.
    """

    def __init__(self, model: Any, *, segment: float | None, overlap: float, delay: int, total: int,
                 device: str, sources: int, channels: int) -> None:
        import torch
        from demucs.htdemucs import HTDemucs

        self.model = model
        self.segment = segment
        seg = segment if segment is not None else model.segment
        self.seg_len = int(model.samplerate * seg)  # demucs' own expressions, to the sample
        self.stride = max(int((1 - overlap) * self.seg_len), 1)
        self.delay = delay
        self.length = total + delay  # samples of the (shifted) signal
        self.device = device
        w = torch.cat([torch.arange(1, self.seg_len // 2 + 1, device=device),
                       torch.arange(self.seg_len - self.seg_len // 2, 0, -1, device=device)])
        self.weight = w / w.max()  # demucs' triangle at its default transition_power 1
        self._fixed = int(segment * model.samplerate) if isinstance(model, HTDemucs) and segment is not None else None
        self.offset = 0  # next segment's start (signal samples)
        self.shape = (sources, channels)
        # block j: weighted sums and weights of signal samples [j * stride, (j + 1) * stride)
        self.blocks: dict[int, tuple[Any, Any]] = {}
        self.taken = 0  # signal samples before this are output (or dropped)

    def valid_length(self, length: int) -> int:
        """The padded length demucs feeds the model for a chunk of ``length`` samples."""
        if self._fixed is not None:
            return self._fixed
        if hasattr(self.model, "valid_length"):
            return int(self.model.valid_length(length))
        return length

    def _span(self) -> tuple[int, int, int]:
        """(chunk length, first, end) signal samples the next segment reads, padding included."""
        cl = min(self.seg_len, self.length - self.offset)
        vl = self.valid_length(cl)
        start = self.offset - (vl - cl) // 2
        return cl, max(start, 0), min(start + vl, self.length)

    @property
    def done(self) -> bool:
        return self.offset >= self.length

    def needs(self) -> tuple[int, int]:
        """Mix samples ``[a, b)`` the next segment reads."""
        _, s0, s1 = self._span()
        return max(s0 - self.delay, 0), max(s1 - self.delay, 0)

    @property
    def final(self) -> int:
        """Mix samples before this are complete."""
        return min(self.offset, self.length) - self.delay

    def step(self, mix: np.ndarray, mix_start: int) -> None:
        """Separate the next segment; ``mix`` holds normalised mix samples from ``mix_start``."""
        import torch
        from demucs.apply import TensorChunk, apply_model

        cl, s0, s1 = self._span()
        a, b = s0 - self.delay, s1 - self.delay
        lead = max(-a, 0)  # signal samples before the track (the shift's zeros)
        part = mix[:, max(a, 0) - mix_start : b - mix_start] if b > 0 else mix[:, :0]
        x = np.zeros((mix.shape[0], s1 - s0), np.float32)
        x[:, lead : lead + part.shape[1]] = part
        chunk = TensorChunk(torch.from_numpy(x)[None], self.offset - s0, cl)
        out = apply_model(self.model, chunk, shifts=0, split=False, segment=self.segment, device=self.device,
                          progress=False)
        o = self.offset
        contrib = (self.weight[:cl] * out[0]).to("cpu")  # (sources, channels, cl), as demucs sums it
        w = self.weight[:cl].to("cpu")
        for j in range(o // self.stride, (o + cl - 1) // self.stride + 1):
            b0, b1 = max(j * self.stride, o), min((j + 1) * self.stride, o + cl)
            if j not in self.blocks:
                self.blocks[j] = (torch.zeros(*self.shape, self.stride), torch.zeros(self.stride))
            acc, wsum = self.blocks[j]
            acc[..., b0 - j * self.stride : b1 - j * self.stride] += contrib[..., b0 - o : b1 - o]
            wsum[b0 - j * self.stride : b1 - j * self.stride] += w[b0 - o : b1 - o]
        self.offset += self.stride

    def take(self, a: int, b: int) -> Any:
        """Finished output for mix samples ``[a, b)`` (``a`` = the first not taken yet)."""
        import torch

        s0, s1 = a + self.delay, b + self.delay  # signal samples (the shift's leading zeros skipped)
        assert s0 >= self.taken
        parts = []
        for j in range(s0 // self.stride, (s1 - 1) // self.stride + 1):
            acc, wsum = self.blocks[j]
            c0, c1 = max(s0 - j * self.stride, 0), min(s1 - j * self.stride, self.stride)
            parts.append(acc[..., c0:c1] / wsum[c0:c1])
            if (j + 1) * self.stride <= s1:
                del self.blocks[j]
        self.taken = s1
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1)


def _iter_stems(
    blocks: Iterator[np.ndarray],
    total: int,
    model: Any,
    *,
    segment: float | None,
    overlap: float,
    shifts: int,
    device: str,
    norm: tuple[float, float],
    seed: int,
    progress: ProgressCallback | None,
) -> Iterator[np.ndarray]:
    """Yield consecutive stem blocks ``(sources, channels, n)`` of a stream of input blocks.

    ``blocks`` are ``(model channels, n)`` at the model's rate, ``total`` samples in all. The
    result equals demucs' ``apply_model(model, whole_mix, shifts, split=True, overlap, segment)``
    after ``random.seed(seed)`` (the same segments, padding, weights, shift offsets and sums, in
    the same order), while only the segments in flight are held in memory.
    """
    import torch

    models, weights = _bag(model)
    mean, std = norm
    # demucs draws its shift offsets from `random`, model by model: the same draws as after
    # random.seed(seed), without touching the caller's global random state
    rng = random.Random(seed)
    streams: list[list[_SegmentStream]] = []
    for m in models:  # (apply_model moves each model to the device and sets eval mode)
        max_shift = int(0.5 * m.samplerate)
        delays = [max_shift - rng.randint(0, max_shift) for _ in range(shifts)] if shifts else [0]
        streams.append([_SegmentStream(m, segment=segment, overlap=overlap, delay=d, total=total, device=device,
                                       sources=len(model.sources), channels=int(model.audio_channels))
                        for d in delays])
    flat = [s for group in streams for s in group]
    n_steps = sum(math.ceil(s.length / s.stride) for s in flat)
    steps = 0
    buf = np.zeros((int(model.audio_channels), 0), np.float32)  # normalised mix from buf_start
    buf_start = 0
    exhausted = False
    emitted = 0
    with torch.no_grad():
        while emitted < total:
            ran = False
            have = buf_start + buf.shape[1]
            for s in flat:  # one segment each, then out with what is finished
                if not s.done and s.needs()[1] <= have:
                    s.step(buf, buf_start)
                    steps += 1
                    ran = True
                    if progress is not None:
                        done = max(min(s.final, total), 0) / model.samplerate
                        progress(min(steps / n_steps, 0.999), f"separating {done:.0f}/{total / model.samplerate:.0f} s")
            ready = min(min(s.final for s in flat), total)
            if ready > emitted:
                est = None
                for k, group in enumerate(streams):
                    out = None
                    for s in group:
                        part = s.take(emitted, ready)
                        out = part if out is None else out + part
                    if shifts:
                        out /= shifts
                    if weights is not None:
                        for j, w in enumerate(weights[k]):
                            out[j] *= w
                    est = out if est is None else est + out
                if weights is not None:
                    for j in range(est.shape[0]):
                        est[j] /= sum(w[j] for w in weights)
                # The mean is shared out so that stems of a model whose sources sum to its input
                # still sum to the mix (demucs' CLI adds it to every stem).
                yield est.numpy() * np.float32(std) + np.float32(mean / est.shape[0])
                emitted = ready
                keep = min([s.needs()[0] for s in flat if not s.done] or [have])
                if keep > buf_start:
                    buf = buf[:, keep - buf_start :]
                    buf_start = keep
                continue
            if ran:
                continue
            if exhausted:
                raise AudioError(f"the input ended after {have} of {total} samples")
            try:
                blk = next(blocks)
            except StopIteration:
                exhausted = True
                continue
            x = (np.asarray(blk, np.float32) - np.float32(mean)) / np.float32(std)
            buf = np.concatenate([buf, x], axis=1)
    if progress:
        progress(1.0, "separated")


def _check_options(shifts: int, overlap: float, segment: float | None) -> None:
    if not isinstance(shifts, (int, np.integer)) or shifts < 0 or shifts > 20:
        raise ParameterError(f"shifts must be a whole number in [0, 20], got {shifts!r}")
    if not 0.0 <= overlap < 1.0:
        raise ParameterError(f"overlap must be in [0, 1), got {overlap!r}")
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
    seed : int
        Seed of the shift offsets (reproducible output: the stems equal demucs'
        ``apply_model`` after ``random.seed(seed)``).
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
    _check_options(shifts, overlap, segment)
    dev = check_device(device)
    net = model if not isinstance(model, str) else load_model(model, repo)
    _check_segment(net, segment)
    msr = int(net.samplerate)
    y = match_channels(x, net.audio_channels)
    if rate != msr:
        y = resample(y, rate, msr)
    ref = y.mean(axis=0)
    std = float(ref.std(ddof=1)) if ref.size > 1 else 0.0
    norm = (float(ref.mean()), std or 1.0)  # as _file_stats: n - 1, and 1 for a constant signal
    n = y.shape[1]
    parts = list(_iter_stems(iter([y]), n, net, segment=segment, overlap=overlap, shifts=shifts, device=dev,
                             norm=norm, seed=seed, progress=progress))
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
    """Mean and standard deviation (``n - 1``, as torch's ``std``, demucs' CLI) of the mono mix
    of a file (one streaming pass), and its length."""
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
    std = math.sqrt(max(s2 - n * mean * mean, 0.0) / max(n - 1, 1))
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
    seed: int = 0,
    fmt: str = "wav",
    bit_depth: int | None = None,
    block_size: int = 262144,
    progress: ProgressCallback | None = None,
) -> dict[str, Path]:
    """Separate an audio file into stem files, streaming with bounded memory.

    The input is read block by block, separated segment by segment exactly as demucs does on the
    whole track (see the module docs) and every stem is written incrementally to ``out_dir/<stem>.<fmt>`` at the model's sample rate
    and channel count. Files appear only when all of them are complete; on any error none is
    left behind.

    Parameters
    ----------
    path : str or Path
        Input audio file (never modified).
    out_dir : str or Path
        Folder for the stems (created).
    model, repo, device, segment, overlap, shifts, seed
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
    _check_options(shifts, overlap, segment)
    dev = check_device(device)
    net = model if not isinstance(model, str) else load_model(model, repo)  # before any output exists
    _check_segment(net, segment)
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
                                             device=dev, norm=norm, seed=seed, progress=progress),
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
    (``reset=True``); to separate long files straight to disk use :func:`separate_file`.
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

    def __init__(self, *, name: str | None = None, **params: Any) -> None:
        super().__init__(name=name, **params)
        self.stems: dict[str, np.ndarray] = {}

    def process_block(self, audio: np.ndarray, sample_rate: float) -> np.ndarray:
        self.stems = separate_stems(audio, sample_rate, model=self.model, repo=self.repo or None,
                                    device=self.device, shifts=self.shifts, overlap=self.overlap)
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
