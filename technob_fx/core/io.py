"""Audio and file I/O: read, stream, write atomically, resample.

Decoding and encoding go through :class:`pedalboard.io.AudioFile` (wav, flac, mp3, ogg, aiff).
Every write goes to a temporary file in the destination folder and is renamed into place only
once complete, so a failure never leaves a half-written output; an output path that is one of the
inputs is refused.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .audio import as_audio, check_sample_rate
from .errors import AudioError, PathError

#: Extensions pedalboard can write.
WRITABLE_FORMATS = (".wav", ".flac", ".mp3", ".ogg", ".aiff", ".aif")
#: Extensions we read (anything pedalboard/FFmpeg-free decoders handle).
READABLE_FORMATS = WRITABLE_FORMATS + (".m4a",)


@dataclass(frozen=True)
class AudioInfo:
    """What an audio file holds, read from its header.

    Attributes
    ----------
    path : Path
    sample_rate : float
        Hz.
    channels : int
    frames : int
        Samples per channel.
    """

    path: Path
    sample_rate: float
    channels: int
    frames: int

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def _open_read(path: str | Path):  # noqa: ANN202 - pedalboard's ReadableAudioFile
    from pedalboard.io import AudioFile

    p = Path(path)
    if not p.exists():
        raise AudioError(f"{p}: no such file")
    if p.is_dir():
        raise AudioError(f"{p}: is a folder, not an audio file")
    if p.stat().st_size == 0:
        raise AudioError(f"{p}: file is empty (0 bytes)")
    try:
        f = AudioFile(str(p))
    except Exception as exc:  # noqa: BLE001 - decoder errors come as ValueError/RuntimeError
        msg = str(exc).replace("Failed to open audio file: ", "")
        raise AudioError(f"{p}: cannot decode audio ({msg})") from None
    if f.frames == 0 or f.num_channels == 0:
        f.close()
        raise AudioError(f"{p}: contains no audio samples")
    return f


def audio_info(path: str | Path) -> AudioInfo:
    """Read an audio file's header.

    Raises
    ------
    AudioError
        Missing, empty, corrupt or unsupported file.
    """
    with _open_read(path) as f:
        return AudioInfo(Path(path), float(f.samplerate), int(f.num_channels), int(f.frames))


def read_audio(
    path: str | Path,
    sample_rate: float | None = None,
    *,
    mono: bool = False,
    offset: float = 0.0,
    duration: float | None = None,
) -> tuple[np.ndarray, float]:
    """Decode an audio file.

    Parameters
    ----------
    path : str or Path
        wav, flac, mp3, ogg or aiff file.
    sample_rate : float, optional
        Resample to this rate (Hz). Default: the file's own rate.
    mono : bool
        Average the channels.
    offset : float
        Start reading this many seconds in.
    duration : float, optional
        Read at most this many seconds.

    Returns
    -------
    audio : np.ndarray, float32, shape ``(channels, samples)``
        ``channels`` is 1 with ``mono=True``.
    sample_rate : float
        Hz of the returned audio.

    Raises
    ------
    AudioError
        Missing, empty, corrupt or unsupported file; NaN samples.
    """
    with _open_read(path) as f:
        src = f
        if sample_rate is not None and float(sample_rate) != f.samplerate:
            src = f.resampled_to(check_sample_rate(sample_rate))
        sr = float(src.samplerate)
        start = int(round(max(0.0, offset) * sr))
        if start:
            src.seek(min(start, src.frames))
        n = src.frames - src.tell()
        if duration is not None:
            n = min(n, int(round(duration * sr)))
        try:
            audio = src.read(max(n, 0))
        except Exception as exc:  # noqa: BLE001
            raise AudioError(f"{path}: decoding failed part-way ({exc})") from None
    if mono and audio.shape[0] > 1:
        audio = audio.mean(axis=0, keepdims=True, dtype=np.float32)
    audio, _ = as_audio(audio, name=str(path))
    return audio, sr


def stream_audio(
    path: str | Path,
    block_size: int = 65536,
    *,
    sample_rate: float | None = None,
) -> Iterator[np.ndarray]:
    """Yield a file's audio in blocks with bounded memory.

    Parameters
    ----------
    path : str or Path
    block_size : int
        Samples per block (the last block may be shorter).
    sample_rate : float, optional
        Resample on the fly to this rate (Hz).

    Yields
    ------
    np.ndarray, float32, shape ``(channels, <= block_size)``
    """
    if block_size < 1:
        raise AudioError(f"block_size must be >= 1, got {block_size}")
    with _open_read(path) as f:
        target = None
        if sample_rate is not None and float(sample_rate) != f.samplerate:
            target = check_sample_rate(sample_rate)
        blocks = _decoded_blocks(f, path, block_size)
        if target is None:
            yield from blocks
        else:
            yield from _resampled_blocks(blocks, f.samplerate, target, f.num_channels, block_size)


def _decoded_blocks(f: Any, path: str | Path, block_size: int) -> Iterator[np.ndarray]:
    while f.tell() < f.frames:
        try:
            block = f.read(block_size)
        except Exception as exc:  # noqa: BLE001
            raise AudioError(f"{path}: decoding failed part-way ({exc})") from None
        if block.shape[1] == 0:
            break
        if not np.isfinite(block).all():
            raise AudioError(f"{path}: contains NaN or infinite samples")
        yield block


def _resampled_blocks(
    blocks: Iterator[np.ndarray], rate: float, target: float, channels: int, block_size: int
) -> Iterator[np.ndarray]:
    # A streaming soxr resampler (HQ) over the decoded blocks, re-cut into blocks of
    # ``block_size``: about 10x faster than pedalboard's resampling reader, same length.
    import soxr

    rs = soxr.ResampleStream(rate, target, channels, dtype="float32", quality="HQ")
    pending: list[np.ndarray] = []
    have = 0

    def cut(final: bool) -> Iterator[np.ndarray]:
        nonlocal pending, have
        if not pending:
            return
        joined = np.concatenate(pending, axis=1)
        stop = have if final else have - have % block_size
        for i in range(0, stop, block_size):
            yield np.ascontiguousarray(joined[:, i : i + block_size])
        pending, have = [joined[:, stop:]], have - stop

    for block in blocks:
        out = rs.resample_chunk(np.ascontiguousarray(block.T)).T
        pending.append(out)
        have += out.shape[1]
        if have >= block_size:
            yield from cut(final=False)
    pending.append(rs.resample_chunk(np.zeros((0, channels), np.float32), last=True).T)
    have += pending[-1].shape[1]
    yield from cut(final=True)


def resample(audio: np.ndarray, sample_rate: float, target_rate: float) -> np.ndarray:
    """Resample ``(channels, samples)`` audio with soxr (high quality).

    Returns
    -------
    np.ndarray, float32, shape ``(channels, round(samples * target_rate / sample_rate))``
    """
    import soxr

    audio, was_mono = as_audio(audio)
    sr_in, sr_out = check_sample_rate(sample_rate), check_sample_rate(target_rate)
    if sr_in == sr_out:
        return audio[0] if was_mono else audio
    out = soxr.resample(audio.T, sr_in, sr_out, quality="HQ").T.astype(np.float32)
    out = np.ascontiguousarray(out)
    return out[0] if was_mono else out


# --------------------------------------------------------------------------------------------
# Atomic writes
# --------------------------------------------------------------------------------------------


def check_output_path(path: str | Path, inputs: Iterable[str | Path] = ()) -> Path:
    """Validate an output path: its folder must exist and it must not be one of ``inputs``.

    Raises
    ------
    PathError
        The output would overwrite an input, or its folder does not exist.
    """
    out = Path(path)
    if out.is_dir():
        raise PathError(f"{out}: is a folder; give a file name")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise PathError(f"{out}: folder {parent} does not exist")
    for src in inputs:
        src_p = Path(src)
        same = out.resolve() == src_p.resolve()
        if not same and out.exists() and src_p.exists():
            with contextlib.suppress(OSError):
                same = os.path.samefile(out, src_p)
        if same:
            raise PathError(f"{out}: refusing to overwrite the input file")
    return out


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | Path, inputs: Iterable[str | Path] = ()) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` only on success.

    The temporary file keeps ``path``'s extension (encoders pick the format from it). On any
    exception it is deleted and ``path`` is left as it was.
    """
    out = check_output_path(path, inputs)
    parent = out.parent if str(out.parent) else Path(".")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=".part" + out.suffix, dir=parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file normal permissions
        os.replace(tmp, out)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write text atomically (temp file + rename)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write bytes atomically (temp file + rename)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def _check_writable_format(out: Path) -> None:
    if out.suffix.lower() not in WRITABLE_FORMATS:
        raise AudioError(
            f"{out}: cannot write format {out.suffix or '(none)'!r}; "
            f"use one of {', '.join(WRITABLE_FORMATS)}"
        )


def _writer_kwargs(out: Path, quality: str | float | None, bit_depth: int | None) -> dict:
    kwargs: dict = {}
    if quality is not None:
        kwargs["quality"] = quality
    if bit_depth is not None and out.suffix.lower() in (".wav", ".flac", ".aiff", ".aif"):
        kwargs["bit_depth"] = bit_depth
    return kwargs


def write_audio(
    path: str | Path,
    audio: np.ndarray,
    sample_rate: float,
    *,
    inputs: Iterable[str | Path] = (),
    quality: str | float | None = None,
    bit_depth: int | None = None,
) -> Path:
    """Encode audio to a file atomically.

    Parameters
    ----------
    path : str or Path
        Output; the format follows the extension (wav, flac, mp3, ogg, aiff).
    audio : np.ndarray, shape ``(channels, samples)`` or ``(samples,)``
    sample_rate : float
        Hz.
    inputs : iterable of paths
        Files this output must not overwrite.
    quality : str or float, optional
        Encoder quality (mp3 VBR level, ogg quality), as pedalboard takes it.
    bit_depth : int, optional
        16, 24 or 32 for wav/flac/aiff (default: pedalboard's choice for float32 input).

    Returns
    -------
    Path
        ``path``.
    """
    from pedalboard.io import AudioFile

    out = Path(path)
    _check_writable_format(out)
    data, _ = as_audio(audio, name="audio to write")
    sr = check_sample_rate(sample_rate)
    with atomic_path(out, inputs) as tmp:
        try:
            with AudioFile(
                str(tmp), "w", sr, data.shape[0], **_writer_kwargs(out, quality, bit_depth)
            ) as f:
                f.write(data)
        except AudioError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise AudioError(f"{out}: cannot encode ({exc})") from None
    return out


class AtomicAudioWriter:
    """Write a stream of blocks to an audio file that appears only when complete.

    Use as a context manager; an exception inside the block deletes the temporary file and
    leaves ``path`` untouched.

    Parameters
    ----------
    path : str or Path
    sample_rate : float
        Hz.
    channels : int
    inputs : iterable of paths
        Files this output must not overwrite.
    """

    def __init__(
        self,
        path: str | Path,
        sample_rate: float,
        channels: int,
        *,
        inputs: Iterable[str | Path] = (),
        quality: str | float | None = None,
        bit_depth: int | None = None,
    ) -> None:
        self.path = Path(path)
        _check_writable_format(self.path)
        self.sample_rate = check_sample_rate(sample_rate)
        self.channels = int(channels)
        self.frames = 0
        self._inputs = list(inputs)
        self._kwargs = _writer_kwargs(self.path, quality, bit_depth)
        self._ctx: contextlib.AbstractContextManager | None = None
        self._file = None

    def __enter__(self) -> AtomicAudioWriter:
        from pedalboard.io import AudioFile

        self._ctx = atomic_path(self.path, self._inputs)
        tmp = self._ctx.__enter__()
        try:
            self._file = AudioFile(str(tmp), "w", self.sample_rate, self.channels, **self._kwargs)
        except Exception as exc:
            self._ctx.__exit__(type(exc), exc, exc.__traceback__)
            raise AudioError(f"{self.path}: cannot open for writing ({exc})") from None
        return self

    def write(self, block: np.ndarray) -> None:
        """Append a ``(channels, samples)`` block."""
        data, _ = as_audio(block, name="block to write", allow_empty=True)
        if data.shape[0] != self.channels:
            raise AudioError(
                f"{self.path}: block has {data.shape[0]} channels, writer has {self.channels}"
            )
        if data.shape[1]:
            self._file.write(data)  # type: ignore[union-attr]
            self.frames += data.shape[1]

    def __exit__(self, exc_type, exc, tb) -> bool:  # noqa: ANN001
        assert self._ctx is not None
        with contextlib.suppress(Exception):
            self._file.close()  # type: ignore[union-attr]
        return bool(self._ctx.__exit__(exc_type, exc, tb))
