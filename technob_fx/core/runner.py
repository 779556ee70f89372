"""The one file runner: stream a file through a transform into several named outputs.

Every command that turns an audio file into audio files (``render`` through
:meth:`~technob_fx.core.chain.Chain.process_file`, ``separate`` with HPSS or demucs, ``quantize``,
``dataset build``) goes through this module, so that they share one implementation of

* **streaming**: the input is decoded block by block (resampled and channel-matched on the fly)
  with bounded memory;
* **latency compensation**: a transform that delays its output by ``latency`` samples is fed that
  much silence at the end and its first ``latency`` output samples are dropped, so every output is
  aligned with the input and exactly as long as it;
* **atomic, all-or-nothing writing** (:class:`AudioOutputs`): every output is encoded to a hidden
  ``.part`` file beside its destination; only when all of them are complete are they renamed into
  place. An exception -- a bad block, a full disk, Ctrl-C, SIGTERM (see :func:`signals_as_exceptions`),
  a cancellation -- deletes the temporaries and removes the folders the run created;
* **progress** (``progress(fraction, message)`` once per input block), **cancellation** (a
  callable or :class:`threading.Event` checked before each block; raises :class:`Cancelled`) and
  **timing** (:class:`RunReport`: read, process and write seconds, x real time).
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import AudioError, PathError, TechnobError
from .io import _PendingAudio
from .progress import ProgressCallback

#: A stream transform: input blocks ``(channels, n)`` in, output blocks out. An output block is
#: ``(channels, n)`` for a single output, or ``(outputs, channels, n)`` / ``{name: (channels, n)}``
#: for several. Output blocks need not line up with input blocks.
Transform = Callable[[Iterator[np.ndarray]], Iterator[Any]]

#: ``cancel`` argument: a callable returning True, or an object with ``is_set()`` (a threading.Event).
CancelCheck = Callable[[], bool] | threading.Event


class Cancelled(TechnobError):
    """The run was cancelled through its ``cancel`` check; nothing was written."""


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived (inside :func:`signals_as_exceptions`).

    A :class:`KeyboardInterrupt`, so every ``with`` block and ``except BaseException`` cleanup on
    the way out runs exactly as for Ctrl-C; the CLI exits with status 143 (128 + SIGTERM).
    """

    def __init__(self, signum: int = signal.SIGTERM) -> None:
        super().__init__(f"terminated by signal {signum}")
        self.signum = signum


def _raise_terminated(signum: int, frame: Any) -> None:  # noqa: ARG001 - signal handler signature
    raise Terminated(signum)


@contextlib.contextmanager
def signals_as_exceptions() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` in the main thread (Ctrl-C already
    raises :class:`KeyboardInterrupt`), so temporary files are cleaned up instead of being left
    behind by a killed process. Does nothing outside the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def install_worker_signals() -> None:
    """Worker-process initializer: SIGTERM raises :class:`Terminated` there too (so a worker told
    to stop deletes its temporary files), and SIGINT stays a :class:`KeyboardInterrupt`."""
    signal.signal(signal.SIGTERM, _raise_terminated)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def check_cancel(cancel: CancelCheck | None) -> None:
    """Raise :class:`Cancelled` when ``cancel`` says so (``None`` never cancels)."""
    if cancel is None:
        return
    flag = cancel.is_set() if hasattr(cancel, "is_set") else cancel()
    if flag:
        raise Cancelled("cancelled")


# --------------------------------------------------------------------------------------------
# Folders
# --------------------------------------------------------------------------------------------


def _missing_parents(folder: Path) -> list[Path]:
    """``folder`` and its ancestors that do not exist yet, deepest first."""
    out: list[Path] = []
    p = Path(folder)
    while not p.exists() and p != p.parent:
        out.append(p)
        p = p.parent
    return out


def remove_new_folders(created: Iterable[Path]) -> None:
    """Remove the given folders (deepest first) where they hold no file: folders a failed run
    created are not left behind, empty."""
    for d in sorted({Path(p) for p in created}, key=lambda p: len(p.parts), reverse=True):
        if not d.is_dir():
            continue
        with contextlib.suppress(OSError):
            if any(p.is_file() or p.is_symlink() for p in d.rglob("*")):
                continue
            for sub in sorted(d.rglob("*"), key=lambda p: len(p.parts), reverse=True):
                sub.rmdir()
            d.rmdir()


@contextlib.contextmanager
def new_folders(*folders: str | Path | None) -> Iterator[list[Path]]:
    """Note which of ``folders`` (and their parents) do not exist yet; if the block raises
    anything (including Ctrl-C and :class:`Terminated`), remove those of them that hold no file.

    Yields the list of folders that were missing (deepest first). Creates nothing itself.
    """
    created = [p for f in folders if f is not None for p in _missing_parents(Path(f))]
    try:
        yield created
    except BaseException:
        remove_new_folders(created)
        raise


# --------------------------------------------------------------------------------------------
# Outputs
# --------------------------------------------------------------------------------------------


class AudioOutputs:
    """Several named audio files written together: all of them appear, or none.

    Use as a context manager. Each output is encoded into a hidden ``.part`` file beside it and
    opened on its first block (its channel count is that block's). On a clean exit every file is
    finished first and only then renamed into place; on any exception (including Ctrl-C and
    :class:`Terminated`) all temporaries are deleted and the folders created for the outputs are
    removed when they hold no file.

    Parameters
    ----------
    paths : mapping of str -> path
        Output name -> file; the format follows each extension (wav, flac, mp3, ogg, aiff).
    sample_rate : float
        Hz, shared by all outputs.
    inputs : iterable of paths
        Files no output may overwrite; the first audio one sets the default bit depth.
    quality : str or float, optional
        Encoder quality (mp3 VBR level, ogg quality).
    bit_depth : int, optional
        16, 24 or 32 for wav/flac/aiff (default: the first input's; see
        :func:`~technob_fx.core.io.output_bit_depth`). Integer PCM gets TPDF dither.
    chunks : mapping of str -> dict, optional
        Extra RIFF chunks per output name (WAV only), e.g. ``{"out": {"acid": ...}}``.
    make_folders : bool
        Create missing output folders (and remove them again on failure).

    Raises
    ------
    PathError
        An output would overwrite an input, two outputs share a path, or (without
        ``make_folders``) an output folder is missing.
    AudioError
        A format that cannot be written, or a bad bit depth.
    """

    def __init__(
        self,
        paths: Mapping[str, str | Path],
        sample_rate: float,
        *,
        inputs: Iterable[str | Path] = (),
        quality: str | float | None = None,
        bit_depth: int | None = None,
        chunks: Mapping[str, dict[str, bytes] | None] | None = None,
        make_folders: bool = False,
    ) -> None:
        from .audio import check_sample_rate
        from .io import check_output_path

        self.paths = {name: Path(p) for name, p in paths.items()}
        if len({p.resolve() for p in self.paths.values()}) != len(self.paths):
            raise PathError("two outputs have the same path")
        self.sample_rate = check_sample_rate(sample_rate)
        self.inputs = [Path(p) for p in inputs]
        self.make_folders = make_folders
        self._folders = [p.parent if str(p.parent) else Path(".") for p in self.paths.values()]
        for p, parent in zip(self.paths.values(), self._folders, strict=True):
            if make_folders and parent.exists() and not parent.is_dir():
                raise PathError(f"{parent}: exists and is not a folder")
            if not make_folders:
                check_output_path(p, self.inputs)
        self._pending = {name: _PendingAudio(p, self.sample_rate, inputs=self.inputs, quality=quality,
                                             bit_depth=bit_depth, chunks=(chunks or {}).get(name))
                         for name, p in self.paths.items()}
        self._created: list[Path] = []
        self.entered = False
        self.seconds = 0.0  # time spent encoding

    @property
    def names(self) -> list[str]:
        """Output names, in order."""
        return list(self.paths)

    def __enter__(self) -> AudioOutputs:
        from .io import check_output_path

        if self.make_folders:
            self._created = [p for f in self._folders for p in _missing_parents(f)]
            try:
                for f in self._folders:
                    f.mkdir(parents=True, exist_ok=True)
                for p in self.paths.values():
                    check_output_path(p, self.inputs)
            except BaseException:
                remove_new_folders(self._created)
                raise
        self.entered = True
        return self

    def write(self, name: str, block: np.ndarray) -> None:
        """Append a ``(channels, samples)`` block to output ``name``."""
        from .audio import as_audio

        out = self._pending[name]
        data, _ = as_audio(block, name=f"{name} block to write", allow_empty=True)
        if data.shape[1] == 0:
            return
        t0 = time.perf_counter()
        if out.channels is None:
            out.open(data.shape[0])
        out.write(data)
        self.seconds += time.perf_counter() - t0

    def write_all(self, block: np.ndarray | Mapping[str, np.ndarray]) -> None:
        """Append one block to every output: ``(outputs, channels, n)`` in :attr:`names` order,
        ``(channels, n)`` when there is one output, or ``{name: (channels, n)}``."""
        if isinstance(block, Mapping):
            for name, b in block.items():
                self.write(name, b)
            return
        arr = np.asarray(block)
        if len(self._pending) == 1 and arr.ndim <= 2:
            self.write(self.names[0], arr)
            return
        if arr.ndim != 3 or arr.shape[0] != len(self._pending):
            raise AudioError(f"expected {len(self._pending)} outputs per block, got shape {arr.shape}")
        for name, b in zip(self.names, arr, strict=True):
            self.write(name, b)

    def __exit__(self, exc_type, exc, tb) -> bool:  # noqa: ANN001
        if exc_type is None:
            try:
                t0 = time.perf_counter()
                for out in self._pending.values():  # finish every file before any appears
                    out.close()
                for out in self._pending.values():
                    out.commit()
                self.seconds += time.perf_counter() - t0
                return False
            except BaseException as err:
                exc = err
                self._abort(err)
                raise
        self._abort(exc)
        return False

    def _abort(self, exc: BaseException) -> None:
        for out in self._pending.values():
            out.abort(exc)
        remove_new_folders(self._created)


# --------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------


@dataclass
class RunReport:
    """What a run did and how long it took.

    Attributes
    ----------
    paths : dict of str -> Path
        Written outputs by name (empty when nothing was written).
    frames : int
        Input samples (per channel) consumed, at :attr:`sample_rate`.
    sample_rate : float
        Rate of the stream, Hz.
    seconds : float
        Wall time of the run.
    timings : dict of str -> float
        Seconds spent ``read`` (decoding, resampling), ``process`` (the transform) and ``write``
        (encoding).
    result : object
        What the ``finish`` callback returned (``None`` without one).
    """

    paths: dict[str, Path]
    frames: int
    sample_rate: float
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)
    result: Any = None

    @property
    def duration(self) -> float:
        """Seconds of input audio."""
        return self.frames / self.sample_rate if self.sample_rate else 0.0

    @property
    def x_realtime(self) -> float:
        """Seconds of audio per second of wall time."""
        return self.duration / self.seconds if self.seconds > 0 else float("inf")


def per_block(fn: Callable[[np.ndarray], Any]) -> Transform:
    """A :data:`Transform` that applies ``fn`` to each block."""

    def transform(blocks: Iterator[np.ndarray]) -> Iterator[Any]:
        for block in blocks:
            yield fn(block)

    return transform


def _trim(y: Any, start: int, stop: int) -> Any:
    """Samples ``start:stop`` (last axis) of an output block, an array or a dict of arrays."""
    if isinstance(y, Mapping):
        return {k: v[..., start:stop] for k, v in y.items()}
    return y[..., start:stop]


def _length(y: Any) -> int:
    if isinstance(y, Mapping):
        return min((v.shape[-1] for v in y.values()), default=0)
    return int(y.shape[-1])


def run_stream(
    blocks: Iterable[np.ndarray],
    transform: Transform,
    outputs: AudioOutputs | None,
    *,
    sample_rate: float,
    latency: int = 0,
    flush_block: int = 65536,
    total: int | None = None,
    progress: ProgressCallback | None = None,
    message: Callable[[int, int], str] | None = None,
    cancel: CancelCheck | None = None,
    finish: Callable[[], Any] | None = None,
) -> RunReport:
    """Run a stream of blocks through ``transform`` into ``outputs`` (see the module docs).

    Parameters
    ----------
    blocks : iterable of np.ndarray ``(channels, n)``
        The input stream.
    transform : Transform
        Input blocks in, output blocks out (:func:`per_block` wraps a block function).
    outputs : AudioOutputs or None
        Where output blocks go (already entered, or entered here when not); ``None`` drains the
        transform without writing (analysis only).
    sample_rate : float
        Rate of the stream, Hz (for timing and messages).
    latency : int
        Samples by which ``transform`` delays its output: that much silence is fed after the
        input (in blocks of at most ``flush_block``), the first ``latency`` output samples are
        dropped and the output is cut to the input's length.
    total : int, optional
        Expected input samples (for progress fractions).
    progress : callable, optional
        ``progress(fraction, message)`` after each input block has gone through.
    message : callable, optional
        ``message(done, total)`` -> progress text (default ``"12.3/45.6 s"``).
    cancel : callable or threading.Event, optional
        Checked before each block; when set the run raises :class:`Cancelled` and writes
        nothing.
    finish : callable, optional
        Called once the stream is done, before the outputs are renamed into place (an error
        there still writes nothing); its return value is :attr:`RunReport.result`.

    Returns
    -------
    RunReport
    """
    t_start = time.perf_counter()
    state = {"done": 0, "read": 0.0, "channels": 1}
    tot = max(int(total or 0), 1)

    def text(done: int) -> str:
        if message is not None:
            return message(done, tot)
        return f"{done / sample_rate:.1f}/{tot / sample_rate:.1f} s"

    def source() -> Iterator[np.ndarray]:
        it = iter(blocks)
        while True:
            check_cancel(cancel)
            t0 = time.perf_counter()
            try:
                block = next(it)
            except StopIteration:
                state["read"] += time.perf_counter() - t0
                break
            state["read"] += time.perf_counter() - t0
            state["channels"] = block.shape[0]
            state["done"] += block.shape[1]
            yield block
            if progress is not None:
                progress(min(state["done"] / tot, 1.0), text(state["done"]))
        pending = latency
        while pending > 0:  # flush a delaying transform: feed silence, keep what is due
            n = min(pending, flush_block)
            yield np.zeros((state["channels"], n), np.float32)
            pending -= n

    skip = latency
    written = 0
    entered = False
    try:
        if outputs is not None and not outputs.entered:
            outputs.__enter__()
            entered = True
        for y in transform(source()):
            # Drop the first `latency` output samples and emit at most the input consumed so far,
            # so the outputs are aligned with the input and as long as it.
            n = _length(y)
            cut = min(skip, n)
            skip -= cut
            keep = min(n, cut + max(state["done"] - written, 0))
            if cut or keep < n:
                y = _trim(y, cut, keep)
            n = keep - cut
            if n == 0:
                continue
            written += n
            if outputs is not None:
                outputs.write_all(y)
        check_cancel(cancel)
        result = finish() if finish is not None else None
    except BaseException as exc:
        if entered:
            outputs.__exit__(type(exc), exc, exc.__traceback__)  # type: ignore[union-attr]
        raise
    if entered:
        outputs.__exit__(None, None, None)  # type: ignore[union-attr]
    seconds = time.perf_counter() - t_start
    write_s = outputs.seconds if outputs is not None else 0.0
    timings = {"read": state["read"], "write": write_s,
               "process": max(seconds - state["read"] - write_s, 0.0)}
    paths = dict(outputs.paths) if outputs is not None else {}
    return RunReport(paths, state["done"], float(sample_rate), seconds, timings, result)


def run_file(
    path: str | Path,
    transform: Transform,
    outputs: AudioOutputs | Mapping[str, str | Path] | None,
    *,
    block_size: int = 65536,
    sample_rate: float | None = None,
    channels: int | None = None,
    latency: int = 0,
    progress: ProgressCallback | None = None,
    message: Callable[[int, int], str] | None = None,
    cancel: CancelCheck | None = None,
    finish: Callable[[], Any] | None = None,
    bit_depth: int | None = None,
    quality: str | float | None = None,
    make_folders: bool = False,
) -> RunReport:
    """Stream an audio file through ``transform`` into named outputs, atomically.

    Parameters
    ----------
    path : str or Path
        Input audio (never modified; no output may overwrite it).
    transform : Transform
        See :func:`run_stream`.
    outputs : AudioOutputs, mapping of str -> path, or None
        The outputs; a mapping is opened as :class:`AudioOutputs` at the stream's rate with
        ``bit_depth``, ``quality`` and ``make_folders``. ``None`` = analyse only.
    block_size : int
        Samples per block read.
    sample_rate : float, optional
        Resample the input to this rate (Hz) on the fly.
    channels : int, optional
        Up/down-mix every block to this many channels.
    latency, progress, message, cancel, finish
        See :func:`run_stream`.
    bit_depth, quality, make_folders
        For a mapping of outputs, see :class:`AudioOutputs`.

    Returns
    -------
    RunReport
    """
    from .audio import check_sample_rate, match_channels
    from .io import audio_info, stream_audio

    info = audio_info(path)
    sr = check_sample_rate(sample_rate if sample_rate is not None else info.sample_rate)
    total = max(int(round(info.frames * sr / info.sample_rate)), 1)
    if isinstance(outputs, Mapping):  # AudioOutputs checks every path against the input
        outputs = AudioOutputs(outputs, sr, inputs=[path], quality=quality, bit_depth=bit_depth,
                               make_folders=make_folders)
    blocks: Iterable[np.ndarray] = stream_audio(path, block_size, sample_rate=sample_rate)
    if channels is not None:
        blocks = (match_channels(b, channels) for b in blocks)
    return run_stream(blocks, transform, outputs, sample_rate=sr, latency=latency, flush_block=block_size,
                      total=total, progress=progress, message=message, cancel=cancel, finish=finish)

