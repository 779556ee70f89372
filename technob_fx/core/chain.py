"""``Chain``: technob nodes and pedalboard plugins in one processing chain.

pedalboard's ``Pedalboard`` refuses Python-written plugins, so a :class:`Chain` holds both kinds
in any order. Consecutive pedalboard plugins run together as one native ``pedalboard.Pedalboard``
(one call into C++, no per-plugin Python overhead); technob nodes run in between. Consecutive
analyzer nodes share one :class:`~technob_fx.core.frontend.Frontend`, so the STFT and onset envelope
are computed once.

Example
-------
>>> import pedalboard
>>> from technob_fx import Chain
>>> from technob_fx.stages.effects import StereoWidth
>>> chain = Chain([pedalboard.Compressor(threshold_db=-12), StereoWidth(width=1.2),
...                pedalboard.Reverb(room_size=0.3)])
>>> out = chain(audio, 44100)          # doctest: +SKIP
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .audio import all_finite, as_audio, check_sample_rate, restore_layout
from .errors import AudioError, ParameterError, PresetError, TechnobError
from .frontend import Frontend
from .node import ChainRun, Node, ParameterSpec
from .plugins import PluginNode, adopt_plugin, default_name, is_plugin

#: Progress callback: ``callback(fraction_done in [0, 1], message)``.
ProgressCallback = Callable[[float, str], None]

Element = Any  # Node | Chain | pedalboard.Plugin
#: What a chain runs for an element: the node or nested chain itself, a plugin's PluginNode.
Step = Any  # Node | Chain | PluginNode


def as_step(element: Element, name: str = "") -> Step:
    """The chain element that runs ``element``: a node or chain as is, a pedalboard plugin wrapped
    in a :class:`~technob_fx.core.plugins.PluginNode`.

    Raises
    ------
    TechnobError
        Anything else.
    """
    if isinstance(element, (Node, Chain)):
        return element
    if is_plugin(element):
        return PluginNode(element, name)
    raise TechnobError(
        f"chain elements must be technob nodes or pedalboard plugins, got {type(element).__name__}"
    )


@dataclass(frozen=True)
class _Slot:
    """One element of a chain: its unique name, the object the user put in, and what runs it
    (:func:`as_step`: the element itself, or a node around a pedalboard plugin)."""

    name: str
    element: Element
    step: Step


@dataclass
class ChainOutput:
    """What one :meth:`Chain.run` or :meth:`Chain.process_file` produced.

    Attributes
    ----------
    audio : np.ndarray or None
        Processed audio (``None`` when streamed to a file).
    sample_rate : float
        Hz.
    results : dict
        Analyzer results by node name.
    timings : dict
        Seconds spent in each element (native groups are named ``"a+b"``).
    duration : float
        Seconds of audio processed.
    """

    audio: np.ndarray | None
    sample_rate: float
    results: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    duration: float = 0.0

    @property
    def realtime_factor(self) -> float:
        """Seconds of audio per second of processing (``x real time``)."""
        total = sum(self.timings.values())
        return self.duration / total if total > 0 else float("inf")


class Chain:
    """An ordered chain of technob nodes and pedalboard plugins, called like a plugin.

    Parameters
    ----------
    elements : iterable
        :class:`~technob_fx.core.node.Node` instances, nested :class:`Chain` s, and any
        ``pedalboard.Plugin`` (built-in effects, ``load_plugin`` VST3/AU, ``Pedalboard``,
        ``Mix``), in any order.
    names : iterable of str, optional
        Names of the elements (default: node names, snake_case plugin class names; duplicates
        get ``_2``, ``_3``...). Used by ``chain["reverb"]``, ``--set`` and OSC.

    Attributes
    ----------
    results : dict
        Analyzer results of the last run, by node name.
    timings : dict
        Seconds per element for the last run or stream.
    """

    #: Default element name of a nested chain.
    name = "chain"

    def __init__(self, elements: Iterable[Element] = (), names: Iterable[str] | None = None) -> None:
        self._slots: list[_Slot] = []
        self._warned: set[tuple[str, str, float]] = set()  # Nyquist clamps reported
        self._groups: list[tuple[str, list[int], Any]] | None = None
        self.lock = threading.RLock()
        self.results: dict[str, Any] = {}
        self.timings: dict[str, float] = {}
        self.source: Path | None = None  # preset file it came from, if any
        names_list = list(names) if names is not None else None
        for i, element in enumerate(elements):
            self.append(element, name=names_list[i] if names_list else None)

    # -- list-like surface -------------------------------------------------------------------

    def _unique(self, base: str) -> str:
        name, k = base, 2
        while name in self.names:
            name, k = f"{base}_{k}", k + 1
        return name

    def append(self, element: Element, name: str | None = None) -> None:
        """Add an element at the end."""
        self.insert(len(self._slots), element, name)

    def insert(self, index: int, element: Element, name: str | None = None) -> None:
        """Insert an element before ``index``.

        External (VST3/AU) plugins get validated parameters; a mono one runs once per channel
        (see :func:`~technob_fx.core.plugins.adopt_plugin`).
        """
        if is_plugin(element):
            element = adopt_plugin(element, name or default_name(element))
        step = as_step(element)
        if name is not None and name in self.names:
            raise TechnobError(f"duplicate element name {name!r} in chain")
        uname = self._unique(name or step.name)
        step.name = uname
        with self.lock:
            self._slots.insert(index, _Slot(uname, element, step))
            self._groups = None

    def remove(self, key: int | str) -> Element:
        """Remove and return an element by index or name."""
        i = self.index(key)
        with self.lock:
            self._groups = None
            return self._slots.pop(i).element

    def index(self, key: int | str) -> int:
        """Position of an element given by index or name."""
        if isinstance(key, int):
            if not -len(self._slots) <= key < len(self._slots):
                raise IndexError(f"chain has {len(self)} elements; no index {key}")
            return key % len(self._slots)
        names = self.names
        try:
            return names.index(key)
        except ValueError:
            raise ParameterError(
                f"no element named {key!r} in chain; elements: {', '.join(names) or 'none'}"
            ) from None

    def __getitem__(self, key: int | str) -> Element:
        return self._slots[self.index(key)].element

    def __len__(self) -> int:
        return len(self._slots)

    def __iter__(self) -> Iterator[Element]:
        return iter([s.element for s in self._slots])

    @property
    def names(self) -> list[str]:
        """Element names in order."""
        return [s.name for s in self._slots]

    def items(self) -> list[tuple[str, Element]]:
        """``(name, element)`` pairs in order."""
        return [(s.name, s.element) for s in self._slots]

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={type(e).__name__}" for n, e in self.items())
        return f"<Chain [{inner}]>"

    # -- parameters ---------------------------------------------------------------------------

    @property
    def parameters(self) -> dict[str, ParameterSpec | Any]:
        """Every settable parameter as ``"element.param"`` -> spec (nodes) or current value."""
        out: dict[str, Any] = {}
        for slot in self._slots:
            for key, spec in slot.step.parameters.items():
                out[f"{slot.name}.{key}"] = spec
        return out

    def set_parameter(self, path: str, value: Any) -> None:
        """Set ``"element.param"`` (validated). Takes effect from the next block.

        Raises
        ------
        ParameterError
            Unknown element or parameter, bad value.
        """
        if "." not in path:
            raise ParameterError(f"parameter {path!r} must be written element.param")
        name, key = path.split(".", 1)
        step = self._slots[self.index(name)].step
        with self.lock:
            step.set_parameter(key, value)

    def get_parameter(self, path: str) -> Any:
        """Current value of ``"element.param"``."""
        if "." not in path:
            raise ParameterError(f"parameter {path!r} must be written element.param")
        name, key = path.split(".", 1)
        return self._slots[self.index(name)].step.get_parameter(key)

    # -- processing ---------------------------------------------------------------------------

    def _compile(self) -> list[tuple[str, list[int], Step]]:
        """``(name, element indices, step)`` to run: consecutive pedalboard plugins as one
        :class:`~technob_fx.core.plugins.PluginNode` around a native ``Pedalboard``."""
        if self._groups is not None:
            return self._groups
        import pedalboard

        groups: list[tuple[str, list[int], Step]] = []
        run: list[int] = []

        def flush() -> None:
            if len(run) == 1:
                slot = self._slots[run[0]]
                groups.append((slot.name, list(run), slot.step))
            elif run:
                name = "+".join(self._slots[j].name for j in run)
                members = [(self._slots[j].name, self._slots[j].element) for j in run]
                native = pedalboard.Pedalboard([p for _, p in members])
                groups.append((name, list(run), PluginNode(native, name, members)))
            run.clear()

        for i, slot in enumerate(self._slots):
            if isinstance(slot.step, PluginNode):
                run.append(i)
            else:
                flush()
                groups.append((slot.name, [i], slot.step))
        flush()
        self._groups = groups
        return groups

    def reset(self) -> None:
        """Clear the state of every element (pedalboard plugins included)."""
        for slot in self._slots:
            slot.step.reset()
        self.results = {}
        self.timings = {}

    def __call__(
        self,
        input_array: np.ndarray,
        sample_rate: float,
        buffer_size: int = 8192,
        reset: bool = True,
    ) -> np.ndarray:
        return self.process(input_array, sample_rate, buffer_size, reset)

    def process(
        self,
        input_array: np.ndarray,
        sample_rate: float,
        buffer_size: int = 8192,
        reset: bool = True,
    ) -> np.ndarray:
        """Run the chain like ``pedalboard.Pedalboard.process``.

        Parameters
        ----------
        input_array : np.ndarray, shape ``(channels, samples)`` or ``(samples,)``
            Never modified.
        sample_rate : float
            Hz.
        buffer_size : int
            Block size handed to pedalboard plugins.
        reset : bool
            ``True``: whole-buffer processing (state cleared, analyzers analyse this buffer).
            ``False``: the next block of a stream (analyzers accumulate; call :meth:`finalize`
            at the end).

        Returns
        -------
        np.ndarray, float32, same layout as the input.
        """
        sr = check_sample_rate(sample_rate)
        audio, was_mono = as_audio(input_array, name="chain input", allow_empty=not reset)
        out = self._process(audio, sr, buffer_size, reset)
        return restore_layout(out, was_mono)

    def _process(self, audio: np.ndarray, sr: float, buffer_size: int, reset: bool,
                 frontend: Frontend | None = None, provided: dict[str, Any] | None = None,
                 progress: ProgressCallback | None = None) -> np.ndarray:
        """Run every element on one buffer or block.

        ``frontend`` is a front-end of ``audio`` to share (made when absent or when an effect
        changed the audio); ``provided`` collects the analyzers' results by their
        :attr:`~technob_fx.core.node.AnalyzerNode.provides` name and feeds their ``needs``
        (nested chains share it). ``progress(fraction, element name)`` is called before each
        element (a native group counts as one).
        """
        with self.lock:
            if reset:
                self.results = {}
                self.timings = {}
            run = ChainRun(self.results, {} if provided is None else provided, frontend, self._warned)
            groups = self._compile()
            for k, (name, _idx, step) in enumerate(groups):
                if progress is not None:
                    progress(k / len(groups), name)
                t0 = time.perf_counter()
                out = step._step(name, audio, sr, buffer_size, reset, run)
                self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - t0
                if out.ndim == 1:
                    out = out[np.newaxis, :]
                if out.dtype != np.float32 or not out.flags.c_contiguous:  # the next element's input
                    out = np.ascontiguousarray(out, dtype=np.float32)
                if out is not audio and not all_finite(out):
                    raise AudioError(f"{name} produced NaN or infinite samples")
                audio = out
        return audio

    @property
    def latency(self) -> int:
        """Total streaming delay of the technob nodes in the chain, samples.

        pedalboard plugins compensate their own latency and count as 0.
        """
        return sum(int(slot.step.latency) for slot in self._slots)

    def finalize(self, provided: dict[str, Any] | None = None) -> dict[str, Any]:
        """End a stream: compute the results of analyzers fed with ``reset=False`` blocks.

        Analyzers finish in chain order, each given the earlier results it needs (``provided``,
        as in :meth:`_process`).
        """
        with self.lock:
            run = ChainRun(self.results, {} if provided is None else provided, None, self._warned)
            for slot in self._slots:
                slot.step._finish(slot.name, run)
            return dict(self.results)

    # -- as an element of another chain ----------------------------------------------------------

    def _step(self, name: str, audio: np.ndarray, sr: float, buffer_size: int, reset: bool,
              run: ChainRun) -> np.ndarray:
        """One call as a nested element: its results come out as ``"name.element"``."""
        out = self._process(audio, sr, buffer_size, reset, run.frontend, run.provided)
        for key, value in self.results.items():
            run.results[f"{name}.{key}"] = value
        return out

    def _finish(self, name: str, run: ChainRun) -> None:
        """The end of a stream as a nested element."""
        for key, value in self.finalize(run.provided).items():
            run.results[f"{name}.{key}"] = value

    def run(
        self, input_array: np.ndarray, sample_rate: float, buffer_size: int = 8192, *,
        frontend: Frontend | None = None, progress: ProgressCallback | None = None,
    ) -> ChainOutput:
        """Process a whole buffer and return audio, results and per-element timing.

        ``frontend``: a :class:`~technob_fx.core.frontend.Frontend` of ``input_array`` (its
        ``audio`` is that very array) for the analyzers to share, e.g. one streamed from a file
        with :func:`~technob_fx.stages.analysis.load_frontend`. ``progress(fraction, element
        name)`` is called before each element.
        """
        sr = check_sample_rate(sample_rate)
        audio, was_mono = as_audio(input_array, name="chain input")
        out = restore_layout(self._process(audio, sr, buffer_size, True, frontend, progress=progress), was_mono)
        n = out.shape[-1]
        return ChainOutput(out, float(sample_rate), dict(self.results), dict(self.timings), n / float(sample_rate))

    def process_file(
        self,
        input_path: str | Path,
        output_path: str | Path | None,
        *,
        block_size: int = 65536,
        sample_rate: float | None = None,
        buffer_size: int = 8192,
        progress: ProgressCallback | None = None,
        quality: str | float | None = None,
        bit_depth: int | None = None,
    ) -> ChainOutput:
        """Stream a file through the chain block by block with bounded memory.

        Parameters
        ----------
        input_path : path
            Audio file to read (never modified).
        output_path : path or None
            Where to write the result (atomically). ``None`` to only analyse.
        block_size : int
            Samples per block read from the file.
        sample_rate : float, optional
            Resample the input to this rate first (Hz).
        buffer_size : int
            Block size handed to pedalboard plugins.
        progress : callable, optional
            ``progress(fraction, message)`` after each block.

        Returns
        -------
        ChainOutput
            ``audio`` is ``None``; ``results`` holds the analyzers' results of the whole stream.

        Notes
        -----
        Nodes with a streaming :attr:`latency` (e.g. HPSS) are compensated: the chain is fed
        ``latency`` samples of silence at the end and the first ``latency`` output samples are
        dropped, so the file is aligned with the input and as long as it. Analyzers placed after
        such a node see the delayed signal.
        """
        from .io import audio_info
        from .runner import per_block, run_file

        sr = check_sample_rate(sample_rate if sample_rate is not None else audio_info(input_path).sample_rate)
        self.reset()  # the one file runner streams, compensates latency and writes atomically
        rep = run_file(input_path, per_block(lambda b: self._process(b, sr, buffer_size, reset=False)),
                       None if output_path is None else {"out": output_path}, block_size=block_size,
                       sample_rate=sample_rate, latency=self.latency, progress=progress, finish=self.finalize,
                       quality=quality, bit_depth=bit_depth)
        return ChainOutput(None, sr, rep.result, dict(self.timings), rep.duration)

    def timing_report(self, duration: float | None = None) -> str:
        """Per-element timing of the last run as text (with x real time when ``duration``)."""
        lines = []
        for name, secs in self.timings.items():
            rt = f"  {duration / secs:8.1f}x real time" if duration and secs > 0 else ""
            lines.append(f"{name:32s} {secs * 1000:9.1f} ms{rt}")
        return "\n".join(lines)

    # -- presets ------------------------------------------------------------------------------

    @classmethod
    def from_preset(cls, name_or_path: str | Path, overrides: dict[str, Any] | None = None, *,
                    check_path: Callable[[Path, str], Path] | None = None) -> Chain:
        """Build a chain from a preset name (see ``technob presets list``) or a TOML file.

        ``overrides`` maps ``"element.param"`` to values applied after loading; ``check_path``
        vets the plugin and impulse files the preset names (:func:`presets.build_elements`).
        """
        from .presets import build_elements, read_preset, resolve_preset

        path = resolve_preset(name_or_path)
        chain = cls()
        for element, name, where in build_elements(read_preset(path), path, check_path=check_path):
            try:
                chain.append(element, name=name)
            except TechnobError as exc:
                raise PresetError(f"{where}: {exc}") from None
        chain.source = path
        for key, value in (overrides or {}).items():
            try:
                chain.set_parameter(key, value)
            except ParameterError as exc:
                raise PresetError(f"{path}: override {key}={value!r}: {exc}") from None
        return chain

    def to_preset(self, path: str | Path, *, description: str = "") -> Path:
        """Write this chain as a TOML preset (atomically) that :meth:`from_preset` reads back."""
        import tomli_w

        from .io import atomic_write_text
        from .presets import elements_to_dict

        path = Path(path)
        for name, el in self.items():
            if isinstance(el, Chain):
                raise PresetError(f"element {name!r}: nested chains cannot be saved as presets yet")
        data = elements_to_dict(self.items(), name=path.stem, description=description)
        return atomic_write_text(path, tomli_w.dumps(data))


def load_preset(name_or_path: str | Path, overrides: dict[str, Any] | None = None) -> Chain:
    """Load a preset by shipped name or file path (the same as :meth:`Chain.from_preset`).

    Parameters
    ----------
    name_or_path : str or Path
        ``"techno_master"``, ``"lofi"``... or a ``.toml`` file.
    overrides : dict, optional
        ``{"element.param": value}`` applied after building (e.g. from ``--set``).

    Returns
    -------
    Chain

    Raises
    ------
    PresetError
        Bad file, unknown type/parameter, value out of range, missing plugin file; the message
        names the file and the key.
    """
    return Chain.from_preset(name_or_path, overrides=overrides)
