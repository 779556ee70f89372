"""Audio and file I/O: read, stream, write atomically, resample.

Decoding goes through libsndfile (:mod:`soundfile`: wav, flac, ogg, aiff), with
:class:`pedalboard.io.AudioFile` for what libsndfile cannot open; encoding through pedalboard.
MP3s are decoded gaplessly by :class:`GaplessMp3`: libsndfile 1.2.2's mpg123 path honours the LAME
delay but returns corrupted samples after partial reads (about 3,000 samples wrong after every
other block boundary), so it cannot stream; pedalboard's decoder streams correctly but ignores the
encoder delay and padding (its audio starts 1105 samples late: 576 of encoder delay + 529 of
decoder delay). :func:`mp3_gapless_info` reads the LAME/Xing tag and the decoded stream is cut to
exactly the encoded samples.
Truncated files are refused, never padded. Integer PCM outputs follow the input's bit depth
(24-bit when there is none) with TPDF dither; samples beyond full scale are reported.
Every write goes to a temporary file in the destination folder and is renamed into place only
once complete, so a failure never leaves a half-written output; an output path that is one of the
inputs is refused.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .audio import as_audio, check_sample_rate
from .errors import AudioError, PathError, TechnobError

#: Extensions pedalboard can write.
WRITABLE_FORMATS = (".wav", ".flac", ".mp3", ".ogg", ".aiff", ".aif")
#: Extensions we read (anything pedalboard/FFmpeg-free decoders handle).
READABLE_FORMATS = WRITABLE_FORMATS + (".m4a",)


#: Formats written as integer PCM (bit depth and dither apply).
PCM_FORMATS = (".wav", ".flac", ".aiff", ".aif")
#: Largest integer bit depth each PCM format stores (``.wav`` also takes 32 = 32-bit float).
_MAX_BITS = {".wav": 32, ".flac": 24, ".aiff": 24, ".aif": 24}
#: Bit depth of outputs whose input is lossy, unknown or absent.
DEFAULT_BIT_DEPTH = 24
#: libsndfile subtype -> bit depth (32 = float).
_SUBTYPE_BITS = {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32, "FLOAT": 32, "DOUBLE": 32,
                 "ALAC_16": 16, "ALAC_20": 24, "ALAC_24": 24, "ALAC_32": 32}


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
        Samples per channel (decodable, not what a truncated header claims).
    subtype : str
        Sample format as libsndfile names it (``"PCM_16"``, ``"PCM_24"``, ``"FLOAT"``,
        ``"VORBIS"``, ``"MPEG_LAYER_III"``...; ``""`` when another decoder opened it).
    """

    path: Path
    sample_rate: float
    channels: int
    frames: int
    subtype: str = ""

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.frames / self.sample_rate if self.sample_rate else 0.0

    @property
    def bit_depth(self) -> int | None:
        """Bits per sample of a PCM file (32 for float), ``None`` for lossy or unknown formats."""
        return _SUBTYPE_BITS.get(self.subtype)


#: Samples an MPEG layer III decoder outputs before the first encoded sample (528 + 1).
MP3_DECODER_DELAY = 529


def mp3_gapless_info(path: str | Path) -> tuple[int, int, int, int] | None:
    """Encoder delay and padding of an MP3 from its LAME tag (in the Xing/Info frame).

    Returns
    -------
    (delay, padding, frames, samples_per_frame) or None
        ``delay`` and ``padding`` in samples, ``frames`` the number of audio frames after the
        Xing/Info frame; ``None`` when the file has no LAME-style tag (then nothing is known to
        trim).
    """
    import struct

    with open(path, "rb") as fh:
        head = fh.read(10)
        pos = 0
        if head[:3] == b"ID3" and len(head) == 10:  # skip an ID3v2 tag (syncsafe size)
            size = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]
            pos = 10 + size + (10 if head[5] & 0x10 else 0)
        fh.seek(pos)
        d = fh.read(1 << 16)
    i = 0
    while i + 4 <= len(d) and not (d[i] == 0xFF and (d[i + 1] & 0xE0) == 0xE0):
        i += 1
    if i + 4 > len(d):
        return None
    version, layer, mode = (d[i + 1] >> 3) & 3, (d[i + 1] >> 1) & 3, (d[i + 3] >> 6) & 3
    if layer != 1:  # layer III only
        return None
    mpeg1 = version == 3
    side = (17 if mode == 3 else 32) if mpeg1 else (9 if mode == 3 else 17)
    x = i + 4 + side
    if d[x:x + 4] not in (b"Xing", b"Info") or x + 8 > len(d):
        return None
    flags = struct.unpack(">I", d[x + 4:x + 8])[0]
    p = x + 8
    frames = None
    if flags & 1:
        frames = struct.unpack(">I", d[p:p + 4])[0]
        p += 4
    p += (4 if flags & 2 else 0) + (100 if flags & 4 else 0) + (4 if flags & 8 else 0)
    if frames is None or d[p:p + 4] not in (b"LAME", b"Lavf", b"Lavc") or p + 24 > len(d):
        return None
    b = d[p + 21:p + 24]
    delay = (b[0] << 4) | (b[1] >> 4)
    padding = ((b[1] & 0x0F) << 8) | b[2]
    return delay, padding, int(frames), 1152 if mpeg1 else 576


class GaplessMp3:
    """An MP3 decoded by pedalboard and cut to exactly its encoded samples.

    The cut is reconciled with what the decoder produced: ``frames * samples_per_frame`` samples
    (the usual case) start ``delay + 529`` samples late; one frame more means the Info frame was
    decoded as silence; exactly the encoded length means the decoder was gapless already. It
    offers the part of pedalboard's ``ReadableAudioFile`` interface :class:`_Decoder` uses:
    ``samplerate``, ``num_channels``, ``frames``, ``read``, ``seek`` (forward by decoding; MP3
    seeking in the decoder is not sample-accurate), ``tell``, ``close``.

    Attributes
    ----------
    start : int
        Decoded samples skipped at the start.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._f = self._open()
        raw = int(self._f.frames)
        info = mp3_gapless_info(path)
        self.start, self.frames = 0, raw
        if info is not None:
            delay, padding, n_frames, spf = info
            total = n_frames * spf
            length = total - delay - padding
            if 0 < length <= raw:
                if raw == length:
                    start = 0
                elif raw == total + spf:
                    start = spf + delay + MP3_DECODER_DELAY
                else:
                    start = delay + MP3_DECODER_DELAY
                self.start, self.frames = start, min(length, raw - start)
        self.samplerate = float(self._f.samplerate)
        self.num_channels = int(self._f.num_channels)
        self._pos = 0
        self._skip(self.start)

    def _open(self):  # noqa: ANN202
        from pedalboard.io import AudioFile

        try:
            return AudioFile(str(self.path))
        except Exception as exc:  # noqa: BLE001
            msg = str(exc).replace("Failed to open audio file: ", "")
            raise AudioError(f"{self.path}: cannot decode audio ({msg})") from None

    def _skip(self, n: int) -> None:
        while n > 0:
            got = self._f.read(min(n, 1 << 16)).shape[1]
            if got == 0:
                break
            n -= got

    def read(self, n: int) -> np.ndarray:
        n = max(0, min(int(n), self.frames - self._pos))
        out = self._f.read(n) if n else np.zeros((self.num_channels, 0), np.float32)
        self._pos += out.shape[1]
        return out

    def seek(self, frame: int) -> None:
        frame = int(min(max(frame, 0), self.frames))
        if frame < self._pos:
            self._f.close()
            self._f = self._open()
            self._pos = 0
            self._skip(self.start)
        self._skip(frame - self._pos)
        self._pos = frame

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> GaplessMp3:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Decoder:
    """One open audio file read in blocks of ``(channels, n)`` float32.

    libsndfile (through soundfile) decodes wav, flac, ogg and aiff and reports a truncated file
    instead of padding it with silence; MP3s go through :class:`GaplessMp3`; anything libsndfile
    cannot open (m4a...) goes through pedalboard's decoder.
    """

    def __init__(self, path: Path) -> None:
        import soundfile as sf

        self.path = path
        self._sf = None
        self._pb = None
        if path.suffix.lower() == ".mp3":
            self._pb = GaplessMp3(path)
            self.samplerate = float(self._pb.samplerate)
            self.num_channels = int(self._pb.num_channels)
            self.frames = int(self._pb.frames)
            self.subtype = "MPEG_LAYER_III"
            self._pos = 0
            return
        try:
            self._sf = sf.SoundFile(str(path))
        except Exception:  # noqa: BLE001 - not a format libsndfile knows: try pedalboard
            from pedalboard.io import AudioFile

            try:
                self._pb = AudioFile(str(path))
            except Exception as exc:  # noqa: BLE001 - decoder errors come as ValueError/RuntimeError
                msg = str(exc).replace("Failed to open audio file: ", "")
                raise AudioError(f"{path}: cannot decode audio ({msg})") from None
        if self._sf is not None:
            self.samplerate = float(self._sf.samplerate)
            self.num_channels = int(self._sf.channels)
            self.frames = int(self._sf.frames)
            self.subtype = str(self._sf.subtype)
        else:
            self.samplerate = float(self._pb.samplerate)
            self.num_channels = int(self._pb.num_channels)
            self.frames = int(self._pb.frames)
            self.subtype = ""
        self._pos = 0

    def check_not_truncated(self) -> None:
        """Refuse a WAV/AIFF whose header promises more audio than the file holds."""
        if self._sf is None or self.path.suffix.lower() not in (".wav", ".aiff", ".aif", ".wave"):
            return
        from pedalboard.io import AudioFile

        try:
            with AudioFile(str(self.path)) as f:
                claimed = int(f.frames)
        except Exception:  # noqa: BLE001 - pedalboard cannot read the header: nothing to compare
            return
        if claimed > self.frames + 1:
            self.close()
            sr = self.samplerate
            raise AudioError(
                f"{self.path}: truncated: the header says {claimed / sr:.2f} s of audio but the file holds "
                f"{self.frames / sr:.2f} s (an interrupted copy or download?); refusing to pad it with silence"
            )

    def tell(self) -> int:
        return self._pos

    def seek(self, frame: int) -> None:
        frame = int(min(max(frame, 0), self.frames))
        if self._sf is not None:
            self._sf.seek(frame)
        else:
            self._pb.seek(frame)
        self._pos = frame

    def read(self, n: int) -> np.ndarray:
        n = int(max(0, min(n, self.frames - self._pos)))
        try:
            if self._sf is not None:
                block = self._sf.read(n, dtype="float32", always_2d=True).T
            else:
                block = self._pb.read(n)
        except Exception as exc:  # noqa: BLE001 - libsndfile reports corrupt or cut data here
            sr = self.samplerate
            raise AudioError(
                f"{self.path}: truncated or corrupt: decoding failed {self._pos / sr:.2f} s into "
                f"{self.frames / sr:.2f} s ({exc})"
            ) from None
        block = np.ascontiguousarray(block, dtype=np.float32)
        self._pos += block.shape[1]
        return block

    def close(self) -> None:
        for f in (self._sf, self._pb):
            if f is not None:
                with contextlib.suppress(Exception):
                    f.close()

    def __enter__(self) -> _Decoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _open_read(path: str | Path) -> _Decoder:
    p = Path(path)
    if not p.exists():
        raise AudioError(f"{p}: no such file")
    if p.is_dir():
        raise AudioError(f"{p}: is a folder, not an audio file")
    if p.stat().st_size == 0:
        raise AudioError(f"{p}: file is empty (0 bytes)")
    f = _Decoder(p)
    if f.frames == 0 or f.num_channels == 0:
        f.close()
        raise AudioError(f"{p}: contains no audio samples")
    f.check_not_truncated()
    return f


def audio_info(path: str | Path) -> AudioInfo:
    """Read an audio file's header.

    Raises
    ------
    AudioError
        Missing, empty, truncated, corrupt or unsupported file.
    """
    with _open_read(path) as f:
        return AudioInfo(Path(path), f.samplerate, f.num_channels, f.frames, f.subtype)


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
        wav, flac, mp3, ogg or aiff file (MP3s decoded gaplessly).
    sample_rate : float, optional
        Resample to this rate (Hz, soxr HQ). Default: the file's own rate.
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
        Missing, empty, truncated, corrupt or unsupported file; NaN samples.
    """
    with _open_read(path) as f:
        sr = f.samplerate
        start = int(round(max(0.0, offset) * sr))
        if start:
            f.seek(start)
        n = f.frames - f.tell()
        if duration is not None:
            n = min(n, int(round(duration * sr)))
        audio = f.read(max(n, 0))
    if mono and audio.shape[0] > 1:
        audio = audio.mean(axis=0, keepdims=True, dtype=np.float32)
    audio, _ = as_audio(audio, name=str(path))
    if sample_rate is not None and float(sample_rate) != sr:
        target = check_sample_rate(sample_rate)
        return resample(audio, sr, target), float(target)
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


def _decoded_blocks(f: _Decoder, path: str | Path, block_size: int) -> Iterator[np.ndarray]:
    while f.tell() < f.frames:
        block = f.read(block_size)
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

    The temporary file, ``.<stem>.<random>.part<suffix>``, keeps ``path``'s extension (encoders
    pick the format from it). On any exception it is deleted and ``path`` is left as it was.
    """
    import secrets

    out = check_output_path(path, inputs)
    parent = out.parent if str(out.parent) else Path(".")
    # The name is chosen before the file is made (O_EXCL), so an exception raised at any point
    # finds it to delete: Ctrl-C, or SIGTERM raising Terminated. tempfile.mkstemp's name is known
    # only once it returns, and blocking the signals around it did not help in a process with
    # other threads (BLAS's): the kernel hands the signal to one of them, and Python runs the
    # handler in this thread all the same; a dataset worker left a .part.npy that way.
    tmp: Path | None = None
    fd = -1
    try:
        for _ in range(100):
            tmp = parent / f".{out.stem}.{secrets.token_hex(4)}.part{out.suffix}"
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                break
            except FileExistsError:
                tmp = None
            except OSError as exc:  # name the file the user asked for, not the hidden temporary one
                tmp = None
                raise PathError(f"{out}: cannot write ({exc.strerror or exc})") from None
        else:
            raise PathError(f"{out}: cannot write (no free temporary name beside it)")
        os.close(fd)
        fd = -1
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # created 0600; give the file normal permissions
        os.replace(tmp, out)
    except BaseException:
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)
        if tmp is not None:
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


def _write_failure(path: Path, exc: BaseException) -> str:
    """One line for an encoder that could not write ``path`` (a full or read-only disk...)."""
    import shutil

    parent = path.parent if str(path.parent) else Path(".")
    try:
        free = shutil.disk_usage(parent).free
    except OSError:
        free = None
    why = f"no space left on the device ({free} bytes free)" if free is not None and free < 1 << 20 else str(exc)
    return f"{path}: cannot write audio: {why}"


def _check_writable_format(out: Path) -> None:
    if out.suffix.lower() not in WRITABLE_FORMATS:
        raise AudioError(
            f"{out}: cannot write format {out.suffix or '(none)'!r}; "
            f"use one of {', '.join(WRITABLE_FORMATS)}"
        )


def output_bit_depth(path: str | Path, bit_depth: int | None = None, inputs: Iterable[str | Path] = ()) -> int | None:
    """The bit depth an output file gets.

    Parameters
    ----------
    path : str or Path
        The output; only PCM formats (wav, flac, aiff) have a bit depth.
    bit_depth : int, optional
        16, 24 or 32 (32-bit float, wav only: flac and aiff store at most 24). Default: the
        first audio input's bit depth (8-bit inputs give 16), or :data:`DEFAULT_BIT_DEPTH` when
        the inputs are lossy (mp3, ogg) or absent.

    Returns
    -------
    int or None
        ``None`` for lossy formats.

    Raises
    ------
    AudioError
        A bit depth other than 16, 24 or 32.
    """
    suffix = Path(path).suffix.lower()
    if bit_depth is not None and bit_depth not in (16, 24, 32):
        raise AudioError(f"bit depth must be 16, 24 or 32, got {bit_depth}")
    if suffix not in PCM_FORMATS:
        return None
    if bit_depth is None:
        bit_depth = DEFAULT_BIT_DEPTH
        for src in inputs:
            try:
                found = audio_info(src).bit_depth
            except (AudioError, OSError):
                continue
            if found:
                bit_depth = max(16, found)
                break
    return min(bit_depth, _MAX_BITS[suffix])


class _Quantizer:
    """Float blocks ready for an integer PCM encoder.

    Adds TPDF dither of +-1 LSB (two uniform variables; a fixed seed, drawn sample by sample, so
    a file written in blocks is byte-identical to one written whole; none on samples that are
    exactly zero, so digital silence stays silent) and counts samples beyond
    full scale, which the encoder clips; :meth:`report` says so (never silent clipping).
    """

    def __init__(self, path: Path, bits: int | None) -> None:
        self.path = path
        self.integer = bits is not None and bits <= 24
        self.lsb = 2.0 ** (1 - bits) if self.integer and bits else 0.0
        self.rng = np.random.Generator(np.random.PCG64(0x7EC4))
        self.clipped = 0
        self.peak = 0.0

    def __call__(self, block: np.ndarray) -> np.ndarray:
        if not self.integer or block.shape[1] == 0:
            return block
        mag = np.abs(block)
        over = int(np.count_nonzero(mag > 1.0))
        if over:
            self.clipped += over
            self.peak = max(self.peak, float(mag.max()))
        n, ch = block.shape[1], block.shape[0]
        u = self.rng.random((n, ch, 2))  # drawn sample by sample: block splits give the same noise
        tpdf = (u[..., 0] - u[..., 1]).T
        tpdf[block == 0.0] = 0.0  # digital silence stays silent (no dither hiss in gaps and padding)
        return (block + self.lsb * tpdf).astype(np.float32)

    def report(self) -> None:
        if self.clipped:
            from .errors import warn

            warn(f"{self.path}: {self.clipped} samples beyond full scale were clipped on writing (peak "
                 f"{20 * np.log10(self.peak):+.2f} dBFS); lower the level or write 32-bit float (--bit-depth 32)")


def _writer_kwargs(out: Path, quality: str | float | None, bit_depth: int | None) -> dict:
    kwargs: dict = {}
    if quality is not None:
        kwargs["quality"] = quality
    if bit_depth is not None:
        kwargs["bit_depth"] = bit_depth
    return kwargs


def acid_chunk(bpm: float, beats: int, numerator: int = 4, denominator: int = 4, *,
               one_shot: bool = False, stretch: bool = True, root_note: int | None = None) -> bytes:
    """The body of a WAV ``acid`` chunk: the loop's tempo and length, read as the file's tempo
    by Ableton Live, FL Studio, REAPER, Bitwig and ACID.

    Layout (24 bytes, little-endian, as libsndfile reads it): flags (``0x01`` one-shot, ``0x02``
    root note set, ``0x04`` stretch), root note, 2 unknown bytes (``0x8000``), an unknown float,
    number of beats, meter denominator, meter numerator, tempo (BPM, float).
    """
    import struct

    flags = (0x01 if one_shot else 0) | (0x02 if root_note is not None else 0) | (0x04 if stretch else 0)
    return struct.pack("<IHHfIHHf", flags, int(root_note if root_note is not None else 60), 0x8000, 0.0,
                       int(beats), int(denominator), int(numerator), float(bpm))


def wav_chunks(path: str | Path) -> dict[str, bytes]:
    """The chunks of a RIFF WAV file except ``data``: ``{id: body}`` (bodies up to 1 MiB).

    Raises
    ------
    AudioError
        Not a RIFF WAVE file.
    """
    import struct

    out: dict[str, bytes] = {}
    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            raise AudioError(f"{path}: not a RIFF WAVE file")
        while True:
            h = fh.read(8)
            if len(h) < 8:
                return out
            cid, size = h[:4].decode("latin-1"), struct.unpack("<I", h[4:])[0]
            if cid == "data" or size > 1 << 20:
                fh.seek(size + (size & 1), 1)
            else:
                out[cid] = fh.read(size)
                if size & 1:
                    fh.read(1)


def _insert_wav_chunks(path: Path, chunks: dict[str, bytes]) -> None:
    """Rewrite the WAV ``path`` with ``chunks`` before its ``data`` chunk (same-id chunks replaced),
    streaming the audio."""
    import struct

    tmp = path.with_name(path.name + ".chunks")
    try:
        with open(path, "rb") as src, open(tmp, "wb") as dst:
            head = src.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                raise AudioError(f"{path}: cannot add WAV chunks (not a RIFF WAVE file)")
            dst.write(b"RIFF\0\0\0\0WAVE")
            written = False
            while True:
                h = src.read(8)
                if len(h) < 8:
                    break
                cid, size = h[:4], struct.unpack("<I", h[4:])[0]
                padded = size + (size & 1)
                if cid.decode("latin-1") in chunks:
                    src.seek(padded, 1)
                    continue
                if cid == b"data" and not written:
                    for key, body in chunks.items():
                        dst.write(key.encode("latin-1")[:4].ljust(4) + struct.pack("<I", len(body)) + body
                                  + (b"\0" if len(body) & 1 else b""))
                    written = True
                dst.write(h)
                remaining = padded
                while remaining:
                    block = src.read(min(remaining, 1 << 20))
                    if not block:
                        break
                    dst.write(block)
                    remaining -= len(block)
            end = dst.tell()
            if end - 8 > 0xFFFFFFFF:
                raise AudioError(f"{path}: too large for a RIFF WAVE file with extra chunks")
            dst.seek(4)
            dst.write(struct.pack("<I", end - 8))
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_audio(
    path: str | Path,
    audio: np.ndarray,
    sample_rate: float,
    *,
    inputs: Iterable[str | Path] = (),
    quality: str | float | None = None,
    bit_depth: int | None = None,
    chunks: dict[str, bytes] | None = None,
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
        16, 24 or 32 (float) for wav/flac/aiff; default: the first input's (see
        :func:`output_bit_depth`). Integer PCM gets TPDF dither.
    chunks : dict, optional
        WAV only: extra RIFF chunks ``{id: body}`` written before the audio (e.g. ``{"acid":
        acid_chunk(...)}`` for the loop's tempo).

    Returns
    -------
    Path
        ``path``.
    """
    from pedalboard.io import AudioFile

    out = Path(path)
    if chunks and out.suffix.lower() != ".wav":
        raise AudioError(f"{out}: only WAV files take extra chunks ({', '.join(chunks)})")
    _check_writable_format(out)
    data, _ = as_audio(audio, name="audio to write")
    sr = check_sample_rate(sample_rate)
    inputs = list(inputs)
    bits = output_bit_depth(out, bit_depth, inputs)
    prep = _Quantizer(out, bits)
    with atomic_path(out, inputs) as tmp:
        try:
            with AudioFile(str(tmp), "w", sr, data.shape[0], **_writer_kwargs(out, quality, bits)) as f:
                f.write(prep(data))
        except AudioError:
            raise
        except RuntimeError as exc:  # pedalboard: "Unable to write data to audio file."
            raise AudioError(_write_failure(out, exc)) from None
        except Exception as exc:  # noqa: BLE001
            raise AudioError(f"{out}: cannot encode ({exc})") from None
        if chunks:
            _insert_wav_chunks(tmp, chunks)
    prep.report()
    return out


class _PendingAudio:
    """One output being encoded into its hidden temporary file."""

    def __init__(self, path: Path, sample_rate: float, *, inputs: list[Path], quality: str | float | None,
                 bit_depth: int | None, chunks: dict[str, bytes] | None) -> None:
        self.path = path
        _check_writable_format(path)
        if chunks and path.suffix.lower() != ".wav":
            raise AudioError(f"{path}: only WAV files take extra chunks ({', '.join(chunks)})")
        self.sample_rate = sample_rate
        self.inputs = inputs
        self.quality = quality
        self.bit_depth = output_bit_depth(path, bit_depth, inputs)
        self.chunks = chunks
        self.prep = _Quantizer(path, self.bit_depth)
        self.channels: int | None = None
        self.frames = 0
        self._ctx: contextlib.AbstractContextManager | None = None
        self.tmp: Path | None = None
        self._file: Any = None

    def open(self, channels: int) -> None:
        from pedalboard.io import AudioFile

        self._ctx = atomic_path(self.path, self.inputs)
        self.tmp = self._ctx.__enter__()
        self.channels = int(channels)
        try:
            self._file = AudioFile(str(self.tmp), "w", self.sample_rate, self.channels,
                                   **_writer_kwargs(self.path, self.quality, self.bit_depth))
        except Exception as exc:  # noqa: BLE001
            self._ctx.__exit__(type(exc), exc, exc.__traceback__)
            self._ctx = None
            raise AudioError(f"{self.path}: cannot open for writing ({exc})") from None

    def write(self, data: np.ndarray) -> None:
        if data.shape[0] != self.channels:
            raise AudioError(f"{self.path}: block has {data.shape[0]} channels, writer has {self.channels}")
        if data.shape[1]:
            try:
                self._file.write(self.prep(data))
            except RuntimeError as exc:  # pedalboard: "Unable to write data to audio file."
                raise AudioError(_write_failure(self.path, exc)) from None
            except (TechnobError, KeyboardInterrupt):
                raise
            except Exception as exc:  # noqa: BLE001
                raise AudioError(f"{self.path}: cannot encode ({exc})") from None
            self.frames += data.shape[1]

    def close(self) -> None:
        """Finish the temporary file (raises when the last block did not reach the disk)."""
        if self._file is None:
            return
        f, self._file = self._file, None
        try:
            f.close()
        except Exception as exc:  # noqa: BLE001
            raise AudioError(_write_failure(self.path, exc)) from None
        if self.chunks:
            _insert_wav_chunks(self.tmp, self.chunks)

    def commit(self) -> None:
        if self._ctx is not None:
            ctx, self._ctx = self._ctx, None
            ctx.__exit__(None, None, None)  # rename into place
        self.prep.report()

    def abort(self, exc: BaseException) -> None:
        if self._file is not None:
            with contextlib.suppress(Exception):
                self._file.close()
            self._file = None
        if self._ctx is not None:
            ctx, self._ctx = self._ctx, None
            with contextlib.suppress(BaseException):
                ctx.__exit__(type(exc), exc, exc.__traceback__)  # deletes the temporary file


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
        self.sample_rate = check_sample_rate(sample_rate)
        self.channels = int(channels)
        self._out = _PendingAudio(self.path, self.sample_rate, inputs=[Path(p) for p in inputs],
                                  quality=quality, bit_depth=bit_depth, chunks=None)
        self.bit_depth = self._out.bit_depth

    @property
    def frames(self) -> int:
        """Frames written so far."""
        return self._out.frames

    def __enter__(self) -> AtomicAudioWriter:
        self._out.open(self.channels)
        return self

    def write(self, block: np.ndarray) -> None:
        """Append a ``(channels, samples)`` block."""
        data, _ = as_audio(block, name="block to write", allow_empty=True)
        self._out.write(data)

    def __exit__(self, exc_type, exc, tb) -> bool:  # noqa: ANN001
        if exc is not None:
            self._out.abort(exc)
            return False
        try:
            self._out.close()  # never rename a truncated file into place
        except BaseException as close_exc:
            self._out.abort(close_exc)
            raise
        self._out.commit()
        return False
